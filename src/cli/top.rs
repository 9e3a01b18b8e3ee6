//! `isartor top`: the live dashboard (see `tui`). Needs a terminal; `isartor stats` prints the
//! same numbers once.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use super::Context;

#[derive(Debug, Args)]
pub struct TopArgs {}

pub fn run(ctx: &Context, _args: TopArgs) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        bail!("isartor top needs a terminal; `isartor stats` prints the same numbers once");
    }
    crate::tui::run(&ctx.paths.socket())?;
    Ok(ExitCode::SUCCESS)
}
