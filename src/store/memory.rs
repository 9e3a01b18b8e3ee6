//! In-process reply store: a moka cache with a time-to-live and an entry-count capacity
//! (TinyLFU admission, LRU eviction).

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use moka::future::Cache;

use super::{ReplyStore, StoreError};
use crate::exchange::Reply;
use crate::exchange::key::CacheKey;

pub struct MemoryStore {
    cache: Cache<CacheKey, Arc<Reply>>,
}

impl MemoryStore {
    pub fn new(ttl: Duration, capacity: u64) -> MemoryStore {
        MemoryStore {
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Runs pending evictions now (moka applies them lazily); used by tests and `len`.
    pub async fn sync(&self) {
        self.cache.run_pending_tasks().await;
    }
}

impl ReplyStore for MemoryStore {
    fn get<'a>(
        &'a self,
        key: &'a CacheKey,
    ) -> BoxFuture<'a, Result<Option<Arc<Reply>>, StoreError>> {
        async move { Ok(self.cache.get(key).await) }.boxed()
    }

    fn put(&self, key: CacheKey, reply: Arc<Reply>) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            self.cache.insert(key, reply).await;
            Ok(())
        }
        .boxed()
    }

    fn len(&self) -> u64 {
        self.cache.entry_count()
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Arc<Reply> {
        Arc::new(Reply::of_text(text))
    }

    #[tokio::test]
    async fn stores_and_evicts_by_capacity() {
        let store = MemoryStore::new(Duration::from_secs(60), 10);
        for i in 0u8..50 {
            store.put(CacheKey([i; 32]), reply("x")).await.unwrap();
        }
        store.sync().await;
        assert!(store.len() <= 10, "len {}", store.len());
        let k = CacheKey([200; 32]);
        store.put(k, reply("kept")).await.unwrap();
        assert_eq!(store.get(&k).await.unwrap().unwrap().text(), "kept");
    }

    #[tokio::test]
    async fn entries_expire_after_ttl() {
        let store = MemoryStore::new(Duration::from_millis(250), 10);
        let k = CacheKey([1; 32]);
        store.put(k, reply("x")).await.unwrap();
        assert!(store.get(&k).await.unwrap().is_some());
        // Wait on the clock, not on a guess: poll until the TTL has certainly passed.
        let until = std::time::Instant::now() + Duration::from_millis(400);
        while std::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(store.get(&k).await.unwrap().is_none());
    }
}
