//! `isartor usage`: what the cloud cost, what Isartor and the provider's prompt cache saved, and
//! how much was deflected, from the local usage history (it reads the database directly, so it
//! works whether or not the daemon runs).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use serde::Serialize;

use super::Context;
use crate::display::printable;
use crate::telemetry::usage::{self, By, Usage};

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// How far back to count: minutes, hours, days or weeks (90m, 24h, 7d, 4w), or all
    #[arg(long, default_value = "7d", value_parser = since_ms)]
    pub since: u64,
    /// One line per client, model, session or UTC day
    #[arg(long, value_enum)]
    pub by: Option<By>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// `--since` as a span in milliseconds (`u64::MAX` for `all`).
fn since_ms(text: &str) -> Result<u64, String> {
    if text == "all" {
        return Ok(u64::MAX);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let unit_ms: u64 = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(format!(
                "{text:?}: expected a number and m, h, d or w (7d), or all"
            ));
        }
    };
    n.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .ok_or_else(|| format!("{text:?}: expected a number and m, h, d or w (7d), or all"))
}

#[derive(Serialize)]
struct Report {
    /// Unix ms the report counts from (0: the whole history).
    since_ms: u64,
    by: Option<By>,
    rows: Vec<Usage>,
    total: Usage,
}

pub fn run(ctx: &Context, args: UsageArgs) -> Result<ExitCode> {
    let path = ctx.paths.data_dir.join(usage::FILE);
    let since_ms = crate::telemetry::unix_ms().saturating_sub(args.since);
    let Some(db) = usage::open_existing(&path)
        .with_context(|| format!("cannot open the usage history {}", path.display()))?
    else {
        if args.json {
            let empty = Report {
                since_ms,
                by: args.by,
                rows: Vec::new(),
                total: Usage {
                    key: "all".into(),
                    ..Usage::default()
                },
            };
            println!("{}", serde_json::to_string_pretty(&empty)?);
        } else {
            println!(
                "no usage recorded yet ({} does not exist: the daemon writes it while \
                 usage.enabled = true)",
                path.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let read = |by| {
        usage::report(&db, since_ms, by)
            .with_context(|| format!("cannot read the usage history {}", path.display()))
    };
    let total = read(None)?.pop().unwrap_or_default();
    let rows = match args.by {
        Some(by) => read(Some(by))?,
        None => Vec::new(),
    };
    let report = Report {
        since_ms,
        by: args.by,
        rows,
        total,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn table(r: &Report) -> String {
    let mut out = String::new();
    let since = match r.since_ms {
        0 => "the start of the history".to_string(),
        ms => crate::display::rfc3339(ms),
    };
    let _ = writeln!(out, "usage since {since} (whole hours; sessions exact)");
    let head = match r.by {
        None => "",
        Some(By::Client) => "client",
        Some(By::Model) => "model",
        Some(By::Session) => "session",
        Some(By::Day) => "day (UTC)",
    };
    let _ = writeln!(
        out,
        "{head:<28}{:>10}{:>11}{:>12}{:>12}{:>16}",
        "requests", "deflected", "spent $", "saved $", "prov. cache $"
    );
    for u in r.rows.iter().chain(std::iter::once(&r.total)) {
        let key = if std::ptr::eq(u, &r.total) {
            "total".to_string()
        } else {
            printable(&u.key).chars().take(27).collect()
        };
        let _ = writeln!(
            out,
            "{key:<28}{:>10}{:>10.1}%{:>12.4}{:>12.4}{:>16.4}",
            u.requests,
            u.deflection_rate * 100.0,
            u.spent_usd,
            u.saved_usd,
            u.provider_cache_saved_usd
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_spans_or_all() {
        assert_eq!(since_ms("7d"), Ok(7 * 86_400_000));
        assert_eq!(since_ms("90m"), Ok(90 * 60_000));
        assert_eq!(since_ms("all"), Ok(u64::MAX));
        assert!(since_ms("7").is_err() && since_ms("d").is_err() && since_ms("3y").is_err());
        assert!(since_ms("99999999999999999w").is_err());
    }
}
