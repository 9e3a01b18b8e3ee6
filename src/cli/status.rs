//! `isartor status [--json]`: running or not (the pid lock decides), pid, address, uptime, whether
//! `/healthz` answers, and each layer's health from the control socket. Exits 0 when running and 3
//! when not (the LSB convention for "program is not running").

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::{Context, healthz, human_duration};
use crate::control::{Command, Message};
use crate::daemon::pidfile::{self, Probe};
use crate::exchange::unix_now;

/// Exit code when no daemon runs.
pub const NOT_RUNNING: u8 = 3;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: StatusArgs) -> Result<ExitCode> {
    let probe = pidfile::probe(&ctx.paths.pid_file())?;
    let (running, info, note) = match probe {
        Probe::NotRunning => (false, None, None),
        Probe::Stale(info) => {
            let by = info
                .map(|i| format!(" left by pid {}", i.pid))
                .unwrap_or_default();
            (false, None, Some(format!("removed a stale pid file{by}")))
        }
        Probe::Running(info) => (true, info, None),
    };
    let healthy = info
        .as_ref()
        .is_some_and(|i| healthz(&i.addr, Duration::from_secs(2)));
    let uptime = info
        .as_ref()
        .map(|i| unix_now().saturating_sub(i.started_at));
    let layers = match (&info, running) {
        (Some(_), true) => match super::control(ctx, Command::Status) {
            Ok(Message::Status { health, .. }) => Some(health),
            _ => None,
        },
        _ => None,
    };
    if args.json {
        let v = json!({
            "running": running,
            "healthy": healthy,
            "pid": info.as_ref().map(|i| i.pid),
            "addr": info.as_ref().map(|i| i.addr.clone()),
            "proxy_addr": info.as_ref().and_then(|i| i.proxy_addr.clone()),
            "uptime_secs": uptime,
            "version": info.as_ref().map(|i| i.version.clone()),
            "layers": layers,
            "note": note,
        });
        println!("{v}");
    } else {
        match &info {
            Some(i) => {
                println!("isartor is running");
                println!("  pid:     {}", i.pid);
                println!("  address: http://{}", i.addr);
                if let Some(proxy) = &i.proxy_addr {
                    println!("  proxy:   http://{proxy} (HTTPS_PROXY)");
                }
                println!("  uptime:  {}", human_duration(uptime.unwrap_or(0)));
                println!("  version: {}", i.version);
                println!(
                    "  health:  {}",
                    if healthy {
                        "ok"
                    } else {
                        "not answering /healthz"
                    }
                );
                if let Some(serde_json::Value::Object(layers)) = &layers {
                    for (name, h) in layers {
                        println!(
                            "  {name}:{:pad$}{} ({})",
                            "",
                            h["status"].as_str().unwrap_or("?"),
                            h["detail"].as_str().unwrap_or(""),
                            pad = 8 - name.len().min(7),
                        );
                    }
                }
            }
            None if running => println!("isartor is starting"),
            None => match &note {
                Some(n) => println!("isartor is not running ({n})"),
                None => println!("isartor is not running"),
            },
        }
    }
    Ok(if running {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_RUNNING)
    })
}
