//! `isartor stop [--force]`: ask the daemon to stop over the control socket (SIGTERM when the
//! socket does not answer; SIGKILL with `--force`) and wait until it has let go of its pid file,
//! i.e. drained and exited.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Context;
use crate::control::{Command, Message};
use crate::daemon::pidfile::{self, Probe};

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Kill at once (SIGKILL) instead of draining in-flight requests
    #[arg(long)]
    pub force: bool,

    /// How long to wait for the daemon to exit
    #[arg(long, default_value_t = 20, value_name = "SECS")]
    pub timeout: u64,
}

pub fn run(ctx: &Context, args: StopArgs) -> Result<ExitCode> {
    let pid_file = ctx.paths.pid_file();
    let info = match pidfile::probe(&pid_file)? {
        Probe::NotRunning => {
            println!("isartor is not running");
            return Ok(ExitCode::SUCCESS);
        }
        Probe::Stale(info) => {
            let by = info
                .map(|i| format!(" left by pid {}", i.pid))
                .unwrap_or_default();
            println!("isartor is not running (removed a stale pid file{by})");
            return Ok(ExitCode::SUCCESS);
        }
        Probe::Running(None) => bail!("isartor is still starting; try again in a moment"),
        Probe::Running(Some(info)) => info,
    };
    let pid = i32::try_from(info.pid).context("pid out of range")?;
    let asked = !args.force
        && matches!(
            super::control(ctx, Command::Stop),
            Ok(Message::Stopping { pid: p }) if p == info.pid
        );
    if !asked {
        let signal = if args.force {
            Signal::SIGKILL
        } else {
            Signal::SIGTERM
        };
        match kill(Pid::from_raw(pid), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => return Err(e).with_context(|| format!("cannot signal pid {pid}")),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    // The pid file's lock goes when the daemon lets go of it; the process may still be flushing
    // its exporters. "stopped" means the process is gone.
    while matches!(pidfile::probe(&pid_file)?, Probe::Running(_)) || alive(pid) {
        if Instant::now() >= deadline {
            bail!(
                "isartor (pid {pid}) is still running after {} s; `isartor stop --force` kills it",
                args.timeout
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("isartor stopped (pid {pid})");
    Ok(ExitCode::SUCCESS)
}

/// Whether process `pid` still exists (and is not a zombie waiting for its parent to reap it).
fn alive(pid: i32) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    // /proc/<pid>/stat: "pid (comm) S …"; a zombie has exited.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state != "Z"),
        Err(_) => !cfg!(target_os = "linux"),
    }
}
