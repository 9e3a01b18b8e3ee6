//! `isartor stats [--json]`: one snapshot of the live numbers from the daemon's control socket,
//! as a text report or JSON. Exits 3 when no daemon runs (like `status`).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::{Context, human_duration};
use crate::control::Message;
use crate::control::client::Subscription;
use crate::telemetry::stats::Snapshot;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print the snapshot as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: StatsArgs) -> Result<ExitCode> {
    let socket = ctx.paths.socket();
    if !socket.exists() {
        return match crate::daemon::pidfile::probe(&ctx.paths.pid_file())? {
            crate::daemon::pidfile::Probe::Running(info) => {
                let pid = info
                    .map(|i| format!(" (pid {})", i.pid))
                    .unwrap_or_default();
                anyhow::bail!(
                    "isartor is running{pid} but its control socket {} is gone (removed by a \
                     cleaner of temporary files?); `isartor stop && isartor up --detach` \
                     restarts it with a new one",
                    socket.display()
                )
            }
            _ => {
                println!("isartor is not running");
                Ok(ExitCode::from(super::status::NOT_RUNNING))
            }
        };
    }
    let runtime = super::runtime()?;
    let connected = runtime.block_on(Subscription::connect(&socket));
    // A socket file whose daemon is gone (it exited before removing it): not running.
    if connected.is_err()
        && !matches!(
            crate::daemon::pidfile::probe(&ctx.paths.pid_file())?,
            crate::daemon::pidfile::Probe::Running(_)
        )
    {
        println!("isartor is not running");
        return Ok(ExitCode::from(super::status::NOT_RUNNING));
    }
    let (addr, snapshot) = runtime.block_on(async {
        let mut sub = connected?;
        loop {
            match sub.next().await? {
                Some(Message::Snapshot(s)) => return anyhow::Ok((sub.addr.clone(), *s)),
                Some(_) => continue,
                None => anyhow::bail!("the daemon closed the control socket"),
            }
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&snapshot)?);
    } else {
        print!("{}", render(&snapshot, &addr));
    }
    Ok(ExitCode::SUCCESS)
}

use crate::display::micros;

/// The text report.
pub fn render(s: &Snapshot, addr: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "isartor {} on http://{addr}, up {}",
        s.version,
        human_duration(s.uptime_secs)
    );
    let _ = writeln!(
        out,
        "requests: {}   deflected: {} ({:.1}%)   errors: {}",
        s.requests,
        s.deflected,
        s.deflection_rate * 100.0,
        s.errors
    );
    if s.stale > 0 {
        let _ = writeln!(
            out,
            "stale answers served while every provider failed: {}",
            s.stale
        );
    }
    if !s.l2_refused.is_empty() {
        let reasons: Vec<String> = s
            .l2_refused
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "local answers sent to the cloud instead: {}",
            reasons.join(", ")
        );
    }
    if s.shadow.would_serve > 0 {
        let sh = s.shadow;
        let _ = writeln!(
            out,
            "semantic shadow mode: would have served {}, agreed {:.1}% ({:.1}% identical)",
            sh.would_serve,
            sh.agreed as f64 * 100.0 / sh.would_serve as f64,
            sh.identical as f64 * 100.0 / sh.would_serve as f64
        );
    }
    let _ = writeln!(
        out,
        "{:<6}{:>10}{:>9}{:>11}{:>11}{:>11}",
        "layer", "requests", "share", "p50", "p95", "p99"
    );
    for (name, l) in &s.layers {
        let p = l.latency_micros;
        let _ = writeln!(
            out,
            "{name:<6}{:>10}{:>8.1}%{:>11}{:>11}{:>11}",
            l.requests,
            s.share_percent(l.requests),
            micros(p.p50),
            micros(p.p95),
            micros(p.p99)
        );
    }
    let _ = writeln!(
        out,
        "tokens saved: {} (about ${:.2}); spent at the cloud: ${:.2}; saved by the provider's \
         prompt cache: ${:.2}",
        s.tokens_saved, s.cost_saved_usd, s.cost_spent_usd, s.provider_cache_saved_usd
    );
    for b in &s.budgets {
        let _ = writeln!(
            out,
            "budget {:?} ({}, {}): ${:.2} of ${:.2} this {}{}",
            crate::display::printable(&b.name),
            crate::display::printable(&b.scope),
            b.action.as_str(),
            b.spent_usd,
            b.limit_usd,
            b.period.as_str(),
            if b.spent_usd >= b.limit_usd {
                " (spent)"
            } else {
                ""
            }
        );
    }
    if !s.sessions.is_empty() {
        let _ = writeln!(out, "provider prompt cache, recent sessions:");
        for v in s.sessions.iter().take(5) {
            let last = v
                .last_break
                .as_deref()
                .map(|at| format!(", last at {at}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<24} {:<12} {:>4} turns  {:>5.1}% read from cache  {} breaks{last}",
                crate::display::printable(&v.session)
                    .chars()
                    .take(24)
                    .collect::<String>(),
                crate::display::printable(&v.client),
                v.turns,
                v.cache_read_ratio * 100.0,
                v.breaks
            );
            if let Some(d) = &v.last_break_diff {
                for (sign, lines) in [("-", &d.cached), ("+", &d.this)] {
                    for line in lines.iter().take(2) {
                        let _ = writeln!(out, "      {} {sign} {line}", d.part);
                    }
                }
            }
        }
    }
    if !s.clients.is_empty() {
        let clients: Vec<String> = s.clients.iter().map(|(c, n)| format!("{c} {n}")).collect();
        let _ = writeln!(out, "clients: {}", clients.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::stats::{LayerStats, Percentiles};

    #[test]
    fn the_report_shows_layers_shares_and_savings() {
        let mut s = Snapshot {
            version: "1.2.3".into(),
            uptime_secs: 65,
            requests: 4,
            deflected: 3,
            deflection_rate: 0.75,
            errors: 0,
            tokens_saved: 25_000,
            cost_saved_usd: 0.25,
            ..Snapshot::default()
        };
        s.layers.insert(
            "l1a".into(),
            LayerStats {
                requests: 3,
                latency_micros: Percentiles {
                    p50: 250,
                    p95: 900,
                    p99: 1_200,
                },
            },
        );
        s.clients.insert("codex".into(), 4);
        let text = render(&s, "127.0.0.1:8080");
        assert!(
            text.contains("isartor 1.2.3 on http://127.0.0.1:8080, up 1m 05s"),
            "{text}"
        );
        assert!(text.contains("deflected: 3 (75.0%)"), "{text}");
        assert!(
            text.contains("l1a            3    75.0%     250 µs     900 µs     1.2 ms"),
            "{text}"
        );
        assert!(
            text.contains("tokens saved: 25000 (about $0.25); spent at the cloud: $0.00"),
            "{text}"
        );
        assert!(text.contains("clients: codex 4"));
    }
}
