//! Cache storage behind one small trait, so the exact cache does not care whether entries live in
//! process memory ([`memory`]) or in Redis shared by replicas ([`redis`]); [`vectors`] is the
//! semantic cache's index.

pub mod memory;
pub mod redis;
pub mod shared_vectors;
pub mod vectors;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::exchange::Reply;
use crate::exchange::key::CacheKey;

/// Why a store call failed. Callers treat every failure as a miss and move on (fail-open).
#[derive(Debug, thiserror::Error)]
#[error("cache store error: {0}")]
pub struct StoreError(pub String);

/// A stored reply, when it was stored and for how long it is fresh.
#[derive(Debug, Clone)]
pub struct Stored {
    pub reply: Arc<Reply>,
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
    pub fn now(reply: Arc<Reply>, fresh: Duration) -> Stored {
        Stored {
            reply,
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

/// Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Key → complete canonical reply, with the store's own TTL and capacity.
pub trait ReplyStore: Send + Sync + 'static {
    fn get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Result<Option<Stored>, StoreError>>;
    /// Stores `reply` for `ttl`, or for the store's own TTL when `None`.
    fn put(
        &self,
        key: CacheKey,
        reply: Arc<Reply>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
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
