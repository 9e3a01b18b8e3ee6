//! Logging: the tracing subscriber set-up and the one structured line written per request.
//! Prompts and replies are never logged.

use tracing_subscriber::EnvFilter;

use super::events::RequestEvent;

/// Keeps the background log writer alive; dropping it flushes what is queued.
pub struct LogGuard(#[allow(dead_code)] tracing_appender::non_blocking::WorkerGuard);

/// Installs the global subscriber: `RUST_LOG` if set, else `info`, to stderr. Lines are written
/// by a background thread so a request never waits on a `write` syscall; when its queue is full
/// the writer applies back-pressure rather than dropping lines.
pub fn init() -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("isartor-log")
        .finish(std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
    LogGuard(guard)
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
