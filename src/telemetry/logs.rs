//! Logging: the tracing subscriber set-up (text, or JSON for log pipelines), the one structured
//! line written per request, and [`Throttle`] for warnings that must not flood the log.
//! Prompts and replies are never logged.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing_subscriber::EnvFilter;

use super::events::RequestEvent;
use super::metrics::layer_label;

/// Keeps the log writer alive; dropping it writes what is still gathered and stops the thread.
pub struct LogGuard(Arc<Gathered>, Option<std::thread::JoinHandle<()>>);

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.0.done.store(true, Ordering::Release);
        if let Some(thread) = self.1.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// How often the writer thread writes the lines gathered since it last did.
const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// Gathered bytes past which the line's own thread writes them at once (back-pressure, never
/// loss).
const FLUSH_AT: usize = 1 << 20;

/// Log lines gathered in memory. A line is appended under a short lock and a thread of its own
/// writes the lot every few milliseconds: a request never wakes a thread or waits on a `write`
/// per line (on one core, that wake-up per line cost more than the formatting).
struct Gathered {
    lines: Mutex<Vec<u8>>,
    done: AtomicBool,
    /// Where the lines go (stderr; a buffer in tests).
    out: Mutex<Box<dyn std::io::Write + Send>>,
}

impl Gathered {
    fn new(out: Box<dyn std::io::Write + Send>) -> Gathered {
        Gathered {
            lines: Mutex::default(),
            done: AtomicBool::new(false),
            out: Mutex::new(out),
        }
    }

    /// Takes what is gathered and writes it. The output is held from the take to the write,
    /// so batches taken by different threads reach it in the order they were taken.
    fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let taken = std::mem::take(&mut *self.lines.lock().unwrap_or_else(|p| p.into_inner()));
        if !taken.is_empty() {
            let _ = out.write_all(&taken);
            let _ = out.flush();
        }
    }
}

/// One line as it is formatted; appended to the gathered lines whole when dropped.
struct Line {
    gathered: Arc<Gathered>,
    bytes: Vec<u8>,
}

impl std::io::Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let mut lines = self
            .gathered
            .lines
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        lines.extend_from_slice(&self.bytes);
        let full = lines.len() >= FLUSH_AT;
        drop(lines);
        if full {
            self.gathered.flush();
        }
    }
}

#[derive(Clone)]
struct Writer(Arc<Gathered>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Writer {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line {
            gathered: self.0.clone(),
            bytes: Vec::with_capacity(256),
        }
    }
}

fn start_writer(out: Box<dyn std::io::Write + Send>) -> (Writer, LogGuard) {
    let gathered = Arc::new(Gathered::new(out));
    let g = gathered.clone();
    let thread = std::thread::Builder::new()
        .name("isartor-log".into())
        .spawn(move || {
            while !g.done.load(Ordering::Acquire) {
                std::thread::park_timeout(FLUSH_EVERY);
                g.flush();
            }
            g.flush();
        })
        .ok();
    (Writer(gathered.clone()), LogGuard(gathered, thread))
}

/// Installs the global subscriber: `RUST_LOG` if set, else `info`, to stderr, as text or as one
/// JSON object per line (fields at the top level). Lines are gathered in memory and written by a
/// background thread every 10 ms, so a request never waits on a `write` syscall
/// or wakes a thread; past 1 MiB gathered, the line's own thread writes (back-pressure rather
/// than dropping lines). hudsucker (the proxy) is held at `warn` unless
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
    let (writer, guard) = start_writer(Box::new(std::io::stderr()));
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
    guard
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

    /// A sink the test can read.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_written_whole_in_order_and_none_is_lost_at_the_end() {
        use tracing_subscriber::fmt::MakeWriter;
        let sink = Sink::default();
        let (writer, guard) = start_writer(Box::new(sink.clone()));
        for n in 0..1000 {
            // A line may arrive in pieces; it is appended whole.
            let mut line = writer.make_writer();
            write!(line, "line {n}").unwrap();
            writeln!(line, " end").unwrap();
        }
        // A line past the back-pressure mark is written by its own thread.
        let mut big = writer.make_writer();
        big.write_all(&vec![b'x'; FLUSH_AT]).unwrap();
        big.write_all(b"\n").unwrap();
        drop(big);
        assert!(
            sink.0.lock().unwrap().len() > FLUSH_AT,
            "written at once, not gathered"
        );
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("line")).collect();
        assert_eq!(lines.len(), 1000);
        assert!(
            lines
                .iter()
                .enumerate()
                .all(|(n, l)| *l == format!("line {n} end"))
        );
    }

    #[test]
    fn throttle_passes_once_per_interval() {
        let t = Throttle::new(Duration::from_secs(3600));
        assert!(t.ready());
        assert!(!t.ready());
        let open = Throttle::new(Duration::ZERO);
        assert!(open.ready() && open.ready());
    }
}
