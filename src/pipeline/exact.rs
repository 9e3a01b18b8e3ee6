//! L1a: the exact cache. A SHA-256 of the canonical exchange looks up a stored canonical reply.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{CacheBackend, Config};
use crate::exchange::Reply;
use crate::exchange::key::CacheKey;
use crate::store::memory::MemoryStore;
use crate::store::{ReplyStore, StoreError};

pub struct ExactLayer {
    store: Arc<dyn ReplyStore>,
}

impl ExactLayer {
    pub fn new(config: &Config) -> ExactLayer {
        if config.cache_backend == CacheBackend::Redis {
            tracing::warn!(
                "cache_backend = \"redis\" is not part of this build yet; using the in-memory store"
            );
        }
        ExactLayer::with_store(Arc::new(MemoryStore::new(
            Duration::from_secs(config.cache_ttl_secs),
            config.cache_max_capacity,
        )))
    }

    pub fn with_store(store: Arc<dyn ReplyStore>) -> ExactLayer {
        ExactLayer { store }
    }

    pub async fn get(&self, key: &CacheKey) -> Result<Option<Arc<Reply>>, StoreError> {
        self.store.get(key).await
    }

    pub fn store(&self) -> Arc<dyn ReplyStore> {
        self.store.clone()
    }

    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    pub fn len(&self) -> u64 {
        self.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }
}
