//! Logging: the tracing subscriber set-up (text, or JSON for log pipelines), the one structured
//! line written per request, and [`Throttle`] for warnings that must not flood the log.
//! Prompts and replies are never logged.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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
    install_panic_hook();
    let (writer, guard) = start_writer(Box::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone())
        .with_target(false);
    if json {
        let _ = builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        if builder.with_ansi(ansi).try_init().is_ok() && !ansi {
            let _ = TEXT_LINES.set(writer);
        }
    }
    guard
}

/// Sends panics to the log as one line with what they say escaped: a panic message can quote
/// text a client sent (a slicing panic quotes the string), and no client text may break a line.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!("panic{at}: {}", panic_message(info.payload()));
        // With RUST_BACKTRACE set: the frames, one line each (code locations, no client text).
        let trace = std::backtrace::Backtrace::capture();
        if trace.status() == std::backtrace::BacktraceStatus::Captured {
            for frame in trace.to_string().lines() {
                tracing::error!("  {frame}");
            }
        }
    }));
}

/// What a panic says, escaped and bounded ([`crate::display::printable`]).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    crate::display::printable(text).into_owned()
}

/// Where request lines go when the log is plain text: they are then written by [`log_event`]
/// itself, in the subscriber's format, rather than through tracing's field visitor (which took
/// about a tenth of an exact hit's CPU for this one line). Unset for JSON logs, colours, and
/// when another subscriber was installed first (tests).
static TEXT_LINES: OnceLock<Writer> = OnceLock::new();

/// The structured log line of one request.
pub fn log_event(e: &RequestEvent) {
    if let Some(writer) = TEXT_LINES.get() {
        if tracing::enabled!(target: "isartor::request", tracing::Level::INFO) {
            let mut line = tracing_subscriber::fmt::MakeWriter::make_writer(writer);
            let _ = write_text_line(&mut line, e);
        }
        return;
    }
    trace_event(e);
}

/// A request line as tracing's text format writes it (`with_target(false)`, no colours); the
/// test `request_lines_read_as_tracing_writes_them` holds the two together.
fn write_text_line(out: &mut impl std::io::Write, e: &RequestEvent) -> std::io::Result<()> {
    use tracing_subscriber::fmt::time::FormatTime as _;
    let mut at = String::with_capacity(32);
    let _ = tracing_subscriber::fmt::time::SystemTime
        .format_time(&mut tracing_subscriber::fmt::format::Writer::new(&mut at));
    write!(
        out,
        "{at}  INFO request id={} surface={:?} client={} model={} isartor.final_layer={:?} \
         status={} deflected={} latency_us={} tokens_in={} tokens_out={} tokens_saved={}",
        e.id,
        e.surface.as_str(),
        e.client,
        e.model,
        layer_label(e.layer),
        e.status,
        e.deflected,
        e.latency_micros,
        e.tokens_in,
        e.tokens_out,
        e.tokens_saved,
    )?;
    if let Some(score) = e.layers.iter().find_map(|t| t.score) {
        write!(out, " similarity={:?}", f64::from(score))?;
    }
    writeln!(out, " error={:?}", e.error.as_deref().unwrap_or(""))
}

/// The request line through tracing's macros: JSON logs, and any subscriber but ours.
fn trace_event(e: &RequestEvent) {
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
    fn request_lines_read_as_tracing_writes_them() {
        use crate::telemetry::events::{Layer, LayerOutcome, LayerTiming};
        let bus = super::super::Bus::default();
        let mut events = bus.subscribe();
        let mut tracker = bus.track(crate::exchange::Surface::Gateway, "claude-code");
        tracker.describe(crate::exchange::Format::OpenAiChat, "gpt-4o-mini", "hello");
        tracker.finish(Some(Layer::L1b), 200, None);
        let mut e = (*events.try_recv().unwrap()).clone();
        (e.tokens_in, e.tokens_out, e.tokens_saved) = (30, 20, 50);
        e.layers.push(LayerTiming {
            layer: Layer::L1b,
            start_micros: 0,
            micros: 4000,
            outcome: LayerOutcome::Hit,
            score: Some(0.97),
        });
        for error in [None, Some("upstream said \"no\"\n".to_string())] {
            e.error = error;
            let sink = Sink::default();
            let writer = {
                let sink = sink.clone();
                move || sink.clone()
            };
            let subscriber = tracing_subscriber::fmt()
                .with_writer(writer)
                .with_ansi(false)
                .with_target(false)
                .finish();
            tracing::subscriber::with_default(subscriber, || trace_event(&e));
            let traced = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
            let mut ours = Vec::new();
            write_text_line(&mut ours, &e).unwrap();
            let ours = String::from_utf8(ours).unwrap();
            // Both start with the time (same width), then the same text.
            let (t, o) = (
                traced.split_once(' ').unwrap(),
                ours.split_once(' ').unwrap(),
            );
            assert_eq!(t.0.len(), o.0.len(), "{traced} / {ours}");
            assert_eq!(t.1, o.1);
            assert!(ours.contains("similarity=0.97"), "{ours}");
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

    #[test]
    fn a_panic_message_cannot_break_a_log_line() {
        let forged: Box<dyn std::any::Any + Send> =
            Box::new(String::from("byte index 3 of `a\nINFO forged line`"));
        assert_eq!(
            panic_message(forged.as_ref()),
            "byte index 3 of `a\\nINFO forged line`"
        );
        let plain: Box<dyn std::any::Any + Send> = Box::new("static message");
        assert_eq!(panic_message(plain.as_ref()), "static message");
        let other: Box<dyn std::any::Any + Send> = Box::new(7u8);
        assert_eq!(panic_message(other.as_ref()), "(no message)");
    }
}
