//! `isartor cache ls | why | forget | clear | export | import`: the caches of the running daemon,
//! over its control socket. Printing only; the daemon does the work (`pipeline::manage`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};

use super::Context;
use crate::control::{Command, Message};
use crate::display::{human_bytes, printable, short_duration};
use crate::pipeline::manage::{CacheCommand, Forgotten, Imported, Listing, Target};
use crate::pipeline::misses::Why;

/// Lines sent to the daemon per import command (each carries the header line again).
const IMPORT_BATCH: usize = 500;
/// How long one cache command may take (an export of a full Redis cache takes a while).
const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub command: CacheCmd,
}

#[derive(Debug, Subcommand)]
pub enum CacheCmd {
    /// List recent entries: key, layer, model, client, age, hits, size, the prompt's start
    Ls {
        /// How many entries, newest first
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only entries stored for this client (as `isartor stats` names it)
        #[arg(long)]
        client: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Explain a recent miss: the nearest cached request and what differed
    Why {
        /// Which miss, counted back from the last (1)
        #[arg(default_value_t = 1, conflicts_with = "last")]
        n: usize,
        /// The last miss (the default)
        #[arg(long)]
        last: bool,
        #[arg(long)]
        json: bool,
    },
    /// Remove an answer everywhere it is stored (exact, semantic, and exact copies of it)
    Forget {
        /// The start of a key shown by `isartor cache ls` (at least 6 characters)
        #[arg(required_unless_present_any = ["last", "prompt"], conflicts_with_all = ["last", "prompt"])]
        key: Option<String>,
        /// The answer the last request got or stored
        #[arg(long, conflicts_with = "prompt")]
        last: bool,
        /// Entries whose last user turn is this text
        #[arg(long)]
        prompt: Option<String>,
    },
    /// Remove every entry (of one layer with --exact or --semantic)
    Clear {
        #[arg(long, conflicts_with = "semantic")]
        exact: bool,
        #[arg(long)]
        semantic: bool,
    },
    /// Write every entry to FILE (JSON lines, owner-only: it holds prompts and answers)
    Export { file: PathBuf },
    /// Load entries written by `export` into the running daemon
    Import { file: PathBuf },
}

/// Sends a cache command; its answer, or the daemon's reason it could not.
fn ask(ctx: &Context, command: CacheCommand) -> Result<serde_json::Value> {
    let answer = super::runtime()?.block_on(async {
        let mut sub = crate::control::client::Subscription::connect(&ctx.paths.socket()).await?;
        sub.ask(Command::Cache { command }, TIMEOUT).await
    })?;
    match answer {
        Message::Cache {
            answer: Some(answer),
            ..
        } => Ok(answer),
        Message::Cache {
            error: Some(error), ..
        } => bail!("{error}"),
        _ => bail!("the daemon gave no answer to the cache command"),
    }
}

pub fn run(ctx: &Context, args: CacheArgs) -> Result<ExitCode> {
    match args.command {
        CacheCmd::Ls {
            limit,
            client,
            json,
        } => {
            let answer = ask(ctx, CacheCommand::Ls { limit, client })?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&answer)?),
                false => print!(
                    "{}",
                    render_ls(&serde_json::from_value::<Vec<Listing>>(answer)?)
                ),
            }
        }
        CacheCmd::Why { n, json, .. } => {
            let answer = ask(ctx, CacheCommand::Why { n })?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&answer)?),
                false => print!("{}", serde_json::from_value::<Why>(answer)?.report()),
            }
        }
        CacheCmd::Forget { key, last, prompt } => {
            let target = match (key, last, prompt) {
                (_, true, _) => Target::Last,
                (_, _, Some(text)) => Target::Prompt(text),
                (Some(key), _, _) => Target::Prefix(key),
                (None, false, None) => bail!("name an entry: a key prefix, --last or --prompt"),
            };
            let gone: Forgotten =
                serde_json::from_value(ask(ctx, CacheCommand::Forget { target })?)?;
            println!(
                "forgot {} exact and {} semantic entries",
                gone.exact, gone.semantic
            );
            if gone.exact + gone.semantic == 0 {
                return Ok(ExitCode::from(1));
            }
        }
        CacheCmd::Clear { exact, semantic } => {
            let gone: Forgotten =
                serde_json::from_value(ask(ctx, CacheCommand::Clear { exact, semantic })?)?;
            println!(
                "cleared {} exact and {} semantic entries",
                gone.exact, gone.semantic
            );
        }
        CacheCmd::Export { file } => {
            let lines: Vec<String> = serde_json::from_value(ask(ctx, CacheCommand::Export)?)?;
            let dir = match file.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            // Written whole or not at all, readable by its owner only.
            let mut out = tempfile::NamedTempFile::new_in(&dir)
                .with_context(|| format!("cannot write in {}", dir.display()))?;
            for line in &lines {
                writeln!(out, "{line}")?;
            }
            out.persist(&file)
                .with_context(|| format!("cannot write {}", file.display()))?;
            println!(
                "exported {} entries to {}",
                lines.len().saturating_sub(1),
                file.display()
            );
        }
        CacheCmd::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            let Some(header) = lines.next() else {
                bail!("{} is empty", file.display());
            };
            let rest: Vec<&str> = lines.collect();
            let mut total = Imported::default();
            for batch in rest.chunks(IMPORT_BATCH) {
                let lines = std::iter::once(header)
                    .chain(batch.iter().copied())
                    .map(String::from)
                    .collect();
                let done: Imported =
                    serde_json::from_value(ask(ctx, CacheCommand::Import { lines })?)?;
                total.taken += done.taken;
                for (why, n) in done.skipped {
                    *total.skipped.entry(why).or_default() += n;
                }
            }
            print!("{}", render_imported(&total));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render_ls(entries: &[Listing]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("the cache is empty\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<14}{:<10}{:<6}{:>7}{:>7}{:>6}{:>9}  {:<14}{:<22}prompt",
        "key", "kind", "from", "age", "ttl", "hits", "size", "client", "model"
    );
    for e in entries {
        let _ = writeln!(
            out,
            "{:<14}{:<10}{:<6}{:>7}{:>7}{:>6}{:>9}  {:<14}{:<22}{}",
            &e.key[..12.min(e.key.len())],
            e.kind,
            printable(&e.layer),
            short_duration(e.age_secs),
            short_duration(e.ttl_secs),
            e.hits,
            human_bytes(e.size),
            printable(&e.client),
            printable(&e.model),
            printable(&e.preview),
        );
    }
    out
}

fn render_imported(done: &Imported) -> String {
    let mut out = format!("imported {} entries", done.taken);
    if done.skipped.is_empty() {
        out.push('\n');
        return out;
    }
    let skipped: Vec<String> = done
        .skipped
        .iter()
        .map(|(why, n)| format!("{n} {why}"))
        .collect();
    let _ = writeln!(out, "; skipped {}", skipped.join(", "));
    out
}
