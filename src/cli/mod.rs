//! The command line: argument parsing (clap) and one module per subcommand. Nothing here knows
//! about caches or layers; commands call into `daemon` and print.

pub mod cache;
pub mod completions;
pub mod connect;
pub mod eval;
pub mod stats;
pub mod status;
pub mod stop;
pub mod top;
pub mod up;
pub mod update;
pub mod usage;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config::{Config, Loaded, env_warnings};
use crate::paths::Paths;

/// `--version`: the release, the commit and the build date.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ISARTOR_COMMIT"),
    ", built ",
    env!("ISARTOR_BUILD_DATE"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "isartor",
    version = VERSION,
    about = "A prompt firewall: answers repeated and easy LLM requests locally, forwards the rest",
    propagate_version = true
)]
pub struct Cli {
    /// Config file [default: isartor.toml in the user config dir, e.g. ~/.config/isartor/]
    #[arg(long, global = true, env = "ISARTOR_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the daemon (in the foreground, or in the background with --detach)
    Up(up::UpArgs),
    /// Stop the running daemon, letting in-flight requests finish
    Stop(stop::StopArgs),
    /// Say whether the daemon runs, with its pid, address and uptime
    Status(status::StatusArgs),
    /// Print the live numbers: requests and deflection per layer, latency, tokens and $ saved
    Stats(stats::StatsArgs),
    /// A live dashboard: per-layer deflection, latency, tokens saved, recent requests
    Top(top::TopArgs),
    /// Point Claude Code, Copilot or Antigravity at the daemon (or undo it with --disconnect)
    Connect(connect::ConnectArgs),
    /// See into and steer the caches: list, explain misses, forget, clear, export, import
    Cache(cache::CacheArgs),
    /// What the cloud cost and what was saved, from the local usage history
    Usage(usage::UsageArgs),
    /// Measure the semantic cache on labelled pairs or a replayed trace
    Eval(eval::EvalArgs),
    /// Print the shell completion script (bash, zsh, fish, powershell, elvish)
    Completions(completions::CompletionsArgs),
    /// Upgrade this binary from the project's releases (checksum-verified, with rollback)
    #[command(disable_version_flag = true)]
    Update(update::UpdateArgs),
}

/// What every command needs: where things are and which config file was asked for.
pub struct Context {
    pub paths: Paths,
    pub config_path: Option<PathBuf>,
}

impl Context {
    /// Prints warnings about misspelt variables, then loads the configuration.
    pub fn load_config(&self) -> Result<Config> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        for w in env_warnings(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            eprintln!("warning: {w}");
        }
        let Loaded { config, .. } =
            Config::load(self.config_path.as_deref(), &self.paths.config_file(), vars)?;
        Ok(config)
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Completions(args) = cli.command {
        return completions::run(args);
    }
    let ctx = Context {
        paths: Paths::discover()?,
        config_path: cli.config,
    };
    match cli.command {
        Command::Up(args) => up::run(&ctx, args),
        Command::Stop(args) => stop::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args),
        Command::Stats(args) => stats::run(&ctx, args),
        Command::Top(args) => top::run(&ctx, args),
        Command::Cache(args) => cache::run(&ctx, args),
        Command::Eval(args) => eval::run(&ctx, args),
        Command::Usage(args) => usage::run(&ctx, args),
        Command::Connect(args) => connect::run(&ctx, args),
        Command::Update(args) => update::run(&ctx, args),
        Command::Completions(_) => unreachable!("answered before the context is built"),
    }
}

/// Sends `command` over the daemon's control socket and returns its answer (2 s at most).
pub fn control(
    ctx: &Context,
    command: crate::control::Command,
) -> anyhow::Result<crate::control::Message> {
    runtime()?.block_on(async {
        let mut sub = crate::control::client::Subscription::connect(&ctx.paths.socket()).await?;
        sub.ask(command, Duration::from_secs(2)).await
    })
}

/// A single-threaded runtime for a command's few network calls.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Whether `GET http://addr/healthz` answers 200 within `timeout`.
pub fn healthz(addr: &str, timeout: Duration) -> bool {
    let Ok(rt) = runtime() else {
        return false;
    };
    rt.block_on(async {
        let Ok(client) = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()
        else {
            return false;
        };
        client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
}

use crate::display::human_duration;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every `isartor …` command quoted in README.md and docs/ parses with this build's command
    /// line (synopses with `[…]`, `|` or placeholders are skipped; shell redirections cut off).
    #[test]
    fn every_command_in_the_docs_parses() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("README.md")];
        for entry in std::fs::read_dir(root.join("docs")).unwrap() {
            files.push(entry.unwrap().path());
        }
        let mut checked = 0;
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for quoted in text.split('`').skip(1).step_by(2) {
                let Some(command) = quoted.strip_prefix("isartor ") else {
                    continue;
                };
                let command = command.split(['>', '&', ';']).next().unwrap().trim();
                let synopsis = command.contains(['[', '|', '\\'])
                    || command
                        .split_whitespace()
                        .any(|w| w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase()));
                if synopsis {
                    continue;
                }
                let args = std::iter::once("isartor").chain(command.split_whitespace());
                if let Err(e) = Cli::try_parse_from(args) {
                    panic!(
                        "{}: `isartor {command}` does not parse:\n{e}",
                        file.display()
                    );
                }
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} commands found");
    }

    /// Every measured figure in docs/tuning.md (a number with a unit: µs, ms, s, MB, GB, %,
    /// req/s, tok/s) stands in a paragraph or table that names the script printing it
    /// (`scripts/…`, which must exist; a table may be named by the paragraph above it), so the
    /// guide cannot drift from what the code measures unnoticed. Settings and commands in
    /// backticks and fenced blocks are not figures.
    #[test]
    fn every_figure_in_the_tuning_guide_names_the_script_that_prints_it() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("docs/tuning.md")).unwrap();
        let units = [
            "µs", "us", "ms", "s", "MB", "GB", "%", "req/s", "tok/s", "x", "×",
        ];
        let mut figures = 0;
        let mut fenced = false;
        let mut blocks: Vec<Vec<&str>> = vec![Vec::new()];
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            match (fenced, line.trim().is_empty()) {
                (true, _) => {}
                (false, true) => blocks.push(Vec::new()),
                (false, false) => blocks.last_mut().unwrap().push(line),
            }
        }
        let blocks: Vec<&Vec<&str>> = blocks.iter().filter(|b| !b.is_empty()).collect();
        for (n, block) in blocks.iter().enumerate() {
            let joined = block.join("\n");
            // A table is named by its own rows or by the paragraph just above it.
            let caption = match (n, block[0].starts_with('|')) {
                (1.., true) => blocks[n - 1].join("\n"),
                _ => String::new(),
            };
            let named = format!("{caption}\n{joined}");
            let scripts: Vec<&str> = named
                .split('`')
                .skip(1)
                .step_by(2)
                .flat_map(str::split_whitespace)
                .filter(|w| w.starts_with("scripts/"))
                .collect();
            for script in &scripts {
                assert!(
                    root.join(script).exists(),
                    "docs/tuning.md names {script}, which does not exist"
                );
            }
            // The text outside backticks: where figures are.
            let prose: String = joined.split('`').step_by(2).collect::<Vec<_>>().join(" ");
            let words: Vec<&str> = prose
                .split(|c: char| c.is_whitespace() || "|(),;".contains(c))
                .filter(|w| !w.is_empty())
                .collect();
            for (i, w) in words.iter().enumerate() {
                let digits = w.trim_start_matches(['~', '+', '-', '≤', '≥', '<', '>']);
                let number_end = digits
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
                    .unwrap_or(digits.len());
                if number_end == 0 || !digits.starts_with(|c: char| c.is_ascii_digit()) {
                    continue;
                }
                let unit = &digits[number_end..];
                let next = words.get(i + 1).copied().unwrap_or("");
                let measured = (!unit.is_empty()
                    && units.contains(&unit.trim_end_matches(['.', ':'])))
                    || (unit.is_empty() && units.contains(&next.trim_end_matches(['.', ':'])));
                if measured {
                    figures += 1;
                    assert!(
                        !scripts.is_empty(),
                        "docs/tuning.md: the figure {w:?} stands in a block that names no script:\n{joined}"
                    );
                }
            }
        }
        assert!(
            figures >= 20,
            "only {figures} figures found in docs/tuning.md"
        );
    }
}
