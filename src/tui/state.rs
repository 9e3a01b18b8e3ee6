//! The dashboard's state: a plain struct changed only by control-socket messages and key
//! presses, so it is tested without a terminal.

use crate::control::Message;
use crate::pipeline::misses::Why;
use crate::telemetry::stats::Snapshot;

/// What a key press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Quit,
    Pause,
    Reset,
    Up,
    Down,
    /// Show why the last request missed instead of the recent requests (and back).
    Why,
    /// Show the provider's prompt cache per session instead of the recent requests (and back).
    Sessions,
    Other,
}

/// What the lower panel shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Panel {
    #[default]
    Recent,
    Why,
    Sessions,
}

#[derive(Debug, Default)]
pub struct App {
    /// The daemon's address, once connected.
    pub addr: Option<String>,
    pub snapshot: Option<Snapshot>,
    /// Why the daemon cannot be reached, while it cannot.
    pub offline: Option<String>,
    /// Frozen view: messages are still read but not shown.
    pub paused: bool,
    /// First row of the recent-requests list that is shown.
    pub scroll: usize,
    /// Requests already counted when the view was reset (`r`).
    pub baseline: u64,
    /// What the lower panel shows: recent requests, why the last miss missed (`w`), or the
    /// provider's cache per session (`s`).
    pub panel: Panel,
    /// The daemon's latest explanation of the last miss, or why it has none.
    pub why: Option<Result<Why, String>>,
}

impl App {
    pub fn connected(&mut self, addr: String) {
        self.addr = Some(addr);
        self.offline = None;
    }

    pub fn disconnected(&mut self, why: String) {
        self.offline = Some(why);
    }

    pub fn apply(&mut self, message: Message) {
        if self.paused {
            return;
        }
        match message {
            Message::Snapshot(s) => self.snapshot = Some(*s),
            Message::Cache { answer, error } => {
                self.why = match (answer, error) {
                    (Some(a), _) => Some(serde_json::from_value(a).map_err(|e| e.to_string())),
                    (None, Some(e)) => Some(Err(e)),
                    (None, None) => None,
                }
            }
            _ => {}
        }
    }

    /// Handles a key; returns false when the dashboard should close.
    pub fn key(&mut self, key: Key) -> bool {
        match key {
            Key::Quit => return false,
            Key::Pause => self.paused = !self.paused,
            Key::Reset => {
                self.scroll = 0;
                self.baseline = self.snapshot.as_ref().map_or(0, |s| s.requests);
            }
            Key::Up => self.scroll = self.scroll.saturating_sub(1),
            Key::Down => {
                let rows = self.snapshot.as_ref().map_or(0, |s| s.recent.len());
                self.scroll = (self.scroll + 1).min(rows.saturating_sub(1));
            }
            Key::Why => self.panel = self.toggled(Panel::Why),
            Key::Sessions => self.panel = self.toggled(Panel::Sessions),
            Key::Other => {}
        }
        true
    }

    /// `panel`, or back to the recent requests when it is already shown.
    fn toggled(&self, panel: Panel) -> Panel {
        if self.panel == panel {
            Panel::Recent
        } else {
            panel
        }
    }

    /// Requests per second over the last full second.
    pub fn rate(&self) -> u64 {
        self.snapshot
            .as_ref()
            .and_then(|s| s.per_second.iter().rev().nth(1).or(s.per_second.last()))
            .map_or(0, |s| s.requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::stats::{Recent, Second};

    fn snapshot(requests: u64) -> Message {
        let recent = (0..5)
            .map(|i| Recent {
                at_ms: i,
                client: "curl".into(),
                surface: "gateway".into(),
                layer: None,
                latency_micros: 1,
                status: 200,
                preview: String::new(),
            })
            .collect();
        Message::Snapshot(Box::new(Snapshot {
            requests,
            recent,
            per_second: vec![
                Second {
                    unix: 1,
                    requests: 7,
                    deflected: 3,
                },
                Second {
                    unix: 2,
                    requests: 2,
                    deflected: 1,
                },
            ],
            ..Snapshot::default()
        }))
    }

    #[test]
    fn snapshots_update_unless_paused_and_keys_move_and_quit() {
        let mut app = App::default();
        app.apply(snapshot(3));
        assert_eq!(app.snapshot.as_ref().unwrap().requests, 3);
        assert_eq!(app.rate(), 7, "the last *full* second");
        assert!(app.key(Key::Pause));
        app.apply(snapshot(9));
        assert_eq!(app.snapshot.as_ref().unwrap().requests, 3, "paused");
        app.key(Key::Pause);
        app.apply(snapshot(9));
        for _ in 0..10 {
            app.key(Key::Down);
        }
        assert_eq!(app.scroll, 4, "stops at the last row");
        app.key(Key::Up);
        assert_eq!(app.scroll, 3);
        app.key(Key::Reset);
        assert_eq!((app.scroll, app.baseline), (0, 9));
        app.key(Key::Why);
        assert_eq!(app.panel, Panel::Why);
        app.key(Key::Sessions);
        assert_eq!(app.panel, Panel::Sessions, "one panel at a time");
        app.key(Key::Sessions);
        assert_eq!(app.panel, Panel::Recent, "the same key goes back");
        assert!(!app.key(Key::Quit));
    }
}
