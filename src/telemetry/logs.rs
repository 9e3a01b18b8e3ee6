//! Logging: the tracing subscriber set-up (text, or JSON for log pipelines), the one structured
//! line written per request, and [`Throttle`] for warnings that must not flood the log.
//! Prompts and replies are never logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing_subscriber::EnvFilter;

use super::events::RequestEvent;
use super::metrics::layer_label;

/// Keeps the background log writer alive; dropping it flushes what is queued.
pub struct LogGuard(#[allow(dead_code)] tracing_appender::non_blocking::WorkerGuard);

/// Installs the global subscriber: `RUST_LOG` if set, else `info`, to stderr, as text or as one
/// JSON object per line (fields at the top level). Lines are written by a background thread so a
/// request never waits on a `write` syscall; when its queue is full the writer applies
/// back-pressure rather than dropping lines. hudsucker (the proxy) is held at `warn` unless
/// `RUST_LOG` names it: its per-connection info spans would otherwise prefix every proxied
/// request's line.
pub fn init(json: bool) -> LogGuard {
    let spec = std::env::var("RUST_LOG").unwrap_or_default();
    let mut filter = Some(spec.trim())
        .filter(|s| !s.is_empty())
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    if !spec.contains("hudsucker")
        && let Ok(quiet) = "hudsucker=warn".parse()
    {
        filter = filter.add_directive(quiet);
    }
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("isartor-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
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
        isartor.final_layer = layer_label(e.layer),
        status = e.status,
        deflected = e.deflected,
        latency_us = e.latency_micros,
        tokens_in = e.tokens_in,
        tokens_out = e.tokens_out,
        tokens_saved = e.tokens_saved,
        similarity = e.layers.iter().find_map(|t| t.score),
        error = e.error.as_deref().unwrap_or(""),
        "request"
    );
}

/// Lets a repeated warning through at most once per interval (lock-free; the first call passes).
#[derive(Debug)]
pub struct Throttle {
    epoch: Instant,
    interval_ms: u64,
    /// Milliseconds after `epoch` when the next warning may pass.
    next_ms: AtomicU64,
}

impl Throttle {
    pub fn new(interval: Duration) -> Throttle {
        Throttle {
            epoch: Instant::now(),
            interval_ms: interval.as_millis() as u64,
            next_ms: AtomicU64::new(0),
        }
    }

    /// True when a warning may be logged now; the next one then waits a whole interval.
    pub fn ready(&self) -> bool {
        let now = self.epoch.elapsed().as_millis() as u64;
        let next = self.next_ms.load(Ordering::Relaxed);
        now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now + self.interval_ms,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_passes_once_per_interval() {
        let t = Throttle::new(Duration::from_secs(3600));
        assert!(t.ready());
        assert!(!t.ready());
        let open = Throttle::new(Duration::ZERO);
        assert!(open.ready() && open.ready());
    }
}
