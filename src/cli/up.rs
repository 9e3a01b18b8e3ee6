//! `isartor up [--detach]`: run the daemon in the foreground, or start it in the background and
//! return once `/healthz` answers.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;

use super::{Context, healthz};
use crate::daemon::{self, detach, pidfile};
use crate::telemetry::logs;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Run in the background (logs go to the log file in the data dir)
    #[arg(long, short)]
    pub detach: bool,

    /// With --detach: how long to wait for the daemon to become healthy
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub wait: u64,
}

pub fn run(ctx: &Context, args: UpArgs) -> Result<ExitCode> {
    let config = ctx.load_config()?;
    if args.detach {
        return background(ctx, args.wait);
    }
    let _log = logs::init(config.json_logs());
    let mut lock = pidfile::acquire(&ctx.paths.pid_file())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let daemon = daemon::start(config, &ctx.paths).await?;
        if let Err(e) = daemon.serve_control(&ctx.paths.socket()) {
            tracing::warn!("no control socket (isartor stats/top will not connect): {e:#}");
        }
        let addr = daemon.addr();
        lock.write(&pidfile::PidInfo {
            pid: std::process::id(),
            addr: addr.to_string(),
            proxy_addr: daemon.proxy_addr().map(|a| a.to_string()),
            started_at: crate::exchange::unix_now(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        })?;
        tracing::info!(
            "isartor {} listening on http://{addr}",
            env!("CARGO_PKG_VERSION")
        );
        if let Some(proxy) = daemon.proxy_addr() {
            tracing::info!("CONNECT proxy on http://{proxy} (HTTPS_PROXY for clients that cannot change their base URL)");
        }
        let stop = daemon.shutdown_token();
        let why = tokio::select! {
            signal = daemon::termination_signal() => signal?,
            () = stop.cancelled() => "stop request",
        };
        tracing::info!(
            "{why} received: draining in-flight requests (up to {} s; signal again to exit now)",
            daemon::DRAIN_TIMEOUT.as_secs()
        );
        tokio::select! {
            () = daemon.stop() => {}
            again = daemon::termination_signal() => {
                tracing::warn!("{} received again: exiting without waiting", again?);
            }
        }
        anyhow::Ok(())
    })?;
    drop(lock);
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Starts `isartor up` detached and waits until it is healthy.
fn background(ctx: &Context, wait: u64) -> Result<ExitCode> {
    let pid_file = ctx.paths.pid_file();
    if let pidfile::Probe::Running(info) = pidfile::probe(&pid_file)? {
        match info {
            Some(i) => bail!(
                "isartor is already running (pid {}, http://{})",
                i.pid,
                i.addr
            ),
            None => bail!("isartor is already starting"),
        }
    }
    let exe = std::env::current_exe().context("cannot find the isartor executable")?;
    let mut argv = vec!["up".to_string()];
    if let Some(path) = &ctx.config_path {
        argv.push("--config".into());
        argv.push(path.display().to_string());
    }
    let log = ctx.paths.log_file();
    let mut child = detach::spawn(&exe, &argv, &log)?;
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the daemon exited during start-up ({status}); the end of {}:\n{}",
                log.display(),
                detach::tail(&log, 15)
            );
        }
        if let Some(info) = pidfile::read(&pid_file).filter(|i| i.pid == child.id())
            && healthz(&info.addr, Duration::from_secs(1))
        {
            println!(
                "isartor {} started in the background (pid {}) on http://{}",
                info.version, info.pid, info.addr
            );
            println!("logs: {}", log.display());
            return Ok(ExitCode::SUCCESS);
        }
        if Instant::now() >= deadline {
            bail!(
                "the daemon (pid {}) was not healthy after {wait} s; see {}",
                child.id(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
