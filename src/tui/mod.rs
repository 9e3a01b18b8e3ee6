//! `isartor top`: a live dashboard of the daemon, fed by its control socket. [`state`] is a
//! plain struct changed by messages and keys; [`view`] draws it; this module owns the terminal
//! (restored on exit, error and panic by ratatui) and the loop that reconnects when the daemon
//! is away or restarts.

pub mod state;
pub mod view;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use tokio::sync::mpsc;

use crate::control::client::Subscription;
use crate::control::{Command, Message};
use crate::pipeline::manage::CacheCommand;
use state::{App, Key};

/// Runs the dashboard until the user quits.
pub fn run(socket: &Path) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut terminal = ratatui::init();
    let result = runtime.block_on(event_loop(&mut terminal, socket));
    ratatui::restore();
    result
}

fn key_of(code: KeyCode, modifiers: KeyModifiers) -> Key {
    match code {
        KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => Key::Quit,
        KeyCode::Char('q') | KeyCode::Esc => Key::Quit,
        KeyCode::Char('p') => Key::Pause,
        KeyCode::Char('r') => Key::Reset,
        KeyCode::Up | KeyCode::Char('k') => Key::Up,
        KeyCode::Down | KeyCode::Char('j') => Key::Down,
        KeyCode::Char('w') => Key::Why,
        KeyCode::Char('s') => Key::Sessions,
        _ => Key::Other,
    }
}

/// Terminal events, read on their own thread (crossterm's reads block).
fn keys(stop: Arc<AtomicBool>) -> mpsc::UnboundedReceiver<Key> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(100)) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(_) => return,
            }
            let key = match event::read() {
                Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => key_of(k.code, k.modifiers),
                // A resize (or anything else) just redraws.
                Ok(_) => Key::Other,
                Err(_) => return,
            };
            if tx.send(key).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next message, or never when not connected.
async fn next(sub: &mut Option<Subscription>) -> Result<Option<Message>> {
    match sub {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

async fn event_loop(terminal: &mut DefaultTerminal, socket: &Path) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut keys = keys(stop.clone());
    let mut app = App::default();
    let mut sub: Option<Subscription> = None;
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    // While the why panel is shown, the explanation is asked for again each second.
    let mut why = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        if let Err(e) = terminal.draw(|f| view::render(f, &app)) {
            break Err(e.into());
        }
        tokio::select! {
            message = next(&mut sub) => match message {
                Ok(Some(m)) => app.apply(m),
                Ok(None) | Err(_) => {
                    sub = None;
                    app.disconnected("the daemon closed the connection".into());
                }
            },
            key = keys.recv() => match key {
                Some(k) if app.key(k) => {}
                _ => break Ok(()),
            },
            _ = why.tick(), if app.panel == state::Panel::Why && !app.paused => {
                if let Some(s) = sub.as_mut() {
                    let ask = Command::Cache { command: CacheCommand::Why { n: 1 } };
                    if s.send(&ask).await.is_err() {
                        sub = None;
                    }
                }
            }
            _ = retry.tick(), if sub.is_none() => match Subscription::connect(socket).await {
                Ok(s) => {
                    app.connected(s.addr.clone());
                    sub = Some(s);
                }
                Err(e) => app.disconnected(format!("{e:#}")),
            },
        }
    };
    stop.store(true, Ordering::Relaxed);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_as_the_help_line_says() {
        let none = KeyModifiers::NONE;
        assert_eq!(key_of(KeyCode::Char('q'), none), Key::Quit);
        assert_eq!(key_of(KeyCode::Esc, none), Key::Quit);
        assert_eq!(key_of(KeyCode::Char('c'), KeyModifiers::CONTROL), Key::Quit);
        assert_eq!(key_of(KeyCode::Char('p'), none), Key::Pause);
        assert_eq!(key_of(KeyCode::Char('r'), none), Key::Reset);
        assert_eq!(key_of(KeyCode::Up, none), Key::Up);
        assert_eq!(key_of(KeyCode::Down, none), Key::Down);
        assert_eq!(key_of(KeyCode::Char('w'), none), Key::Why);
        assert_eq!(key_of(KeyCode::Char('s'), none), Key::Sessions);
        assert_eq!(key_of(KeyCode::Char('x'), none), Key::Other);
    }
}
