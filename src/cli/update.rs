//! `isartor update [--check] [--version TAG] [--dry-run] [--yes] [--restart]`: upgrade this
//! binary from the project's releases (see [`crate::update`]).
//! `--check` exits 0 when this is the latest release and 10 when a newer one exists.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Args;

use super::Context;
use crate::daemon::pidfile::{self, Probe};
use crate::update::{self, version_of};

/// `--check`'s exit code when a newer release exists.
pub const NEWER: u8 = 10;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Only say whether a newer release exists (exit 0: up to date, 10: newer available)
    #[arg(long)]
    pub check: bool,

    /// Install this release tag (e.g. v0.2.0) instead of the latest, even an older one
    #[arg(long = "version", value_name = "TAG")]
    pub tag: Option<String>,

    /// Show what would be downloaded and replaced, change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,

    /// Restart a running daemon on the new version afterwards
    #[arg(long)]
    pub restart: bool,
}

pub fn run(ctx: &Context, args: UpdateArgs) -> Result<ExitCode> {
    let config = ctx.load_config()?;
    let runtime = super::runtime()?;
    let current = env!("CARGO_PKG_VERSION");
    let release = runtime.block_on(update::find(
        &config.update.api_base,
        &config.update.repo,
        args.tag.as_deref(),
    ))?;
    let newer = version_of(&release.tag) > version_of(current);
    println!("current: {current}");
    println!(
        "{}: {}",
        if args.tag.is_some() {
            "requested"
        } else {
            "latest"
        },
        release.tag
    );
    if args.check {
        return Ok(if newer {
            ExitCode::from(NEWER)
        } else {
            ExitCode::SUCCESS
        });
    }
    if !newer && args.tag.is_none() {
        println!("isartor {current} is the latest release");
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("cannot find this binary")?;
    if args.dry_run {
        println!(
            "would download {} (checked against SHA256SUMS) and replace {}",
            release.archive_url,
            exe.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!("not asking without a terminal: add --yes to update");
        }
        print!("replace isartor {current} with {}? [y/N] ", release.tag);
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("not updated");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let scratch = tempfile::tempdir()?;
    let archive = runtime.block_on(update::download(&release, scratch.path()))?;
    let version = update::install(&archive, &exe)?;
    println!("updated {} to {version}", exe.display());
    if let Probe::Running(Some(info)) = pidfile::probe(&ctx.paths.pid_file())? {
        if args.restart {
            for step in [&["stop"][..], &["up", "--detach"][..]] {
                let status = std::process::Command::new(&exe).args(step).status()?;
                if !status.success() {
                    bail!(
                        "`isartor {}` failed while restarting the daemon",
                        step.join(" ")
                    );
                }
            }
        } else {
            println!(
                "the daemon (pid {}) still runs the old version: `isartor stop && isartor up \
                 --detach`, or update with --restart",
                info.pid
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
