//! `isartor connect claude|copilot|antigravity [--disconnect] [--dry-run]` and `connect status`:
//! point a client at the daemon, or put its settings back as they were.

use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::Context;
use crate::config::Config;
use crate::connect::envfile::{self, Shell};
use crate::connect::{self, Connection, FileRecord, Setup, State, Undone, claude};
use crate::proxy::ca::LocalCa;

#[derive(Debug, Args)]
pub struct ConnectArgs {
    #[command(subcommand)]
    pub target: Target,
}

#[derive(Debug, Subcommand)]
pub enum Target {
    /// Claude Code: ANTHROPIC_BASE_URL (or, with --proxy, HTTPS_PROXY) in ~/.claude/settings.json
    Claude(ClaudeArgs),
    /// GitHub Copilot CLI: an env file with HTTPS_PROXY and our CA, to source in your shell
    Copilot(ProxyClientArgs),
    /// Antigravity: an env file with HTTPS_PROXY and our CA, to source in your shell
    Antigravity(ProxyClientArgs),
    /// Each client: connected or not, how, which files, and whether the daemon answers
    Status,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Undo an earlier connect: put back the exact previous bytes (or remove what was added)
    #[arg(long)]
    pub disconnect: bool,
    /// Show what would change and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ClaudeArgs {
    /// Go through the CONNECT proxy (first-party mode) instead of setting the base URL
    #[arg(long)]
    pub proxy: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct ProxyClientArgs {
    /// The shell the env file is written for [default: from $SHELL]
    #[arg(long, value_enum)]
    pub shell: Option<Shell>,
    /// Print the variables for `eval` instead of writing a file
    #[arg(long)]
    pub print_env: bool,
    #[command(flatten)]
    pub common: Common,
}

const CLIENTS: [&str; 3] = ["claude", "copilot", "antigravity"];

pub fn run(ctx: &Context, args: ConnectArgs) -> Result<ExitCode> {
    let config = ctx.load_config()?;
    let setup = Setup::new(&config, ctx.paths.clone())?;
    match args.target {
        Target::Claude(a) if a.common.disconnect => disconnect(&setup, "claude", a.common.dry_run),
        Target::Claude(a) => connect_claude(&setup, &config, a),
        Target::Copilot(a) => proxy_client(&setup, &config, "copilot", a),
        Target::Antigravity(a) => proxy_client(&setup, &config, "antigravity", a),
        Target::Status => status(&setup, &config),
    }
}

fn ca_path(setup: &Setup) -> Result<std::path::PathBuf> {
    Ok(LocalCa::load_or_create(&setup.paths.data_dir)?
        .cert_path()
        .to_path_buf())
}

fn connect_claude(setup: &Setup, config: &Config, args: ClaudeArgs) -> Result<ExitCode> {
    let ca = if args.proxy {
        ca_path(setup)?
    } else {
        setup.paths.data_dir.join("isartor-ca.pem")
    };
    let env = claude::variables(
        args.proxy,
        &setup.gateway_url,
        setup.gateway_key.as_deref(),
        &setup.proxy_url,
        &ca,
    );
    let path = claude::settings_path(&setup.home);
    let mut state = setup.load()?;
    let prior = state.clients.get("claude");
    let prior_file = prior.and_then(|c| c.files.first());
    let original = prior_file.map(connect::original).transpose()?.flatten();
    let current = connect::read_if_exists(&path)?;
    let new = claude::connected(
        &path,
        current.as_deref(),
        original.as_deref(),
        prior.map(|c| &c.env),
        &env,
    )?;
    if args.common.dry_run {
        println!(
            "would write {}:\n{}",
            path.display(),
            String::from_utf8_lossy(&new)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let record = setup.write("claude", &path, &new, prior_file)?;
    let how = if args.proxy { "proxy" } else { "base_url" };
    state.clients.insert(
        "claude".into(),
        Connection {
            how: how.into(),
            files: vec![record],
            env: env.clone(),
            at: crate::exchange::unix_now(),
        },
    );
    setup.save(&state)?;
    println!("Claude Code → isartor ({how}): wrote {}", path.display());
    for (k, v) in &env {
        let shown = if k == "ANTHROPIC_AUTH_TOKEN" {
            "***"
        } else {
            v
        };
        println!("  {k}={shown}");
    }
    println!("New Claude Code sessions use it. Undo with: isartor connect claude --disconnect");
    warn_if_down(config, args.proxy);
    Ok(ExitCode::SUCCESS)
}

fn proxy_client(
    setup: &Setup,
    config: &Config,
    name: &str,
    args: ProxyClientArgs,
) -> Result<ExitCode> {
    if args.common.disconnect {
        return disconnect(setup, name, args.common.dry_run);
    }
    let shell = args.shell.unwrap_or_else(Shell::from_env);
    let bundle = setup.paths.data_dir.join("isartor-ca-bundle.pem");
    let ca = ca_path(setup)?;
    let env = envfile::variables(name, &setup.proxy_url, &ca, &bundle);
    let text = shell.render(&env);
    let path = envfile::path(&setup.paths.config_dir, name, shell);
    if args.common.dry_run {
        println!(
            "would write {} and {}:\n{text}",
            bundle.display(),
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let combined = envfile::combined_bundle(&std::fs::read(&ca)?)?;
    crate::paths::write_atomically(&bundle, &combined, 0o644)?;
    if args.print_env {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut state = setup.load()?;
    // Connected before for another shell: that file goes first.
    if let Some(prior) = state.clients.get(name)
        && prior.files.iter().any(|f| f.path != path)
    {
        for f in &prior.files {
            remove_env_file(f)?;
        }
        state.clients.remove(name);
    }
    let prior = state
        .clients
        .get(name)
        .and_then(|c| c.files.iter().find(|f| f.path == path));
    let record = setup.write(name, &path, text.as_bytes(), prior)?;
    state.clients.insert(
        name.to_string(),
        Connection {
            how: "proxy".into(),
            files: vec![record],
            env,
            at: crate::exchange::unix_now(),
        },
    );
    setup.save(&state)?;
    println!("{name} → isartor (proxy): wrote {}", path.display());
    println!(
        "Load it in each shell that runs {name}:\n\n  {}\n",
        shell.source_line(&path)
    );
    println!("Undo with: isartor connect {name} --disconnect");
    warn_if_down(config, true);
    Ok(ExitCode::SUCCESS)
}

/// An env file is ours alone: it goes even if someone edited it.
fn remove_env_file(f: &FileRecord) -> Result<()> {
    match std::fs::remove_file(&f.path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn disconnect(setup: &Setup, name: &str, dry_run: bool) -> Result<ExitCode> {
    let mut state = setup.load()?;
    let Some(conn) = state.clients.get(name).cloned() else {
        println!("{name} is not connected; nothing to undo");
        return Ok(ExitCode::SUCCESS);
    };
    for f in &conn.files {
        if dry_run {
            match &f.backup {
                Some(b) => println!("would restore {} from {}", f.path.display(), b.display()),
                None => println!("would remove isartor's settings from {}", f.path.display()),
            }
            continue;
        }
        if name != "claude" {
            remove_env_file(f)?;
            println!("removed {}", f.path.display());
            continue;
        }
        match connect::undo(f)? {
            Undone::Restored => println!("restored {} as it was", f.path.display()),
            Undone::Removed => println!("removed {} (it did not exist before)", f.path.display()),
            Undone::ChangedSince => {
                let current = connect::read_if_exists(&f.path)?.unwrap_or_default();
                let original = connect::original(f)?;
                let bytes =
                    claude::disconnected(&f.path, &current, original.as_deref(), &conn.env)?;
                setup.write(name, &f.path, &bytes, Some(f))?;
                if let Some(b) = &f.backup {
                    let _ = std::fs::remove_file(b);
                }
                println!(
                    "{} changed since connect: removed only isartor's variables",
                    f.path.display()
                );
            }
        }
    }
    if dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    state.clients.remove(name);
    remove_bundle_if_unused(setup, &state);
    setup.save(&state)?;
    if name != "claude" {
        let shell = conn
            .files
            .first()
            .and_then(|f| f.path.extension())
            .and_then(|e| e.to_str());
        let shell = match shell {
            Some("fish") => Shell::Fish,
            Some("zsh") => Shell::Zsh,
            _ => Shell::Bash,
        };
        println!(
            "Shells that sourced it still carry the variables; clear them with:\n\n  {}\n",
            shell.unset_line(&conn.env)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn remove_bundle_if_unused(setup: &Setup, state: &State) {
    let used = state.clients.keys().any(|c| c != "claude");
    if !used {
        let _ = std::fs::remove_file(setup.paths.data_dir.join("isartor-ca-bundle.pem"));
    }
}

/// Whether the daemon's listeners answer: the gateway's `/healthz`, the proxy's port.
fn probe(config: &Config) -> (bool, bool) {
    let gateway = config
        .listen_addr()
        .is_ok_and(|a| super::healthz(&a.to_string(), Duration::from_secs(1)));
    let proxy = config
        .proxy_addr()
        .is_ok_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok());
    (gateway, proxy)
}

fn warn_if_down(config: &Config, proxy: bool) {
    let (gateway, proxy_up) = probe(config);
    if !gateway || (proxy && !proxy_up) {
        println!("note: the daemon is not answering yet; start it with `isartor up --detach`");
    }
}

fn status(setup: &Setup, config: &Config) -> Result<ExitCode> {
    let state = setup.load()?;
    let (gateway, proxy) = probe(config);
    let word = |up: bool| if up { "answering" } else { "not answering" };
    println!(
        "daemon: gateway {} ({}), proxy {} ({})",
        setup.gateway_url,
        word(gateway),
        setup.proxy_url,
        word(proxy)
    );
    for name in CLIENTS {
        match state.clients.get(name) {
            None => println!("{name}: not connected"),
            Some(c) => {
                let live = match c.how.as_str() {
                    "proxy" => proxy,
                    _ => gateway,
                };
                println!(
                    "{name}: connected ({}) {}; {}",
                    c.how,
                    super::human_duration(crate::exchange::unix_now().saturating_sub(c.at))
                        + " ago",
                    if live { "live" } else { "daemon down" }
                );
                for f in &c.files {
                    println!("  {}", f.path.display());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
