//! Live aggregates for `isartor top` and `isartor stats`: totals per final layer, deflection,
//! latency percentiles per layer, tokens and money saved, requests per client tool, per-second
//! rates, and the most recent requests. Updated from every published event; [`Stats::snapshot`]
//! is what the control socket sends.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::events::{Layer, LayerOutcome, RequestEvent};

/// Recent requests kept for display.
const RECENT: usize = 50;
/// Seconds of per-second rates kept (for sparklines).
const RATE_WINDOW: usize = 60;

const LAYERS: [Layer; 4] = [Layer::L1a, Layer::L1b, Layer::L2, Layer::L3];

fn slot(layer: Layer) -> usize {
    LAYERS.iter().position(|l| *l == layer).unwrap_or(3)
}

/// One recent request, as shown in `top`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recent {
    pub at_ms: u64,
    pub client: String,
    pub surface: String,
    pub layer: Option<Layer>,
    pub latency_micros: u64,
    pub status: u16,
    pub preview: String,
}

/// Latency percentiles of one layer, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
}

/// Requests and deflections in one second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Second {
    pub unix: u64,
    pub requests: u64,
    pub deflected: u64,
}

/// Counts and latency of one final layer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    pub requests: u64,
    pub latency_micros: Percentiles,
}

/// Everything `top` and `stats` show, at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: String,
    pub uptime_secs: u64,
    pub requests: u64,
    /// Served before L3 with a 2xx.
    pub deflected: u64,
    /// `deflected / requests` (0 when there were none).
    pub deflection_rate: f64,
    /// Rejected before the pipeline, or failed (status ≥ 400).
    pub errors: u64,
    /// Expired answers served because every provider failed (stale-if-error).
    #[serde(default)]
    pub stale: u64,
    /// `semantic_mode = shadow`: semantic hits found but not served, and how many of them the
    /// fresh answer agreed with.
    #[serde(default)]
    pub shadow: ShadowStats,
    /// Local answers refused by their checks, or not started for lack of time, by reason.
    #[serde(default)]
    pub l2_refused: BTreeMap<String, u64>,
    /// The provider's prompt cache in the most recent sessions, newest first.
    #[serde(default)]
    pub sessions: Vec<super::sessions::SessionView>,
    /// Per final layer: `l1a`, `l1b`, `l2`, `l3`.
    pub layers: BTreeMap<String, LayerStats>,
    pub tokens_saved: u64,
    pub cost_saved_usd: f64,
    /// Dollars L3 calls spent (at the price table's prices).
    #[serde(default)]
    pub cost_spent_usd: f64,
    /// Dollars the provider's prompt cache saved on L3 calls.
    #[serde(default)]
    pub provider_cache_saved_usd: f64,
    /// Each budget's spend in its current period.
    #[serde(default)]
    pub budgets: Vec<super::budgets::BudgetView>,
    pub clients: BTreeMap<String, u64>,
    /// The last seconds, oldest first.
    pub per_second: Vec<Second>,
    /// Newest first.
    pub recent: Vec<Recent>,
}

/// What shadow mode has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowStats {
    /// Semantic hits found and not served, judged so far.
    pub would_serve: u64,
    /// Of those, how many fresh answers were the same as the candidate's.
    pub identical: u64,
    /// Of those, how many agreed: the same, or embeddings alike.
    pub agreed: u64,
    /// Found and not judged yet (the judge embeds both answers off the request path).
    pub pending: u64,
}

/// How a fresh answer compared with the one shadow mode did not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Identical,
    Similar,
    Differs,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Identical => "identical",
            Verdict::Similar => "similar",
            Verdict::Differs => "differs",
        }
    }
}

impl Snapshot {
    /// `n` as a percentage of all requests (0 when there were none).
    pub fn share_percent(&self, n: u64) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            n as f64 * 100.0 / self.requests as f64
        }
    }
}

pub struct Stats {
    started: Instant,
    requests: u64,
    deflected: u64,
    errors: u64,
    stale: u64,
    shadow: ShadowStats,
    pub(super) l2_refused: BTreeMap<String, u64>,
    pub(super) sessions: super::sessions::Sessions,
    by_layer: [u64; 4],
    latency: [Histogram<u64>; 4],
    tokens_saved: u64,
    saved_usd: f64,
    spent_usd: f64,
    provider_saved_usd: f64,
    clients: BTreeMap<String, u64>,
    per_second: VecDeque<Second>,
    recent: VecDeque<Recent>,
}

impl Default for Stats {
    fn default() -> Stats {
        let histogram = || Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
        Stats {
            started: Instant::now(),
            requests: 0,
            deflected: 0,
            errors: 0,
            stale: 0,
            shadow: ShadowStats::default(),
            l2_refused: BTreeMap::new(),
            sessions: super::sessions::Sessions::default(),
            by_layer: [0; 4],
            latency: [histogram(), histogram(), histogram(), histogram()],
            tokens_saved: 0,
            saved_usd: 0.0,
            provider_saved_usd: 0.0,
            spent_usd: 0.0,
            clients: BTreeMap::new(),
            per_second: VecDeque::with_capacity(RATE_WINDOW + 1),
            recent: VecDeque::with_capacity(RECENT + 1),
        }
    }
}

impl Stats {
    pub fn record(&mut self, e: &RequestEvent) {
        self.requests += 1;
        if e.deflected {
            self.deflected += 1;
            self.tokens_saved += e.tokens_saved;
        }
        self.saved_usd += e.saved_usd;
        self.spent_usd += e.cost_usd;
        self.provider_saved_usd += e.provider_saved_usd;
        if e.status >= 400 || e.layer.is_none() {
            self.errors += 1;
        }
        if e.layers.iter().any(|t| t.outcome == LayerOutcome::Stale) {
            self.stale += 1;
        }
        if let Some(layer) = e.layer {
            let i = slot(layer);
            self.by_layer[i] += 1;
            self.latency[i].saturating_record(e.latency_micros.max(1));
        }
        *self.clients.entry(e.client.clone()).or_default() += 1;
        let second = e.at_ms / 1000;
        match self.per_second.back_mut() {
            Some(s) if s.unix == second => {
                s.requests += 1;
                s.deflected += u64::from(e.deflected);
            }
            _ => {
                self.per_second.push_back(Second {
                    unix: second,
                    requests: 1,
                    deflected: u64::from(e.deflected),
                });
                if self.per_second.len() > RATE_WINDOW {
                    self.per_second.pop_front();
                }
            }
        }
        self.recent.push_front(Recent {
            at_ms: e.at_ms,
            client: e.client.clone(),
            surface: e.surface.as_str().to_string(),
            layer: e.layer,
            latency_micros: e.latency_micros,
            status: e.status,
            preview: e.preview.clone(),
        });
        self.recent.truncate(RECENT);
    }

    /// Counts a semantic hit shadow mode did not serve, as found (`None`) or as judged.
    pub fn shadow(&mut self, verdict: Option<Verdict>) {
        let s = &mut self.shadow;
        match verdict {
            None => s.pending += 1,
            Some(v) => {
                s.pending = s.pending.saturating_sub(1);
                s.would_serve += 1;
                s.identical += u64::from(v == Verdict::Identical);
                s.agreed += u64::from(v != Verdict::Differs);
            }
        }
    }

    /// The current numbers.
    pub fn snapshot(&self) -> Snapshot {
        let layers = LAYERS
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let h = &self.latency[i];
                let stats = LayerStats {
                    requests: self.by_layer[i],
                    latency_micros: Percentiles {
                        p50: h.value_at_quantile(0.50),
                        p95: h.value_at_quantile(0.95),
                        p99: h.value_at_quantile(0.99),
                    },
                };
                (l.as_str().to_string(), stats)
            })
            .collect();
        Snapshot {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_secs: self.started.elapsed().as_secs(),
            requests: self.requests,
            deflected: self.deflected,
            deflection_rate: if self.requests == 0 {
                0.0
            } else {
                self.deflected as f64 / self.requests as f64
            },
            errors: self.errors,
            stale: self.stale,
            shadow: self.shadow,
            l2_refused: self.l2_refused.clone(),
            sessions: self.sessions.recent(10),
            layers,
            tokens_saved: self.tokens_saved,
            cost_saved_usd: self.saved_usd,
            cost_spent_usd: self.spent_usd,
            provider_cache_saved_usd: self.provider_saved_usd,
            budgets: Vec::new(),
            clients: self.clients.clone(),
            per_second: self.per_second.iter().copied().collect(),
            recent: self.recent.iter().cloned().collect(),
        }
    }
}

/// A short, display-safe preview of a prompt: one line, at most 60 characters, and any
/// key-like word (long runs of letters, digits, `-` and `_`, e.g. `sk-…`) masked.
/// It reads only as many words as it shows: a 50 KB prompt costs what a short one does.
pub fn preview(text: &str) -> String {
    const CHARS: usize = 60;
    let mut line = String::with_capacity(CHARS + 4);
    let mut shown = 0;
    for w in text.split_whitespace() {
        let keyish = w.len() >= 24
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && w.chars().any(|c| c.is_ascii_digit());
        let word = if keyish || w.starts_with("sk-") {
            "[redacted]"
        } else {
            w
        };
        if shown > 0 {
            line.push(' ');
            shown += 1;
        }
        // Terminal escapes and other control characters are never shown raw (`top`, `stats`).
        for c in word.chars().filter(|c| !c.is_control()) {
            if shown == CHARS {
                line.push('…');
                return line;
            }
            line.push(c);
            shown += 1;
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Surface;

    fn event(layer: Option<Layer>, status: u16, micros: u64, at_ms: u64) -> RequestEvent {
        RequestEvent {
            id: 1,
            at_ms,
            surface: Surface::Gateway,
            format: None,
            client: "curl".into(),
            model: "m".into(),
            layer,
            deflected: layer.is_some_and(Layer::deflects) && status < 400,
            status,
            latency_micros: micros,
            layers: Vec::new(),
            tokens_in: 0,
            tokens_out: 0,
            tokens_cache_read: 0,
            tokens_cache_write: 0,
            tokens_saved: if layer == Some(Layer::L1a) { 500 } else { 0 },
            cost_usd: if layer == Some(Layer::L3) { 0.02 } else { 0.0 },
            saved_usd: if layer == Some(Layer::L1a) {
                0.005
            } else {
                0.0
            },
            provider_saved_usd: 0.0,
            error: None,
            provider: None,
            called_model: None,
            preview: "hello".into(),
            trace_parent: None,
            router_decision: None,
            session: None,
            cache_break: None,
            prefix: Vec::new(),
            readable: None,
        }
    }

    #[test]
    fn counts_rates_percentiles_and_money() {
        let mut s = Stats::default();
        for i in 0..90 {
            s.record(&event(Some(Layer::L1a), 200, 100 + i, 1_000));
        }
        for _ in 0..10 {
            s.record(&event(Some(Layer::L3), 200, 50_000, 2_000));
        }
        s.record(&event(None, 401, 10, 2_500));
        let snap = s.snapshot();
        assert_eq!((snap.requests, snap.deflected, snap.errors), (101, 90, 1));
        assert!((snap.deflection_rate - 90.0 / 101.0).abs() < 1e-9);
        assert_eq!(snap.layers["l1a"].requests, 90);
        let p = snap.layers["l1a"].latency_micros;
        assert!((140..=150).contains(&p.p50), "{p:?}");
        assert!(p.p99 >= p.p95 && p.p95 >= p.p50);
        assert_eq!(snap.layers["l3"].latency_micros.p50 / 1000, 50);
        assert_eq!(snap.tokens_saved, 45_000);
        assert!((snap.cost_saved_usd - 0.45).abs() < 1e-9);
        assert!((snap.cost_spent_usd - 0.2).abs() < 1e-9);
        assert_eq!(snap.clients["curl"], 101);
        assert_eq!(
            snap.per_second,
            vec![
                Second {
                    unix: 1,
                    requests: 90,
                    deflected: 90
                },
                Second {
                    unix: 2,
                    requests: 11,
                    deflected: 0
                }
            ]
        );
        assert_eq!(snap.recent.len(), RECENT);
        assert_eq!(snap.recent[0].status, 401);
    }

    #[test]
    fn previews_are_short_single_line_and_redacted() {
        assert_eq!(preview("fix\nthe   bug"), "fix the bug");
        assert_eq!(
            preview("use key sk-abc please"),
            "use key [redacted] please"
        );
        assert_eq!(
            preview("token ghp_1234567890abcdefghijABCDEFGHIJ ok"),
            "token [redacted] ok"
        );
        let long = preview(&"word ".repeat(40));
        assert_eq!(long.chars().count(), 61);
        assert!(long.ends_with('…'));
    }
}
