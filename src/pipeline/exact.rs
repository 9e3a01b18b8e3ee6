//! L1a: the exact cache. A SHA-256 of the canonical exchange looks up a stored canonical reply.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{CacheBackend, Config, ConfigError};
use crate::exchange::key::CacheKey;
use crate::store::memory::MemoryStore;
use crate::store::redis::RedisStore;
use crate::store::{ReplyStore, StoreError, Stored};

pub struct ExactLayer {
    store: Arc<dyn ReplyStore>,
}

impl ExactLayer {
    pub fn new(config: &Config) -> Result<ExactLayer, ConfigError> {
        let ttl = Duration::from_secs(config.cache_ttl_secs);
        let stale = match config.serve_stale_on_error {
            true => Duration::from_secs(config.stale_ttl_secs),
            false => Duration::ZERO,
        };
        let store: Arc<dyn ReplyStore> = match config.cache_backend {
            CacheBackend::Memory => {
                Arc::new(MemoryStore::new(ttl, config.cache_max_capacity).keeping_stale(stale))
            }
            CacheBackend::Redis => Arc::new(
                RedisStore::new(
                    &config.redis_url,
                    ttl,
                    Duration::from_millis(config.redis_timeout_ms),
                )
                .map_err(|e| ConfigError(format!("redis_url = {:?}: {}", config.redis_url, e.0)))?
                .keeping_stale(stale),
            ),
        };
        Ok(ExactLayer::with_store(store))
    }

    pub fn with_store(store: Arc<dyn ReplyStore>) -> ExactLayer {
        ExactLayer { store }
    }

    pub async fn get(&self, key: &CacheKey) -> Result<Option<Stored>, StoreError> {
        self.store.get(key).await
    }

    pub fn store(&self) -> Arc<dyn ReplyStore> {
        self.store.clone()
    }

    pub fn detail(&self) -> String {
        self.store.detail()
    }

    pub fn degraded(&self) -> Option<String> {
        self.store.degraded()
    }
}
