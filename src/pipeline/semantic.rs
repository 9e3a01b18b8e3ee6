//! L1b: the semantic cache. A request whose context (everything but the last user turn) is
//! canonically identical to a stored one, and whose last user turn embeds within
//! `similarity_threshold` of the stored turn, is served the stored reply, unless the
//! guard ([`super::guard`]) finds a detail that changes the answer.
//!
//! The embedder loads in the background at start-up; until it is ready, or when it fails, the
//! layer is skipped (fail-open) and `/health` says why.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::config::{CacheBackend, Config, EmbeddingSidecarConfig, SemanticMode};
use crate::exchange::key::CacheKey;
use crate::exchange::{Exchange, Reply};
use crate::inference::embedder::{Bert, Embedder};
use crate::inference::models::{self, Source};
use crate::store::Meta;
use crate::store::shared_vectors::{Change, Entry, SharedVectors};
use crate::store::vectors::{Item, VectorIndex, View};
use crate::telemetry::logs::Throttle;

use super::LayerHealth;
use super::guard::{self, Reject};
use super::warm::{LayerStatus, Warm};

/// Candidates the guard looks at, best first.
const CANDIDATES: usize = 4;
/// How alike two answers' embeddings must be for shadow mode to count them as agreeing.
pub const AGREEMENT: f32 = 0.95;

/// What a lookup found.
pub enum Lookup {
    Hit {
        reply: Arc<Reply>,
        score: f32,
        /// Seconds since the entry was stored.
        age: u64,
        /// The entry's id, and how long it lives still (its exact copy must not outlive it).
        id: CacheKey,
        left: Duration,
    },
    /// No candidate passed; `insert` stores the reply that L3 will produce. `rejected` names the
    /// guard rule that refused the best candidate above the threshold, if any.
    Miss {
        insert: Insert,
        best: Option<f32>,
        rejected: Option<Reject>,
        /// `semantic_mode = shadow`: the hit that was found and not served.
        shadow: Option<Arc<Reply>>,
    },
    /// The layer could not look (embedder failed); the request goes on.
    Degraded,
    /// Not a request for this layer (no plain-text last user turn), or the embedder is loading.
    Skipped,
}

/// A pending insert: the context, text and vector of a request that missed.
pub struct Insert {
    layer: Arc<SemanticLayer>,
    group: CacheKey,
    text: Arc<str>,
    vector: Vec<f32>,
}

impl Insert {
    /// The id the entry will have.
    pub fn id(&self) -> CacheKey {
        crate::exchange::key::semantic_id(&self.group, &self.text)
    }

    /// Stores the reply in this replica's index and, with Redis, for every replica (in the
    /// background: the client never waits on Redis for this), for `ttl` (the request's own,
    /// `X-Isartor-Cache-TTL`) or the configured TTL.
    pub fn store(self, reply: Arc<Reply>, meta: Arc<Meta>, ttl: Option<Duration>) {
        let item = Item {
            group: self.group,
            text: self.text,
            reply,
            meta,
        };
        self.layer.put(item, self.vector, ttl);
    }
}

pub struct SemanticLayer {
    embedder: Warm<Embedder>,
    /// With `cache_backend = "redis"`: entries shared with the other replicas.
    shared: Option<Arc<SharedVectors>>,
    index: RwLock<VectorIndex>,
    ttl: Duration,
    threshold: f32,
    mode: SemanticMode,
    model: Source,
    /// `[embedding_sidecar]`, when it is set: embed over HTTP instead of in-process.
    sidecar: Option<EmbeddingSidecarConfig>,
    failures: Throttle,
}

impl SemanticLayer {
    /// Creates the layer and starts loading the embedder in the background (resolving the model
    /// files offline-first, then loading the weights on a blocking thread).
    pub fn start(config: &Config) -> Arc<SemanticLayer> {
        let shared = (config.cache_backend == CacheBackend::Redis)
            .then(|| {
                SharedVectors::new(
                    &config.redis_url,
                    Duration::from_secs(config.cache_ttl_secs),
                    config.cache_max_capacity as usize,
                    Duration::from_millis(config.redis_timeout_ms),
                )
                .inspect_err(|e| tracing::warn!("l1b: semantic entries stay local: {e}"))
                .ok()
                .map(Arc::new)
            })
            .flatten();
        let layer = Arc::new(SemanticLayer {
            embedder: Warm::default(),
            shared,
            // The dimension is fixed once the model is known; 384 is MiniLM's.
            index: RwLock::new(VectorIndex::new(
                384,
                config.cache_max_capacity as usize,
                Duration::from_secs(config.cache_ttl_secs),
            )),
            ttl: Duration::from_secs(config.cache_ttl_secs),
            threshold: config.similarity_threshold as f32,
            mode: config.semantic_mode,
            model: Source::parse(&config.embedding_model),
            sidecar: (!config.embedding_sidecar.sidecar_url.is_empty())
                .then(|| config.embedding_sidecar.clone()),
            failures: Throttle::new(Duration::from_secs(60)),
        });
        let loading = layer.clone();
        let (offline, capacity, ttl) = (
            config.offline_mode,
            config.cache_max_capacity as usize,
            Duration::from_secs(config.cache_ttl_secs),
        );
        tokio::spawn(async move {
            let result = loading.load(offline, capacity, ttl).await;
            match &result {
                Ok(e) => tracing::info!("l1b: semantic cache ready ({})", e.model()),
                Err(e) => tracing::warn!(
                    "l1b: semantic cache disabled: {e:#} (the exact cache and the cloud still \
                     serve; see docs/troubleshooting.md)"
                ),
            }
            loading
                .embedder
                .settle(result.map_err(|e| format!("{e:#}")));
        });
        layer
    }

    async fn load(
        self: &Arc<Self>,
        offline: bool,
        capacity: usize,
        ttl: Duration,
    ) -> anyhow::Result<Embedder> {
        let embedder = match &self.sidecar {
            Some(sidecar) => self.reach(sidecar).await,
            None => {
                let files = models::resolve(
                    &self.model,
                    &models::EMBEDDER_FILES,
                    &models::hub_cache_dir(),
                    offline,
                )
                .await?;
                let bert = tokio::task::spawn_blocking(move || Bert::load(&files)).await??;
                tracing::info!("l1b: {} with {} weights", self.model, bert.weights());
                Embedder::start(bert, self.model.to_string())?
            }
        };
        let dims = embedder.dims();
        // A model of another size gets an index of its size (entries of another model's space
        // are never compared).
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        if index.dims() != dims {
            *index = VectorIndex::new(dims, capacity, ttl);
        }
        drop(index);
        let model = embedder.model().to_string();
        if let Some(shared) = &self.shared {
            // Entries of other replicas join this index, if they were made by the same model.
            let layer = Arc::downgrade(self);
            shared.clone().follow(Arc::new(move |change: Change| {
                let Some(layer) = layer.upgrade() else {
                    return;
                };
                let mut index = layer.index.write().unwrap_or_else(|p| p.into_inner());
                match change {
                    Change::Insert(entry, left) => {
                        if entry.model != model || entry.vector.len() != dims {
                            return;
                        }
                        let now = Instant::now();
                        let item = Item {
                            group: entry.group,
                            text: entry.text.into(),
                            reply: Arc::new(entry.reply),
                            meta: Arc::new(entry.meta),
                        };
                        let _ = index.insert_until(item, &entry.vector, now, now + left);
                    }
                    Change::Forget(ids) => {
                        for id in &ids {
                            index.forget(id);
                        }
                    }
                    Change::Clear => {
                        index.clear();
                    }
                }
            }));
        }
        Ok(embedder)
    }

    /// The embedding sidecar, once it answers: until then L1b stays `loading` (requests skip
    /// it) and the failure is logged once a minute.
    async fn reach(&self, sidecar: &EmbeddingSidecarConfig) -> Embedder {
        let timeout = Duration::from_secs(sidecar.timeout_seconds);
        loop {
            match Embedder::remote(&sidecar.sidecar_url, &sidecar.model_name, timeout).await {
                Ok(embedder) => return embedder,
                Err(e) => {
                    if self.failures.ready() {
                        tracing::warn!(
                            "l1b: the embedding sidecar at {} does not answer yet, the semantic \
                             cache waits for it: {e:#}",
                            crate::display::redacted_url(&sidecar.sidecar_url)
                        );
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// Looks `exchange` up. `context` is its context key, `text` its last user turn.
    pub async fn lookup(self: &Arc<Self>, context: CacheKey, text: &str) -> Lookup {
        let Some(embedder) = self.embedder.get() else {
            return Lookup::Skipped;
        };
        let vector = match embedder.embed(text).await {
            Ok(v) => v,
            Err(e) => {
                if self.failures.ready() {
                    tracing::warn!("l1b: embedding failed, skipping the semantic cache: {e:#}");
                }
                return Lookup::Degraded;
            }
        };
        let candidates = {
            let index = self.index.read().unwrap_or_else(|p| p.into_inner());
            index.search(
                &context,
                &vector,
                self.threshold,
                CANDIDATES,
                Instant::now(),
            )
        };
        let best = candidates.first().map(|c| c.score);
        let mut rejected = None;
        let mut shadow = None;
        for c in candidates {
            // A bug in the guard refuses the candidate (fails closed) instead of taking the
            // request down with it.
            let checked = std::panic::catch_unwind(|| guard::verify(&c.text, text));
            let verdict = match checked.unwrap_or(Err(guard::Reject::Failed)) {
                Ok(()) if !self.differing_parts_agree(embedder, &c.text, text).await => {
                    Err(guard::Reject::SharedText)
                }
                other => other,
            };
            match verdict {
                Ok(()) if self.mode == SemanticMode::Shadow => {
                    shadow = Some(c.reply);
                    break;
                }
                Ok(()) => {
                    self.index
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .touch(c.slot, c.generation);
                    return Lookup::Hit {
                        reply: c.reply,
                        score: c.score,
                        age: c.stored.elapsed().as_secs(),
                        id: c.id,
                        left: c.expires.saturating_duration_since(Instant::now()),
                    };
                }
                Err(why) => {
                    rejected.get_or_insert(why);
                }
            }
        }
        Lookup::Miss {
            insert: Insert {
                layer: self.clone(),
                group: context,
                text: text.into(),
                vector,
            },
            best,
            rejected,
            shadow,
        }
    }

    /// For two prompts that share most of their text (a pasted document around a question):
    /// whether the parts that differ match on their own, embedded alone. `true` when they do not
    /// share most of their text; `false` when the embedder cannot tell.
    async fn differing_parts_agree(&self, embedder: &Embedder, stored: &str, new: &str) -> bool {
        let Some((a, b)) = guard::shared::differing_spans(stored, new) else {
            return true;
        };
        // Asked together, the embedder runs both in one forward pass.
        match tokio::join!(embedder.embed(&a), embedder.embed(&b)) {
            (Ok(x), Ok(y)) => crate::store::vectors::dot(&x, &y) >= self.threshold,
            _ => false,
        }
    }

    /// Whether a fresh answer's content is the same as the one shadow mode did not serve (up
    /// to whitespace).
    pub fn identical(candidate: &Reply, fresh: &Reply) -> bool {
        let answer = |r: &Reply| serde_json::to_string(&r.choices.first().map(|c| &c.parts)).ok();
        match (answer(candidate), answer(fresh)) {
            (Some(a), Some(b)) => a.split_whitespace().eq(b.split_whitespace()),
            _ => false,
        }
    }

    /// Whether two different answers still agree: texts whose embeddings are at least
    /// [`AGREEMENT`] alike. `false` for tool calls (they were not identical) or when the
    /// embedder cannot tell.
    pub async fn similar(&self, candidate: &Reply, fresh: &Reply) -> bool {
        let (a, b) = (candidate.text(), fresh.text());
        let Some(embedder) = self.embedder.get() else {
            return false;
        };
        if a.trim().is_empty() || b.trim().is_empty() {
            return false;
        }
        match (embedder.embed(&a).await, embedder.embed(&b).await) {
            (Ok(x), Ok(y)) => crate::store::vectors::dot(&x, &y) >= AGREEMENT,
            _ => false,
        }
    }

    /// The configured threshold.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Stores `item` with its vector here and, with Redis, for every replica.
    fn put(&self, item: Item, vector: Vec<f32>, ttl: Option<Duration>) {
        let now = Instant::now();
        let stored = self
            .index
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert_until(item.clone(), &vector, now, now + ttl.unwrap_or(self.ttl));
        if let Err(e) = stored {
            tracing::warn!("semantic cache insert refused: {e}");
            return;
        }
        if let (Some(shared), Some(model)) = (&self.shared, self.model_name()) {
            let entry = Entry {
                group: item.group,
                vector,
                text: item.text.to_string(),
                reply: (*item.reply).clone(),
                model,
                meta: (*item.meta).clone(),
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let _ = shared.publish(entry, ttl).await;
            });
        }
    }

    /// The name of the model whose vectors this layer holds, once it is ready.
    pub fn model_name(&self) -> Option<String> {
        self.embedder.get().map(|e| e.model().to_string())
    }

    /// Whether entry `id` is held and unexpired.
    pub fn contains(&self, id: &CacheKey) -> bool {
        self.index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id, Instant::now())
    }

    /// Every unexpired entry.
    pub fn entries(&self) -> Vec<View> {
        self.index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .entries(Instant::now())
    }

    /// Removes entries (`None`: all) here and, with Redis, for every replica; returns how many
    /// this replica held (or Redis, when it held more).
    pub async fn forget(&self, ids: Option<Vec<CacheKey>>) -> u64 {
        let here = {
            let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
            match &ids {
                Some(ids) => ids.iter().filter(|id| index.forget(id)).count(),
                None => index.clear(),
            }
        } as u64;
        match &self.shared {
            Some(shared) => shared
                .forget(ids)
                .await
                .map_or(here, |there| there.max(here)),
            None => here,
        }
    }

    /// Takes an entry exported by a daemon with the same embedding model, for `ttl`; false when
    /// the vector does not fit this index.
    pub fn import(&self, item: Item, vector: Vec<f32>, ttl: Duration) -> bool {
        let fits = self.index.read().unwrap_or_else(|p| p.into_inner()).dims() == vector.len();
        if fits {
            self.put(item, vector, Some(ttl));
        }
        fits
    }

    pub fn health(&self) -> LayerHealth {
        let (entries, evicted) = self
            .index
            .read()
            .map(|i| (i.len(), i.evicted()))
            .unwrap_or((0, 0));
        let (status, detail) = match self.embedder.status() {
            (LayerStatus::Loading, _) => (
                LayerStatus::Loading,
                match &self.sidecar {
                    Some(s) => format!(
                        "waiting for the embedding sidecar at {}",
                        crate::display::redacted_url(&s.sidecar_url)
                    ),
                    None => format!("loading {}", self.model),
                },
            ),
            (LayerStatus::Ready, _) => match self.shared.as_ref().and_then(|s| s.degraded()) {
                Some(why) => (
                    LayerStatus::Degraded,
                    format!("{why} ({entries} local entries still served)"),
                ),
                None => (
                    LayerStatus::Ready,
                    format!(
                        "{}, threshold {}, {entries} entries, {evicted} evicted for room{}",
                        self.embedder.get().map_or("", |e| e.model()),
                        self.threshold,
                        if self.shared.is_some() {
                            ", shared via redis"
                        } else {
                            ""
                        }
                    ),
                ),
            },
            (status, why) => (status, why.unwrap_or_default().to_string()),
        };
        LayerHealth {
            enabled: true,
            status,
            detail,
        }
    }
}

/// The context key and last user turn of an exchange the semantic cache can serve: its last
/// message is a user turn made of text only.
pub fn eligible(exchange: &Exchange) -> Option<(CacheKey, String)> {
    let last = exchange.messages.last()?;
    if last.role != "user"
        || last.parts.is_empty()
        || !last
            .parts
            .iter()
            .all(|p| matches!(p, crate::exchange::Part::Text { .. }))
    {
        return None;
    }
    let text = last.text();
    if text.trim().is_empty() {
        return None;
    }
    Some((crate::exchange::key::context_key(exchange), text))
}
