//! The cascade: L1a exact cache → L1b semantic cache → L2 local model → L3 cloud. It takes a
//! canonical [`Exchange`] and returns an [`Outcome`]; it knows layers, not servers, sockets or
//! terminals. Every request's [`Tracker`] travels with it and publishes one event at the end.

pub mod answer_check;
pub mod cloud;
pub mod deadline;
pub mod exact;
pub mod guard;
mod local_stream;
pub mod manage;
pub mod misses;
pub mod semantic;
mod tee;
pub mod triage;
pub mod warm;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use http::{HeaderMap, StatusCode};
use serde::Serialize;

use crate::config::{CacheMode, Config, ConfigError, Settings};
use crate::exchange::key::{self, CacheKey};
use crate::exchange::{Exchange, Message, Reply, estimate_tokens};
use crate::store::{Meta, Rendered, ReplyStore, Stored};
use crate::telemetry::budgets::Refusal;
use crate::telemetry::stats::Verdict;
use crate::telemetry::{Bus, ErrorCode, Layer, LayerOutcome, Tracker};
use semantic::Lookup;
use triage::Decision;
pub use warm::LayerStatus;

/// A body streamed to the client as it arrives.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// What the pipeline produced for one exchange.
pub enum Outcome {
    /// A complete canonical reply (a cache hit, a local answer, or a fully read L3 reply); the
    /// surface renders it as JSON or SSE in the client's format.
    Reply {
        layer: Layer,
        reply: Arc<Reply>,
        /// Seconds since a cached reply was stored (HTTP `Age`); `None` for a fresh one.
        age: Option<u64>,
        /// The entry's bodies as earlier hits rendered them (L1a), to send without rendering.
        rendered: Option<Arc<Rendered>>,
        /// The cloud provider that produced it (L3 only).
        provider: Option<&'static str>,
        /// The cosine similarity of a semantic hit (L1b only).
        similarity: Option<f32>,
        /// An expired entry served because every provider failed (`X-Isartor-Stale: true`).
        stale: bool,
        tracker: Tracker,
    },
    /// An upstream response passed through as it arrives. The stream owns the tracker and
    /// publishes the event when it ends.
    Stream {
        layer: Layer,
        status: StatusCode,
        headers: HeaderMap,
        provider: Option<&'static str>,
        body: ByteStream,
    },
    /// No layer could answer; the surface renders the error in the client's format.
    Failed {
        layer: Layer,
        error: PipelineError,
        tracker: Tracker,
    },
}

/// The answer to a token-count request.
pub enum Counted {
    /// The provider's own answer, passed through.
    Forwarded(Outcome),
    /// A local estimate.
    Estimated { tokens: u64, tracker: Tracker },
}

/// A failure that reaches the client (only L3 failures do: earlier layers fail open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Seconds the client should wait before trying again (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl PipelineError {
    /// Whether the providers failed (5xx, a timeout, no connection, offline): the failures a
    /// stale answer may cover. A provider's 4xx is the request's own fault and is not covered.
    pub fn is_provider_failure(&self) -> bool {
        self.status.is_server_error() || self.code == ErrorCode::OfflineMode
    }

    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> PipelineError {
        PipelineError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 502: the provider failed us, in the way `code` names.
    pub fn bad_gateway(code: ErrorCode, message: impl Into<String>) -> PipelineError {
        PipelineError::new(StatusCode::BAD_GATEWAY, code, message)
    }

    /// A 429: a spent budget refuses the request until its next period.
    pub fn budget(refusal: Refusal) -> PipelineError {
        PipelineError {
            retry_after: Some(refusal.retry_after_secs),
            ..PipelineError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::BudgetExceeded,
                refusal.message,
            )
        }
    }
}

/// What to do with a complete upstream reply: store it in every cache layer that missed (for
/// the request's own TTL, when it asked for one), described by `meta`.
#[derive(Default)]
pub struct Remember {
    exact: Option<(Arc<dyn ReplyStore>, CacheKey)>,
    semantic: Option<semantic::Insert>,
    ttl: Option<Duration>,
    meta: Arc<Meta>,
    /// `semantic_mode = shadow`: the semantic hit not served, judged against the fresh answer.
    shadow: Option<Shadow>,
}

/// A semantic hit shadow mode did not serve.
struct Shadow {
    candidate: Arc<Reply>,
    layer: Arc<semantic::SemanticLayer>,
    bus: Bus,
}

impl Remember {
    /// Stores the reply; the future completes when every store has it (failures are logged).
    pub fn store(self, reply: Arc<Reply>) -> BoxFuture<'static, ()> {
        async move {
            if let Some(shadow) = self.shadow {
                shadow.bus.shadow(None);
                if semantic::SemanticLayer::identical(&shadow.candidate, &reply) {
                    shadow.bus.shadow(Some(Verdict::Identical));
                } else {
                    // Judged off the response path: it embeds both answers.
                    let fresh = reply.clone();
                    tokio::spawn(async move {
                        let similar = shadow.layer.similar(&shadow.candidate, &fresh).await;
                        shadow.bus.shadow(Some(match similar {
                            true => Verdict::Similar,
                            false => Verdict::Differs,
                        }));
                    });
                }
            }
            if let Some(insert) = self.semantic {
                insert.store(reply.clone(), self.meta.clone(), self.ttl);
            }
            if let Some((store, key)) = self.exact
                && let Err(e) = store.put(key, reply, self.meta, self.ttl).await
            {
                tracing::debug!("exact cache insert failed: {e}");
            }
        }
        .boxed()
    }

    /// The same, for an answer of `layer` (L2's, not L3's).
    fn by(mut self, layer: &str) -> Remember {
        Arc::make_mut(&mut self.meta).layer = layer.to_string();
        self
    }
}

/// A session name for a client that sends none: its conversation's start (system prompt, tools
/// and first message), hashed.
fn conversation(prefix: &[u64]) -> String {
    let start: Vec<u64> = prefix.iter().take(3).copied().collect();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&start, &mut h);
    format!(
        "conv-{:012x}",
        std::hash::Hasher::finish(&h) & 0xffff_ffff_ffff
    )
}

/// Health of one layer, for `/health`.
#[derive(Debug, Clone, Serialize)]
pub struct LayerHealth {
    pub enabled: bool,
    pub status: LayerStatus,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub l1a: LayerHealth,
    pub l1b: LayerHealth,
    pub l2: LayerHealth,
    pub l3: LayerHealth,
}

pub struct Pipeline {
    exact: Option<exact::ExactLayer>,
    semantic: Option<Arc<semantic::SemanticLayer>>,
    triage: Option<triage::Triage>,
    cloud: cloud::Cloud,
    bus: Bus,
    cache_mode: CacheMode,
    /// The recent misses `isartor cache why` explains.
    misses: misses::Misses,
    /// What the last request was answered from or stored in (`isartor cache forget --last`).
    touched: Mutex<manage::Touched>,
}

impl Pipeline {
    pub fn new(config: &Config, settings: &Settings, bus: Bus) -> Result<Pipeline, ConfigError> {
        let exact = match config.cache_mode {
            CacheMode::Semantic => None,
            _ => Some(exact::ExactLayer::new(config)?),
        };
        let semantic =
            (config.cache_mode != CacheMode::Exact).then(|| semantic::SemanticLayer::start(config));
        Ok(Pipeline {
            exact,
            semantic,
            triage: triage::Triage::new(config),
            cloud: cloud::Cloud::new(config, settings)?,
            bus,
            cache_mode: config.cache_mode,
            misses: misses::Misses::default(),
            touched: Mutex::default(),
        })
    }

    /// Whether an exact entry may be served: the exact copy of a semantic hit only while its
    /// source entry is held (it goes when the source is forgotten or evicted).
    fn source_held(&self, stored: &Stored) -> bool {
        match (stored.meta.source, &self.semantic) {
            (Some(id), Some(semantic)) => semantic.contains(&id),
            _ => true,
        }
    }

    /// Records what the request was answered from or stored in. Never waits: when another
    /// request holds the slot it is recording at the same moment, and either is "the last".
    fn touch(&self, exact: Option<CacheKey>, semantic: Option<CacheKey>) {
        if let Ok(mut touched) = self.touched.try_lock() {
            *touched = manage::Touched { exact, semantic };
        }
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Runs one exchange down the cascade.
    pub async fn handle(&self, exchange: Exchange, mut tracker: Tracker) -> Outcome {
        let prompt = exchange.last_user_turn().and_then(Message::first_text);
        tracker.describe(exchange.format, &exchange.model, prompt.unwrap_or(""));
        let mut cloud_refused = None;
        if !self.bus.budgets().is_empty() {
            let (client, model, _) = tracker.who();
            let standing = self
                .bus
                .budgets()
                .standing(client, model, crate::telemetry::unix_ms());
            if let Some(refusal) = standing.blocked {
                return self.refuse(refusal, tracker);
            }
            cloud_refused = standing.cloud_refused;
        }
        let key = key::exact_key(&exchange);
        let policy = exchange.cache;
        let mut remember = Remember {
            ttl: policy.ttl.map(Duration::from_secs),
            ..Remember::default()
        };
        // An expired entry the store kept for stale-if-error: served only if every provider fails.
        let mut stale = None;
        if let Some(exact) = &self.exact
            && policy.lookup
        {
            tracker.enter(Layer::L1a);
            let started = Instant::now();
            match exact.get(&key).await {
                Ok(Some(stored))
                    if stored.is_fresh()
                        && policy.accepts_age(stored.age_secs())
                        && self.source_held(&stored) =>
                {
                    exact.store().hit(&key, &stored);
                    self.touch(Some(key), stored.meta.source);
                    tracker.layer(Layer::L1a, started.elapsed(), LayerOutcome::Hit);
                    tracker.usage(Layer::L1a, stored.reply.usage);
                    return Outcome::Reply {
                        layer: Layer::L1a,
                        age: stored.age_secs(),
                        rendered: Some(stored.rendered),
                        reply: stored.reply,
                        provider: None,
                        similarity: None,
                        stale: false,
                        tracker,
                    };
                }
                Ok(found) => {
                    stale = found.filter(|s| !s.is_fresh() && self.source_held(s));
                    tracker.layer(Layer::L1a, started.elapsed(), LayerOutcome::Miss);
                }
                Err(e) => {
                    // The store logs its failures (once a minute); here it is a miss.
                    tracing::debug!("exact cache lookup failed, going on without it: {e}");
                    tracker.layer(Layer::L1a, started.elapsed(), LayerOutcome::Degraded);
                }
            }
        }
        if let Some(exact) = &self.exact
            && policy.store
        {
            remember.exact = Some((exact.store(), key));
        }
        let last_turn = exchange
            .last_user_turn()
            .map(Message::text)
            .unwrap_or_default();
        let (client, model, preview) = tracker.who();
        remember.meta = Arc::new(Meta {
            client: client.to_string(),
            model: model.to_string(),
            preview: preview.to_string(),
            prompt: manage::prompt_hash(&last_turn),
            layer: "L3".into(),
            source: None,
        });
        let mut semantic_miss = None;
        // With `max-age` only the exact cache answers: it knows each entry's age.
        if let Some(semantic) = &self.semantic
            && policy.lookup
            && policy.max_age.is_none()
            && let Some((context, text)) = semantic::eligible(&exchange)
        {
            tracker.enter(Layer::L1b);
            let started = Instant::now();
            match semantic.lookup(context, &text).await {
                Lookup::Hit {
                    reply,
                    score,
                    age,
                    id,
                    left,
                } => {
                    tracker.scored(
                        Layer::L1b,
                        started.elapsed(),
                        LayerOutcome::Hit,
                        Some(score),
                    );
                    tracker.usage(Layer::L1b, reply.usage);
                    // The served answer is this exact request's answer now: an exact repeat
                    // should cost a hash, not another embedding. The copy lives no longer than
                    // its source and names it, so it goes when the source goes.
                    self.touch(Some(key), Some(id));
                    let mut meta = (*remember.meta).clone();
                    meta.layer = "L1b".into();
                    meta.source = Some(id);
                    let ttl = remember.ttl.map_or(left, |t| t.min(left));
                    if let Some((store, key)) = remember.exact
                        && let Err(e) = store
                            .put(key, reply.clone(), Arc::new(meta), Some(ttl))
                            .await
                    {
                        tracing::debug!("exact cache insert failed: {e}");
                    }
                    return Outcome::Reply {
                        layer: Layer::L1b,
                        age: Some(age),
                        rendered: None,
                        reply,
                        provider: None,
                        similarity: Some(score),
                        stale: false,
                        tracker,
                    };
                }
                Lookup::Miss {
                    insert,
                    best,
                    rejected,
                    shadow,
                } => {
                    if let Some(why) = rejected {
                        self.bus.metrics().guard_refusal(why.as_str());
                        tracing::debug!(
                            "l1b: a candidate at {:.3} was refused by the guard ({})",
                            best.unwrap_or(0.0),
                            why.as_str()
                        );
                    }
                    tracker.scored(Layer::L1b, started.elapsed(), LayerOutcome::Miss, best);
                    semantic_miss = Some(misses::SemanticMiss {
                        best,
                        threshold: semantic.threshold(),
                        refused_by: rejected.map(|r| r.as_str().to_string()),
                    });
                    remember.shadow = shadow.map(|candidate| Shadow {
                        candidate,
                        layer: semantic.clone(),
                        bus: self.bus.clone(),
                    });
                    remember.semantic = policy.store.then_some(insert);
                }
                Lookup::Degraded => {
                    tracker.layer(Layer::L1b, started.elapsed(), LayerOutcome::Degraded);
                }
                Lookup::Skipped => {}
            }
        }
        // What the key covers, as text: for `cache why`, and for where a session's provider
        // cache broke (shared, computed once).
        let readable = policy.lookup.then(|| Arc::new(key::readable(&exchange)));
        if let Some(readable) = &readable {
            let (client, _, preview) = tracker.who();
            self.misses.record(misses::Missed {
                at_ms: crate::store::unix_ms(),
                key,
                client: client.to_string(),
                preview: preview.to_string(),
                readable: readable.clone(),
                semantic: semantic_miss,
            });
        }
        self.touch(
            remember.exact.as_ref().map(|(_, k)| *k),
            remember.semantic.as_ref().map(semantic::Insert::id),
        );
        if let Some(triage) = &self.triage
            && triage::Triage::eligible(&exchange)
        {
            tracker.enter(Layer::L2);
            let started = Instant::now();
            match triage.run(&exchange).await {
                Decision::Answer { label, reply } => {
                    tracker.layer(Layer::L2, started.elapsed(), LayerOutcome::Answered);
                    tracker.router_decision(label.as_str());
                    tracker.usage(Layer::L2, reply.usage);
                    remember.by("L2").store(reply.clone()).await;
                    return Outcome::Reply {
                        layer: Layer::L2,
                        age: None,
                        rendered: None,
                        reply,
                        provider: None,
                        similarity: None,
                        stale: false,
                        tracker,
                    };
                }
                Decision::Stream {
                    label,
                    opening,
                    rest,
                    model,
                } => {
                    // The layer's time is to the first words; the event ends with the stream.
                    tracker.layer(Layer::L2, started.elapsed(), LayerOutcome::Answered);
                    tracker.router_decision(label.as_str());
                    return local_stream::outcome(
                        &exchange,
                        opening,
                        rest,
                        model,
                        remember.by("L2"),
                        tracker,
                    );
                }
                Decision::Escalate { decision, refused } => {
                    if let Some(why) = refused {
                        self.bus.l2_refused(why);
                    }
                    tracker.layer(Layer::L2, started.elapsed(), LayerOutcome::Miss);
                    tracker.router_decision(&decision);
                }
                Decision::Degraded { error } => {
                    tracing::debug!("l2 skipped: {error}");
                    tracker.layer(Layer::L2, started.elapsed(), LayerOutcome::Degraded);
                    tracker.router_decision("COMPLEX (local model unavailable)");
                }
            }
        }
        // The provider's prompt cache is watched per session (telemetry::sessions).
        let prefix = key::prefix_fingerprint(&exchange);
        let session = match &exchange.session {
            Some(id) => id.clone(),
            None => conversation(&prefix),
        };
        tracker.session(&session, prefix, readable);
        if let Some(refusal) = cloud_refused {
            return self.refuse(refusal, tracker);
        }
        let outcome = self.cloud.answer(exchange, remember, tracker).await;
        match (outcome, stale) {
            (
                Outcome::Failed {
                    error, mut tracker, ..
                },
                Some(stale),
            ) if error.is_provider_failure() => {
                tracing::warn!(
                    "l3 failed ({}); serving a stale cached answer",
                    error.code.class()
                );
                tracker.layer(Layer::L1a, Duration::ZERO, LayerOutcome::Stale);
                tracker.usage(Layer::L1a, stale.reply.usage);
                Outcome::Reply {
                    layer: Layer::L1a,
                    age: stale.age_secs(),
                    rendered: None,
                    reply: stale.reply,
                    provider: None,
                    similarity: None,
                    stale: true,
                    tracker,
                }
            }
            (outcome, _) => outcome,
        }
    }

    /// Refuses a request for a spent budget (a 429 that names it and when it resets).
    fn refuse(&self, refusal: Refusal, tracker: Tracker) -> Outcome {
        self.bus.metrics().budget_refusal(&refusal.budget);
        Outcome::Failed {
            layer: Layer::L3,
            error: PipelineError::budget(refusal),
            tracker,
        }
    }

    /// Counts an Anthropic request's prompt tokens: forwarded to an Anthropic primary, or
    /// estimated here (4 bytes a token over system, messages and tools) for any other provider.
    pub async fn count_tokens(&self, exchange: Exchange, tracker: Tracker) -> Counted {
        match self.cloud.count_tokens(&exchange, tracker).await {
            Ok(outcome) => Counted::Forwarded(outcome),
            Err(tracker) => {
                let tools = exchange.tools.as_ref().map_or(0, |t| t.to_string().len());
                let tokens = exchange.estimated_prompt_tokens() + estimate_tokens(tools);
                Counted::Estimated { tokens, tracker }
            }
        }
    }

    pub fn health(&self) -> Health {
        let l1a = match &self.exact {
            Some(exact) => match exact.degraded() {
                Some(why) => LayerHealth {
                    enabled: true,
                    status: LayerStatus::Degraded,
                    detail: why,
                },
                None => LayerHealth {
                    enabled: true,
                    status: LayerStatus::Ready,
                    detail: exact.detail(),
                },
            },
            None => LayerHealth {
                enabled: false,
                status: LayerStatus::Disabled,
                detail: format!("cache_mode = {:?}", self.cache_mode).to_lowercase(),
            },
        };
        Health {
            l1a,
            l1b: match &self.semantic {
                Some(s) => s.health(),
                None => LayerHealth {
                    enabled: false,
                    status: LayerStatus::Disabled,
                    detail: format!("cache_mode = {:?}", self.cache_mode).to_lowercase(),
                },
            },
            l2: match &self.triage {
                Some(t) => t.health(),
                None => LayerHealth {
                    enabled: false,
                    status: LayerStatus::Disabled,
                    detail: "enable_slm_router = false".into(),
                },
            },
            l3: self.cloud.health(),
        }
    }
}
