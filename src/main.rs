//! The `isartor` binary: parse the command line, run it, map errors to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before any thread exists (it sets an environment variable).
    isartor::inference::fit_thread_pools();
    // Pin rustls to one crypto provider so no dependency's feature choice can make it ambiguous.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = isartor::cli::Cli::parse();
    match isartor::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
