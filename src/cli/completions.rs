//! `isartor completions bash|zsh|fish|powershell|elvish`: the shell completion script, generated
//! from the command definitions (clap_complete), on standard output.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    pub shell: Shell,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "isartor", &mut out);
    out
}

pub fn run(args: CompletionsArgs) -> Result<ExitCode> {
    use std::io::Write;
    std::io::stdout().write_all(&script(args.shell))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed scripts under completions/ are what this build generates (regenerate them
    /// with scripts/completions.sh).
    #[test]
    fn committed_completions_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
        for (shell, file) in [
            (Shell::Bash, "isartor.bash"),
            (Shell::Zsh, "_isartor"),
            (Shell::Fish, "isartor.fish"),
            (Shell::PowerShell, "_isartor.ps1"),
            (Shell::Elvish, "isartor.elv"),
        ] {
            let committed = std::fs::read(dir.join(file)).unwrap_or_default();
            assert!(
                committed == script(shell),
                "completions/{file} is stale: run scripts/completions.sh"
            );
        }
    }

    /// The committed man page is what the command definition renders (the release's version
    /// only, not the commit, so it changes when the commands do). `scripts/completions.sh`
    /// regenerates it (`ISARTOR_WRITE_MAN=1` makes this test write it).
    #[test]
    fn committed_man_page_is_current() {
        use clap::CommandFactory;
        let command = super::super::Cli::command().version(env!("CARGO_PKG_VERSION"));
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut page)
            .expect("renders");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man/isartor.1");
        if std::env::var_os("ISARTOR_WRITE_MAN").is_some() {
            std::fs::write(&path, &page).expect("man/ is writable");
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == page,
            "man/isartor.1 is stale: run scripts/completions.sh"
        );
        let text = String::from_utf8(page).unwrap();
        assert!(text.contains(".TH isartor 1") && text.contains("stats"));
    }
}
