//! Drawing the dashboard: a pure function of [`App`], so tests render it into ratatui's
//! `TestBackend` and read the buffer.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Row, Sparkline, Table, Wrap};

use super::state::{App, Panel};
use crate::display::{human_duration, micros};
use crate::telemetry::stats::Snapshot;

/// `hh:mm:ss` (UTC) of a unix-milliseconds time.
fn clock(at_ms: u64) -> String {
    let s = at_ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    match (&app.snapshot, &app.offline) {
        (Some(s), None) => dashboard(frame, area, app, s),
        (_, Some(why)) => waiting(
            frame,
            area,
            &format!("isartor is not running: {why}\n\nretrying every second; q quits"),
        ),
        (None, None) => waiting(frame, area, "connecting to the isartor daemon…"),
    }
}

fn waiting(frame: &mut Frame, area: Rect, text: &str) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" isartor top ");
    frame.render_widget(
        Paragraph::new(text.to_string())
            .block(block)
            .wrap(Wrap { trim: true }),
        area,
    );
}

fn dashboard(frame: &mut Frame, area: Rect, app: &App, s: &Snapshot) {
    let [header, gauge, table, sparks, savings, recent] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(area);

    let addr = app.addr.as_deref().unwrap_or("?");
    let mut title = format!(
        " isartor {}  http://{addr}  up {}  {} req/s  {} requests",
        s.version,
        human_duration(s.uptime_secs),
        app.rate(),
        s.requests.saturating_sub(app.baseline)
    );
    if app.paused {
        title.push_str("  [paused]");
    }
    frame.render_widget(
        Paragraph::new(title).style(Style::default().add_modifier(Modifier::BOLD)),
        header,
    );

    let rate = s.deflection_rate.clamp(0.0, 1.0);
    frame.render_widget(
        Gauge::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" deflected before the cloud "),
            )
            .gauge_style(Style::default().fg(Color::Green))
            .ratio(rate)
            .label(format!(
                "{:.1}%  ({} of {})",
                rate * 100.0,
                s.deflected,
                s.requests
            )),
        gauge,
    );

    let rows = s.layers.iter().map(|(name, l)| {
        let p = l.latency_micros;
        Row::new(vec![
            name.clone(),
            l.requests.to_string(),
            format!("{:.1}%", s.share_percent(l.requests)),
            micros(p.p50),
            micros(p.p95),
            micros(p.p99),
        ])
    });
    let widths = [
        Constraint::Length(6),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
    ];
    frame.render_widget(
        Table::new(rows, widths)
            .header(
                Row::new(vec!["layer", "requests", "share", "p50", "p95", "p99"])
                    .style(Style::default().add_modifier(Modifier::BOLD)),
            )
            .block(Block::default().borders(Borders::ALL).title(" layers ")),
        table,
    );

    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(sparks);
    let requests: Vec<u64> = s.per_second.iter().map(|p| p.requests).collect();
    let deflected: Vec<u64> = s.per_second.iter().map(|p| p.deflected).collect();
    frame.render_widget(
        Sparkline::default()
            .block(Block::default().borders(Borders::ALL).title(" req/s "))
            .data(&requests),
        left,
    );
    frame.render_widget(
        Sparkline::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" deflected/s "),
            )
            .style(Style::default().fg(Color::Green))
            .data(&deflected),
        right,
    );

    frame.render_widget(
        Paragraph::new(format!(
            " tokens saved: {}  (about ${:.2})   errors: {}",
            s.tokens_saved, s.cost_saved_usd, s.errors
        )),
        savings,
    );

    if app.panel == Panel::Sessions {
        let rows = s.sessions.iter().map(|v| {
            Row::new(vec![
                crate::display::printable(&v.session)
                    .chars()
                    .take(28)
                    .collect::<String>(),
                crate::display::printable(&v.client).into_owned(),
                v.turns.to_string(),
                format!("{:.1}%", v.cache_read_ratio * 100.0),
                v.breaks.to_string(),
                v.last_break.clone().unwrap_or_default(),
            ])
        });
        let widths = [
            Constraint::Length(29),
            Constraint::Length(14),
            Constraint::Length(6),
            Constraint::Length(12),
            Constraint::Length(7),
            Constraint::Min(10),
        ];
        frame.render_widget(
            Table::new(rows, widths)
                .header(
                    Row::new(vec![
                        "session",
                        "client",
                        "turns",
                        "cache read",
                        "breaks",
                        "last at",
                    ])
                    .style(Style::default().add_modifier(Modifier::BOLD)),
                )
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(" provider prompt cache per session (s back, q quit) "),
                ),
            recent,
        );
        return;
    }
    if app.panel == Panel::Why {
        let text = match &app.why {
            None => "asking the daemon…".to_string(),
            Some(Ok(why)) => why.report(),
            Some(Err(e)) => crate::display::printable(e).into_owned(),
        };
        frame.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: false }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" why the last miss missed (w back, p pause, q quit) "),
            ),
            recent,
        );
        return;
    }
    let lines: Vec<Line> = s
        .recent
        .iter()
        .skip(app.scroll)
        .map(|r| {
            let layer = r.layer.map_or("-", |l| l.as_str());
            Line::from(format!(
                "{}  {:<14} {:<4} {:>9}  {}  {}",
                clock(r.at_ms),
                r.client,
                layer,
                micros(r.latency_micros),
                r.status,
                r.preview
            ))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(
            " recent requests (↑↓ scroll, w why missed, s sessions, p pause, r reset, q quit) ",
        )),
        recent,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Layer;
    use crate::telemetry::stats::{LayerStats, Percentiles, Recent, Second};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn screen(app: &App) -> String {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        terminal.draw(|f| render(f, app)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_dashboard_shows_layers_deflection_savings_and_recent_requests() {
        let mut s = Snapshot {
            version: "0.1.0".into(),
            uptime_secs: 125,
            requests: 4,
            deflected: 3,
            deflection_rate: 0.75,
            tokens_saved: 1234,
            cost_saved_usd: 0.01234,
            per_second: vec![Second {
                unix: 1,
                requests: 4,
                deflected: 3,
            }],
            ..Snapshot::default()
        };
        s.layers.insert(
            "l1a".into(),
            LayerStats {
                requests: 3,
                latency_micros: Percentiles {
                    p50: 180,
                    p95: 400,
                    p99: 2_500,
                },
            },
        );
        s.recent.push(Recent {
            at_ms: 3_723_000,
            client: "claude-code".into(),
            surface: "gateway".into(),
            layer: Some(Layer::L1a),
            latency_micros: 180,
            status: 200,
            preview: "what does git add -p do".into(),
        });
        let mut app = App::default();
        app.connected("127.0.0.1:8080".into());
        app.snapshot = Some(s);
        let text = screen(&app);
        for needle in [
            "isartor 0.1.0  http://127.0.0.1:8080  up 2m 05s",
            "75.0%  (3 of 4)",
            "l1a    3          75.0%    180 µs     400 µs     2.5 ms",
            "tokens saved: 1234  (about $0.01)",
            "01:02:03  claude-code    l1a     180 µs  200  what does git add -p do",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        app.paused = true;
        assert!(screen(&app).contains("[paused]"));
    }

    #[test]
    fn the_why_panel_shows_what_differed() {
        use crate::pipeline::misses::{Difference, Why};
        let mut app = App::default();
        app.connected("127.0.0.1:8080".into());
        app.snapshot = Some(Snapshot::default());
        app.panel = Panel::Why;
        assert!(screen(&app).contains("asking the daemon"));
        app.why = Some(Ok(Why {
            at_ms: 0,
            key: "3be1c0a2f9d1aa".into(),
            client: "claude-code".into(),
            model: "m".into(),
            preview: "list the files".into(),
            nearest: Some("8a1f10dc1f7c00".into()),
            differences: vec![Difference {
                part: "system prompt".into(),
                cached: vec!["Run id: 7f3a1".into()],
                this: vec!["Run id: 9c2e4".into()],
            }],
            semantic: None,
        }));
        let text = screen(&app);
        for needle in [
            "why the last miss missed",
            "miss 3be1c0a2f9d1 from claude-code (m): list the files",
            "nearest cached request: 8a1f10dc1f7c; it differs in:",
            "- Run id: 7f3a1",
            "+ Run id: 9c2e4",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn the_sessions_panel_shows_each_sessions_provider_cache() {
        use crate::telemetry::sessions::SessionView;
        let mut app = App::default();
        app.connected("127.0.0.1:8080".into());
        app.snapshot = Some(Snapshot {
            sessions: vec![SessionView {
                session: "user_abc__session_7f3a".into(),
                client: "claude-code".into(),
                turns: 3,
                cache_read_ratio: 0.301,
                breaks: 1,
                last_break: Some("system".into()),
                ..SessionView::default()
            }],
            ..Snapshot::default()
        });
        app.panel = Panel::Sessions;
        let text = screen(&app);
        for needle in [
            "provider prompt cache per session",
            "user_abc__session_7f3a",
            "claude-code",
            "30.1%",
            "system",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn without_a_daemon_it_says_so() {
        let mut app = App::default();
        app.disconnected("no socket at /run/isartor.sock".into());
        let text = screen(&app);
        assert!(
            text.contains("isartor is not running: no socket at /run/isartor.sock"),
            "{text}"
        );
        assert!(text.contains("retrying"));
    }
}
