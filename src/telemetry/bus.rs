//! The bus request events travel on, and the tracker that guarantees one event per request
//! (emitted when the request finishes, or when it is dropped: a client that hangs up mid-stream
//! still produces its event). Publishing fans out to the sinks: metrics, live stats, the log
//! line, and the broadcast channel the OpenTelemetry exporter and the control socket read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use super::budgets::Budgets;
use super::events::{ErrorCode, Layer, LayerOutcome, LayerTiming, RequestEvent};
use super::metrics::Metrics;
use super::prices::{PriceBook, Tokens};
use super::stats::{Snapshot, Stats, Verdict};
use super::usage::Recorder;
use crate::exchange::{Format, Surface, Usage};

/// The broadcast bus of request events. Slow subscribers lag and lose events; senders never wait.
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Arc<RequestEvent>>,
    next_id: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
    stats: Arc<Mutex<Stats>>,
    prices: Arc<PriceBook>,
    budgets: Arc<Budgets>,
    /// The usage history's writer (`usage.enabled`).
    usage: Option<Arc<Recorder>>,
}

impl Default for Bus {
    fn default() -> Bus {
        Bus::new(4096)
    }
}

impl Bus {
    pub fn new(capacity: usize) -> Bus {
        let (tx, _) = broadcast::channel(capacity);
        Bus {
            tx,
            next_id: Arc::new(AtomicU64::new(1)),
            metrics: Arc::new(Metrics::new()),
            stats: Arc::new(Mutex::new(Stats::default())),
            prices: Arc::new(PriceBook::default()),
            budgets: Arc::new(Budgets::default()),
            usage: None,
        }
    }

    /// The same bus, counting L3 spend against `budgets`.
    pub fn with_budgets(mut self, budgets: Budgets) -> Bus {
        // The gauges start from what the budgets read back.
        for b in budgets.views(super::unix_ms()) {
            self.metrics.budget(&b.name, b.spent_usd, b.limit_usd);
        }
        self.budgets = Arc::new(budgets);
        self
    }

    /// The same bus, writing every event's row to the usage history at `path`.
    pub fn with_usage(mut self, path: std::path::PathBuf, retention_days: u64) -> Bus {
        let recorder = Recorder::start(path, retention_days, self.metrics.clone());
        self.usage = Some(Arc::new(recorder));
        self
    }

    /// The budgets requests are checked against.
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// Writes the usage history's queued rows and stops its writer (blocking; at shutdown).
    pub fn close_usage(&self) {
        if let Some(usage) = &self.usage {
            usage.close();
        }
    }

    /// The same bus, pricing events with `prices`.
    pub fn with_prices(mut self, prices: PriceBook) -> Bus {
        self.prices = Arc::new(prices);
        self
    }

    /// The live aggregates now.
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = self
            .stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .snapshot();
        snapshot.budgets = self.budgets.views(super::unix_ms());
        snapshot
    }

    /// The metrics every published event is counted in.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Records a semantic hit that shadow mode did not serve: when it is found (`None`), then
    /// once the fresh answer is judged.
    pub fn shadow(&self, verdict: Option<Verdict>) {
        if let Some(v) = verdict {
            self.metrics.shadow(v);
        }
        self.stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .shadow(verdict);
    }

    /// Records a local answer refused (or not started) and sent to L3 instead, by reason.
    pub fn l2_refused(&self, reason: &'static str) {
        self.metrics.l2_refused(reason);
        *self
            .stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .l2_refused
            .entry(reason.to_string())
            .or_default() += 1;
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<RequestEvent>> {
        self.tx.subscribe()
    }

    /// Starts tracking a request that just arrived.
    pub fn track(&self, surface: Surface, client: &str) -> Tracker {
        let at_ms = super::unix_ms();
        Tracker {
            bus: self.clone(),
            started: Instant::now(),
            current: None,
            event: Some(RequestEvent {
                id: self.next_id.fetch_add(1, Ordering::Relaxed),
                at_ms,
                surface,
                format: None,
                client: client.to_string(),
                model: String::new(),
                layer: None,
                deflected: false,
                status: 0,
                latency_micros: 0,
                layers: Vec::new(),
                tokens_in: 0,
                tokens_out: 0,
                tokens_cache_read: 0,
                tokens_cache_write: 0,
                tokens_saved: 0,
                cost_usd: 0.0,
                saved_usd: 0.0,
                provider_saved_usd: 0.0,
                error: None,
                provider: None,
                called_model: None,
                preview: String::new(),
                trace_parent: None,
                router_decision: None,
                session: None,
                cache_break: None,
                prefix: Vec::new(),
                readable: None,
            }),
        }
    }

    fn publish(&self, mut event: RequestEvent) {
        let tokens = Tokens {
            input: event.tokens_in,
            output: event.tokens_out,
            cache_read: event.tokens_cache_read,
            cache_write: event.tokens_cache_write,
        };
        // One price lookup, and only for a request that spent or saved something.
        if event.deflected || event.layer == Some(Layer::L3) {
            let priced = event.called_model.as_deref().unwrap_or(&event.model);
            let found = self.prices.lookup(priced);
            let usd = self.prices.cost_at(found.map(|(_, p)| p), tokens);
            if event.deflected {
                event.saved_usd = usd;
            } else {
                event.cost_usd = usd;
                event.provider_saved_usd =
                    PriceBook::provider_cache_saving(found.map(|(_, p)| p), tokens);
            }
            self.metrics.money(&event, found.map(|(name, _)| name));
            self.budgets.spend(
                &event.client,
                &event.model,
                event.cost_usd,
                super::unix_ms(),
                |name, spent, limit| self.metrics.budget(name, spent, limit),
            );
        }
        self.metrics.record(&event);
        let broke = {
            let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
            stats.record(&event);
            stats.sessions.record(&event)
        };
        if let Some(at) = &broke {
            self.metrics.cache_break(&event.client, at);
        }
        event.cache_break = broke;
        super::logs::log_event(&event);
        let event = Arc::new(event);
        if let Some(usage) = &self.usage {
            usage.record(&event);
        }
        // No subscribers is fine: the event was logged.
        let _ = self.tx.send(event);
    }
}

/// Collects one request's event; publishes it exactly once (on `finish`, or on drop).
pub struct Tracker {
    bus: Bus,
    started: Instant,
    /// The layer the request is in now (what a drop reports).
    current: Option<Layer>,
    event: Option<RequestEvent>,
}

impl Tracker {
    fn event(&mut self) -> &mut RequestEvent {
        self.event.as_mut().expect("tracker used after finish")
    }

    /// Records what the request is, once decoded; `prompt` becomes a short redacted preview.
    pub fn describe(&mut self, format: Format, model: &str, prompt: &str) {
        let e = self.event();
        e.format = Some(format);
        // The model is client text that reaches log lines, metric labels and `top`.
        e.model = crate::display::printable(model).into_owned();
        e.preview = super::stats::preview(prompt);
    }

    /// The client, model and prompt preview recorded so far (empty after the event went out).
    pub fn who(&self) -> (&str, &str, &str) {
        self.event
            .as_ref()
            .map_or(("", "", ""), |e| (&e.client, &e.model, &e.preview))
    }

    /// Marks the layer the request is entering.
    pub fn enter(&mut self, layer: Layer) {
        self.current = Some(layer);
    }

    /// Records the caller's W3C `traceparent` header.
    pub fn trace_parent(&mut self, value: &str) {
        self.event().trace_parent = Some(value.to_string());
    }

    /// Records the request's session and prompt-prefix fingerprint (`session` is client text:
    /// printable and bounded here).
    pub fn session(
        &mut self,
        session: &str,
        prefix: Vec<u64>,
        readable: Option<Arc<crate::exchange::key::Readable>>,
    ) {
        let e = self.event();
        e.readable = readable;
        let shown: String = crate::display::printable(session)
            .chars()
            .take(80)
            .collect();
        e.session = Some(shown);
        e.prefix = prefix;
    }

    /// Records what L2 decided.
    pub fn router_decision(&mut self, decision: &str) {
        self.event().router_decision = Some(decision.to_string());
    }

    /// Records the cloud provider that answered.
    pub fn provider(&mut self, name: &str) {
        self.event().provider = Some(name.to_string());
    }

    /// Records the model the provider was asked for (kept only when it differs from the
    /// client's, which is what the call is then priced at).
    pub fn called(&mut self, model: &str) {
        let e = self.event();
        if model != e.model {
            e.called_model = Some(crate::display::printable(model).into_owned());
        }
    }

    /// Records one layer's time and outcome.
    pub fn layer(&mut self, layer: Layer, took: Duration, outcome: LayerOutcome) {
        self.scored(layer, took, outcome, None);
    }

    /// Records one layer's time, outcome and similarity score (L1b).
    pub fn scored(
        &mut self,
        layer: Layer,
        took: Duration,
        outcome: LayerOutcome,
        score: Option<f32>,
    ) {
        let start = self.started.elapsed().saturating_sub(took);
        self.event().layers.push(LayerTiming {
            layer,
            start_micros: start.as_micros() as u64,
            micros: took.as_micros() as u64,
            outcome,
            score,
        });
    }

    /// Sets the token usage of the answer: saved when `layer` deflected, spent otherwise.
    pub fn usage(&mut self, layer: Layer, usage: Usage) {
        let e = self.event();
        e.tokens_in = usage.input_tokens;
        e.tokens_out = usage.output_tokens;
        e.tokens_cache_read = usage.cache_read_tokens;
        e.tokens_cache_write = usage.cache_write_tokens;
        e.tokens_saved = if layer.deflects() { usage.total() } else { 0 };
    }

    /// Publishes the event with its final layer, status and error class.
    pub fn finish(mut self, layer: Option<Layer>, status: u16, error: Option<ErrorCode>) {
        self.complete(layer, status, error);
    }

    fn complete(&mut self, layer: Option<Layer>, status: u16, error: Option<ErrorCode>) {
        let Some(mut e) = self.event.take() else {
            return;
        };
        e.layer = layer;
        e.status = status;
        e.deflected = layer.is_some_and(Layer::deflects) && (200..300).contains(&status);
        if !e.deflected {
            e.tokens_saved = 0;
        }
        e.error = error.map(|code| code.class().to_string());
        e.latency_micros = self.started.elapsed().as_micros() as u64;
        self.bus.publish(e);
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if self.event.is_some() {
            // 499: the client went away before the response was complete (nginx's convention).
            self.complete(self.current, 499, Some(ErrorCode::ClientClosed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_event_per_tracker_even_when_dropped() {
        let bus = Bus::new(16);
        let mut rx = bus.subscribe();
        let mut t = bus.track(Surface::Gateway, "curl");
        t.describe(Format::OpenAiChat, "m", "hi");
        t.layer(Layer::L1a, Duration::from_micros(5), LayerOutcome::Hit);
        t.usage(
            Layer::L1a,
            Usage {
                input_tokens: 3,
                output_tokens: 4,
                ..Usage::default()
            },
        );
        t.finish(Some(Layer::L1a), 200, None);
        let e = rx.recv().await.unwrap();
        assert!(e.deflected);
        assert_eq!((e.tokens_saved, e.status, e.id), (7, 200, 1));

        let mut t = bus.track(Surface::Gateway, "curl");
        t.enter(Layer::L1a);
        t.layer(Layer::L1a, Duration::from_millis(1), LayerOutcome::Miss);
        t.enter(Layer::L3);
        drop(t);
        let e = rx.recv().await.unwrap();
        assert_eq!(
            (e.status, e.layer, e.deflected),
            (499, Some(Layer::L3), false)
        );
        assert!(rx.try_recv().is_err(), "exactly one event per request");
    }

    #[tokio::test]
    async fn errors_and_l3_are_not_deflections() {
        let bus = Bus::new(16);
        let mut rx = bus.subscribe();
        bus.track(Surface::Gateway, "x")
            .finish(None, 401, Some(ErrorCode::Unauthorized));
        let mut t = bus.track(Surface::Gateway, "x");
        t.usage(
            Layer::L3,
            Usage {
                input_tokens: 10,
                output_tokens: 10,
                ..Usage::default()
            },
        );
        t.finish(Some(Layer::L3), 200, None);
        let a = rx.recv().await.unwrap();
        let b = rx.recv().await.unwrap();
        assert!(!a.deflected && !b.deflected);
        assert_eq!((b.tokens_in, b.tokens_saved), (10, 0));
    }
}
