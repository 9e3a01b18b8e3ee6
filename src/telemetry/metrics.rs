//! Prometheus metrics, updated from every [`RequestEvent`] as it is published (synchronously, so
//! counts never lag or drop), and rendered in the OpenMetrics text format for `GET /metrics`.
//! The names are the ones operators of Isartor already query.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use super::events::{Layer, RequestEvent};

/// The Content-Type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency bucket bounds in seconds: 50 µs doubling to ~13 s, 19 buckets that resolve a cache hit
/// and a slow cloud call alike (shared with the OTLP histograms).
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_05, 2.0, 19)
}

fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

/// The `final_layer` / `layer_name` label value of a layer.
pub fn layer_label(layer: Option<Layer>) -> &'static str {
    match layer {
        Some(Layer::L1a) => "L1a_ExactCache",
        Some(Layer::L1b) => "L1b_SemanticCache",
        Some(Layer::L2) => "L2_SLM",
        Some(Layer::L3) => "L3_Cloud",
        None => "none",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    final_layer: &'static str,
    http_status: u16,
    client: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FinalLayer {
    final_layer: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LayerName {
    layer_name: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheEvent {
    cache_layer: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShadowLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MoneyLabels {
    kind: &'static str,
    client: String,
    /// The price table's name for the model, or `other`: client text never becomes a label.
    model: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakLabels {
    client: String,
    /// `system`, `tools`, `messages` or `unchanged`.
    at: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabel {
    client: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabel {
    rule: &'static str,
}

/// A budget's name: the operator's own text from isartor.toml, never a client's.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BudgetLabel {
    budget: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    layer: &'static str,
    error_class: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Histograms<FinalLayer>,
    layer_duration: Histograms<LayerName>,
    tokens_saved: Family<FinalLayer, Counter>,
    cache_events: Family<CacheEvent, Counter>,
    errors: Family<ErrorLabels, Counter>,
    shadow: Family<ShadowLabel, Counter>,
    guard: Family<RuleLabel, Counter>,
    l2_refused: Family<ReasonLabel, Counter>,
    money: Family<MoneyLabels, Counter<f64, AtomicU64>>,
    cache_read: Family<ClientLabel, Counter>,
    breaks: Family<BreakLabels, Counter>,
    budget_spent: Family<BudgetLabel, Gauge<f64, AtomicU64>>,
    budget_limit: Family<BudgetLabel, Gauge<f64, AtomicU64>>,
    budget_refusals: Family<BudgetLabel, Counter>,
    usage_lost: Family<ReasonLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("isartor");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_duration: Histograms<FinalLayer> =
            Family::new_with_constructor(latency_histogram);
        let layer_duration: Histograms<LayerName> = Family::new_with_constructor(latency_histogram);
        let tokens_saved = Family::<FinalLayer, Counter>::default();
        let cache_events = Family::<CacheEvent, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let shadow = Family::<ShadowLabel, Counter>::default();
        let guard = Family::<RuleLabel, Counter>::default();
        let l2_refused = Family::<ReasonLabel, Counter>::default();
        let money = Family::<MoneyLabels, Counter<f64, AtomicU64>>::default();
        let cache_read = Family::<ClientLabel, Counter>::default();
        let breaks = Family::<BreakLabels, Counter>::default();
        let budget_spent = Family::<BudgetLabel, Gauge<f64, AtomicU64>>::default();
        let budget_limit = Family::<BudgetLabel, Gauge<f64, AtomicU64>>::default();
        let budget_refusals = Family::<BudgetLabel, Counter>::default();
        let usage_lost = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "budget_spent_usd",
            "Dollars of cloud spend counted against each budget in its current period",
            budget_spent.clone(),
        );
        registry.register(
            "budget_limit_usd",
            "Each budget's limit in dollars per period",
            budget_limit.clone(),
        );
        registry.register(
            "budget_refusals",
            "Requests refused (429) because a cache-only or block budget was spent",
            budget_refusals.clone(),
        );
        registry.register(
            "usage_rows_lost",
            "Request rows the usage history could not keep: queue_full (the writer fell behind) or database (a locked, full or unreadable database)",
            usage_lost.clone(),
        );
        registry.register(
            "provider_cache_read_tokens",
            "Prompt tokens of L3 calls the provider read from its own prompt cache",
            cache_read.clone(),
        );
        registry.register(
            "prompt_cache_breaks",
            "Turns of a session whose provider cache read fell to near nothing, by where the prompt first changed",
            breaks.clone(),
        );
        registry.register(
            "cost_usd",
            "Dollars spent by L3 calls (kind=spent), saved by deflected requests (kind=saved) and saved by the provider's prompt cache on L3 calls (kind=provider_cache_saved: cache reads at the input price less their cache-read price), by client and priced model",
            money.clone(),
        );
        registry.register(
            "l2_refused",
            "Local answers refused by their checks, or not started for lack of time, by reason",
            l2_refused.clone(),
        );
        registry.register(
            "requests",
            "Requests by the layer that answered, HTTP status and client tool",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival to its last response byte",
            request_duration.clone(),
        );
        registry.register(
            "layer_duration_seconds",
            "Time spent in each layer a request passed through",
            layer_duration.clone(),
        );
        registry.register(
            "tokens_saved",
            "Provider tokens not spent because a request was deflected",
            tokens_saved.clone(),
        );
        registry.register(
            "cache_events",
            "Cache lookups by layer and outcome (hit, miss, degraded)",
            cache_events.clone(),
        );
        registry.register(
            "errors",
            "Failed requests by layer and error class",
            errors.clone(),
        );
        registry.register(
            "semantic_shadow",
            "Semantic hits not served (semantic_mode = shadow), by how the fresh answer compared: identical, similar (embeddings alike) or differs",
            shadow.clone(),
        );
        registry.register(
            "semantic_guard_refusals",
            "Semantic candidates above the threshold that the near-miss guard refused, by rule",
            guard.clone(),
        );
        Metrics {
            registry,
            requests,
            request_duration,
            layer_duration,
            tokens_saved,
            cache_events,
            errors,
            shadow,
            guard,
            l2_refused,
            money,
            cache_read,
            breaks,
            budget_spent,
            budget_limit,
            budget_refusals,
            usage_lost,
        }
    }

    /// Sets a budget's limit and what its period has spent so far.
    pub fn budget(&self, name: &str, spent: f64, limit: f64) {
        let label = BudgetLabel {
            budget: name.to_string(),
        };
        self.budget_spent.get_or_create(&label).set(spent);
        self.budget_limit.get_or_create(&label).set(limit);
    }

    /// Counts a request a spent budget refused.
    pub fn budget_refusal(&self, name: &str) {
        self.budget_refusals
            .get_or_create(&BudgetLabel {
                budget: name.to_string(),
            })
            .inc();
    }

    /// Counts request rows the usage history lost (`queue_full` or `database`).
    pub fn usage_lost(&self, reason: &'static str, rows: u64) {
        self.usage_lost
            .get_or_create(&ReasonLabel { reason })
            .inc_by(rows);
    }

    /// Counts one finished request.
    pub fn record(&self, e: &RequestEvent) {
        let final_layer = layer_label(e.layer);
        self.requests
            .get_or_create(&RequestLabels {
                final_layer,
                http_status: e.status,
                client: e.client.clone(),
            })
            .inc();
        self.request_duration
            .get_or_create(&FinalLayer { final_layer })
            .observe(e.latency_micros as f64 / 1e6);
        for t in &e.layers {
            self.layer_duration
                .get_or_create(&LayerName {
                    layer_name: layer_label(Some(t.layer)),
                })
                .observe(t.micros as f64 / 1e6);
            let Some((cache_layer, outcome)) = t.cache_event() else {
                continue;
            };
            self.cache_events
                .get_or_create(&CacheEvent {
                    cache_layer,
                    outcome,
                })
                .inc();
        }
        if e.layer == Some(Layer::L3) && e.tokens_cache_read > 0 {
            self.cache_read
                .get_or_create(&ClientLabel {
                    client: e.client.clone(),
                })
                .inc_by(e.tokens_cache_read);
        }
        if e.tokens_saved > 0 {
            self.tokens_saved
                .get_or_create(&FinalLayer { final_layer })
                .inc_by(e.tokens_saved);
        }
        if let Some(class) = &e.error {
            self.errors
                .get_or_create(&ErrorLabels {
                    layer: final_layer,
                    error_class: class.clone(),
                })
                .inc();
        }
    }

    /// Counts a semantic hit shadow mode did not serve, by how the fresh answer compared.
    pub fn shadow(&self, verdict: super::stats::Verdict) {
        let outcome = verdict.as_str();
        self.shadow.get_or_create(&ShadowLabel { outcome }).inc();
    }

    /// Adds what a request spent or saved; `model` is the price table's name for its model.
    pub fn money(&self, e: &RequestEvent, model: Option<&str>) {
        let model = model.map_or("other", |m| super::prices::known_name(m).unwrap_or("other"));
        for (kind, usd) in [
            ("spent", e.cost_usd),
            ("saved", e.saved_usd),
            ("provider_cache_saved", e.provider_saved_usd),
        ] {
            if usd > 0.0 {
                self.money
                    .get_or_create(&MoneyLabels {
                        kind,
                        client: e.client.clone(),
                        model,
                    })
                    .inc_by(usd);
            }
        }
    }

    /// Counts a break of a session's provider cache, by where its prompt first changed.
    pub fn cache_break(&self, client: &str, at: &str) {
        let at = match at {
            "system" => "system",
            "tools" => "tools",
            "unchanged" => "unchanged",
            _ => "messages",
        };
        self.breaks
            .get_or_create(&BreakLabels {
                client: client.to_string(),
                at,
            })
            .inc();
    }

    /// Counts a local answer sent to L3 instead, by reason.
    pub fn l2_refused(&self, reason: &'static str) {
        self.l2_refused.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts a semantic candidate the guard refused, by the rule that refused it.
    pub fn guard_refusal(&self, rule: &'static str) {
        self.guard.get_or_create(&RuleLabel { rule }).inc();
    }

    /// The OpenMetrics text exposition (ends in `# EOF`).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Surface;
    use crate::telemetry::events::{LayerOutcome, LayerTiming};

    fn event(layer: Option<Layer>, status: u16, timings: Vec<LayerTiming>) -> RequestEvent {
        RequestEvent {
            id: 1,
            at_ms: 0,
            surface: Surface::Gateway,
            format: None,
            client: "curl".into(),
            model: "m".into(),
            layer,
            deflected: layer == Some(Layer::L1a),
            status,
            latency_micros: 120,
            layers: timings,
            tokens_in: 5,
            tokens_out: 5,
            tokens_cache_read: 0,
            tokens_cache_write: 0,
            cost_usd: 0.0,
            saved_usd: 0.0,
            provider_saved_usd: 0.0,
            tokens_saved: if layer == Some(Layer::L1a) { 10 } else { 0 },
            error: (status >= 400).then(|| "upstream_timeout".to_string()),
            provider: None,
            called_model: None,
            preview: String::new(),
            trace_parent: None,
            router_decision: None,
            session: None,
            cache_break: None,
            prefix: Vec::new(),
            readable: None,
        }
    }

    #[test]
    fn renders_the_documented_names_and_labels() {
        let m = Metrics::new();
        let hit = LayerTiming {
            layer: Layer::L1a,
            start_micros: 3,
            score: None,
            micros: 40,
            outcome: LayerOutcome::Hit,
        };
        let miss = LayerTiming {
            outcome: LayerOutcome::Miss,
            ..hit
        };
        m.record(&event(Some(Layer::L1a), 200, vec![hit]));
        m.record(&event(Some(Layer::L1a), 200, vec![hit]));
        m.record(&event(Some(Layer::L3), 502, vec![miss]));
        let text = m.render();
        for line in [
            r#"isartor_requests_total{final_layer="L1a_ExactCache",http_status="200",client="curl"} 2"#,
            r#"isartor_requests_total{final_layer="L3_Cloud",http_status="502",client="curl"} 1"#,
            r#"isartor_tokens_saved_total{final_layer="L1a_ExactCache"} 20"#,
            r#"isartor_cache_events_total{cache_layer="L1a",outcome="hit"} 2"#,
            r#"isartor_cache_events_total{cache_layer="L1a",outcome="miss"} 1"#,
            r#"isartor_errors_total{layer="L3_Cloud",error_class="upstream_timeout"} 1"#,
            r#"isartor_request_duration_seconds_count{final_layer="L1a_ExactCache"} 2"#,
            r#"isartor_layer_duration_seconds_bucket{le="0.00005",layer_name="L1a_ExactCache"} 3"#,
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
