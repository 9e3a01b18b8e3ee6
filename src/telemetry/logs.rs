//! Logging: the tracing subscriber set-up and the one structured line written per request.
//! Prompts and replies are never logged.

use tracing_subscriber::EnvFilter;

use super::events::RequestEvent;

/// Installs the global subscriber: `RUST_LOG` if set, else `info`, to stderr.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// The structured log line of one request.
pub fn log_event(e: &RequestEvent) {
    tracing::info!(
        target: "isartor::request",
        id = e.id,
        surface = e.surface.as_str(),
        client = %e.client,
        model = %e.model,
        layer = e.layer.map(|l| l.as_str()).unwrap_or("-"),
        status = e.status,
        deflected = e.deflected,
        latency_us = e.latency_micros,
        tokens_in = e.tokens_in,
        tokens_out = e.tokens_out,
        tokens_saved = e.tokens_saved,
        error = e.error.as_deref().unwrap_or(""),
        "request"
    );
}
