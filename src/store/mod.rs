//! Cache storage behind one small trait, so the exact cache does not care whether entries live in
//! process memory ([`memory`]) or in Redis shared by replicas ([`redis`]); [`vectors`] is the
//! semantic cache's index.

pub mod memory;
pub mod redis;
pub mod shared_vectors;
pub mod vectors;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::exchange::Reply;
use crate::exchange::key::CacheKey;

/// Why a store call failed. Callers treat every failure as a miss and move on (fail-open).
#[derive(Debug, thiserror::Error)]
#[error("cache store error: {0}")]
pub struct StoreError(pub String);

/// What an entry is, for `isartor cache ls` and `export`: who asked, for which model, what the
/// last user turn began with (redacted as in `top`), and which layer's answer it holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub client: String,
    #[serde(default)]
    pub model: String,
    /// The first 60 characters of the last user turn, redacted.
    #[serde(default)]
    pub preview: String,
    /// A hash of the whole last user turn, for `isartor cache forget --prompt`.
    #[serde(default)]
    pub prompt: String,
    /// The layer whose answer this is: `L3`, `L2`, or `L1b` for the exact copy of a semantic hit.
    #[serde(default)]
    pub layer: String,
    /// For the exact copy of a semantic hit: the semantic entry it was copied from, so the copy
    /// goes when its source is forgotten or evicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<CacheKey>,
}

/// A stored reply, when it was stored and for how long it is fresh.
#[derive(Debug, Clone)]
pub struct Stored {
    pub reply: Arc<Reply>,
    pub meta: Arc<Meta>,
    /// Hits served from it (this process's count for a shared store until listed).
    pub hits: Arc<AtomicU64>,
    /// The reply's bodies once a hit has rendered them, shared by every later hit on the same
    /// entry (an entry's key names its format, so its rendering never changes).
    pub rendered: Arc<Rendered>,
    /// Unix milliseconds when it was stored (0 when the store does not know).
    pub at_ms: u64,
    /// How long it is fresh, in milliseconds (0: as long as the store keeps it). A store that
    /// keeps entries for stale-if-error holds them longer than this.
    pub fresh_ms: u64,
}

impl Stored {
    pub fn now(reply: Arc<Reply>, meta: Arc<Meta>, fresh: Duration) -> Stored {
        Stored {
            reply,
            meta,
            hits: Arc::default(),
            rendered: Arc::default(),
            at_ms: unix_ms(),
            fresh_ms: fresh.as_millis() as u64,
        }
    }

    /// Whether it may be served as a hit (not only when every provider fails).
    pub fn is_fresh(&self) -> bool {
        self.fresh_ms == 0
            || self.at_ms == 0
            || unix_ms().saturating_sub(self.at_ms) < self.fresh_ms
    }

    /// Whole seconds since it was stored (HTTP's `Age`); `None` when the store did not record
    /// it (an entry written by an older build).
    pub fn age_secs(&self) -> Option<u64> {
        (self.at_ms > 0).then(|| unix_ms().saturating_sub(self.at_ms) / 1000)
    }
}

/// One entry as `isartor cache ls` and `export` see it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: CacheKey,
    pub stored: Stored,
    /// How long the store keeps it still (stale time included), in milliseconds.
    pub left_ms: u64,
}

impl Listed {
    /// How long it is fresh still, in milliseconds (0: expired, kept only for stale-if-error).
    pub fn fresh_left_ms(&self) -> u64 {
        let s = &self.stored;
        match s.fresh_ms == 0 || s.at_ms == 0 {
            true => self.left_ms,
            false => (s.at_ms + s.fresh_ms)
                .saturating_sub(unix_ms())
                .min(self.left_ms),
        }
    }
}

/// The rendered bodies of one entry: JSON, and SSE with and without a usage chunk.
#[derive(Debug, Default)]
pub struct Rendered {
    json: std::sync::OnceLock<bytes::Bytes>,
    sse: [std::sync::OnceLock<bytes::Bytes>; 2],
}

impl Rendered {
    /// The JSON body, rendered by `render` the first time.
    pub fn json(&self, render: impl FnOnce() -> bytes::Bytes) -> bytes::Bytes {
        self.json.get_or_init(render).clone()
    }

    /// The SSE body (with the usage chunk or not), rendered by `render` the first time.
    pub fn sse(&self, usage: bool, render: impl FnOnce() -> bytes::Bytes) -> bytes::Bytes {
        self.sse[usize::from(usage)].get_or_init(render).clone()
    }
}

pub use crate::telemetry::unix_ms;

/// Key → complete canonical reply, with the store's own TTL and capacity.
pub trait ReplyStore: Send + Sync + 'static {
    fn get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Result<Option<Stored>, StoreError>>;
    /// Stores `reply` for `ttl`, or for the store's own TTL when `None`.
    fn put(
        &self,
        key: CacheKey,
        reply: Arc<Reply>,
        meta: Arc<Meta>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Counts a hit served from `stored` (found under `key`).
    fn hit(&self, _key: &CacheKey, stored: &Stored) {
        stored.hits.fetch_add(1, Ordering::Relaxed);
    }
    /// Every entry held (expired ones kept for stale-if-error included).
    fn list(&self) -> BoxFuture<'_, Result<Vec<Listed>, StoreError>>;
    /// Removes these entries; returns how many were there.
    fn forget(&self, keys: Vec<CacheKey>) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Removes every entry; returns how many were there.
    fn clear(&self) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Entries currently held (approximate for concurrent stores).
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A short name for health output (`memory`, `redis`).
    fn backend(&self) -> &'static str;
    /// One line for `/health`.
    fn detail(&self) -> String {
        format!("{} store, {} entries", self.backend(), self.len())
    }
    /// Why the store is failing now, if it is (callers go on without it).
    fn degraded(&self) -> Option<String> {
        None
    }
}
