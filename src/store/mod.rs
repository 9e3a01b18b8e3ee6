//! Cache storage behind one small trait, so the exact cache does not care whether entries live in
//! process memory ([`memory`]) or in Redis shared by replicas ([`redis`]); [`vectors`] is the
//! semantic cache's index.

pub mod memory;
pub mod redis;
pub mod shared_vectors;
pub mod vectors;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::exchange::Reply;
use crate::exchange::key::CacheKey;

/// Why a store call failed. Callers treat every failure as a miss and move on (fail-open).
#[derive(Debug, thiserror::Error)]
#[error("cache store error: {0}")]
pub struct StoreError(pub String);

/// Key → complete canonical reply, with the store's own TTL and capacity.
pub trait ReplyStore: Send + Sync + 'static {
    fn get<'a>(
        &'a self,
        key: &'a CacheKey,
    ) -> BoxFuture<'a, Result<Option<Arc<Reply>>, StoreError>>;
    fn put(&self, key: CacheKey, reply: Arc<Reply>) -> BoxFuture<'_, Result<(), StoreError>>;
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
