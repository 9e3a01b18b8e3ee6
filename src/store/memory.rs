//! In-process reply store: a moka cache with a time-to-live and an entry-count capacity
//! (TinyLFU admission, LRU eviction).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use moka::future::Cache;
use moka::notification::RemovalCause;

use super::{Listed, Meta, ReplyStore, StoreError, Stored};
use crate::exchange::Reply;
use crate::exchange::key::CacheKey;

pub struct MemoryStore {
    cache: Cache<CacheKey, Held>,
    /// Entries moka removed to make room (capacity reached), since the store was made.
    evicted: Arc<AtomicU64>,
    ttl: Duration,
    /// How long an entry is kept after it went stale (stale-if-error).
    stale: Duration,
}

/// An entry and how long it lives.
#[derive(Clone)]
struct Held {
    stored: Stored,
    ttl: Duration,
    /// When moka drops it.
    until: std::time::Instant,
}

/// Each entry expires after its own TTL (`X-Isartor-Cache-TTL`, else the store's).
struct PerEntry;

impl moka::Expiry<CacheKey, Held> for PerEntry {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        value: &Held,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

impl MemoryStore {
    pub fn new(ttl: Duration, capacity: u64) -> MemoryStore {
        let evicted = Arc::new(AtomicU64::new(0));
        let count = evicted.clone();
        MemoryStore {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(PerEntry)
                .eviction_listener(move |_key, _value, cause| {
                    if cause == RemovalCause::Size {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .build(),
            evicted,
            ttl,
            stale: Duration::ZERO,
        }
    }

    /// Keeps entries for `stale` after their TTL, to be served only when every provider fails.
    pub fn keeping_stale(mut self, stale: Duration) -> MemoryStore {
        self.stale = stale;
        self
    }

    /// Runs pending evictions now (moka applies them lazily); used by tests and `len`.
    pub async fn sync(&self) {
        self.cache.run_pending_tasks().await;
    }
}

impl ReplyStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Result<Option<Stored>, StoreError>> {
        async move { Ok(self.cache.get(key).await.map(|held| held.stored)) }.boxed()
    }

    fn put(
        &self,
        key: CacheKey,
        reply: Arc<Reply>,
        meta: Arc<Meta>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            let fresh = ttl.unwrap_or(self.ttl);
            let held = Held {
                stored: Stored::now(reply, meta, fresh),
                ttl: fresh + self.stale,
                until: std::time::Instant::now() + fresh + self.stale,
            };
            self.cache.insert(key, held).await;
            Ok(())
        }
        .boxed()
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<Listed>, StoreError>> {
        async move {
            let now = std::time::Instant::now();
            Ok(self
                .cache
                .iter()
                .filter(|(_, held)| held.until > now)
                .map(|(key, held)| Listed {
                    key: *key,
                    left_ms: (held.until - now).as_millis() as u64,
                    stored: held.stored,
                })
                .collect())
        }
        .boxed()
    }

    fn forget(&self, keys: Vec<CacheKey>) -> BoxFuture<'_, Result<u64, StoreError>> {
        async move {
            let mut gone = 0;
            for key in keys {
                gone += u64::from(self.cache.remove(&key).await.is_some());
            }
            Ok(gone)
        }
        .boxed()
    }

    fn clear(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        async move {
            self.sync().await;
            let count = self.cache.entry_count();
            self.cache.invalidate_all();
            self.sync().await;
            Ok(count)
        }
        .boxed()
    }

    fn len(&self) -> u64 {
        self.cache.entry_count()
    }

    fn backend(&self) -> &'static str {
        "memory"
    }

    fn detail(&self) -> String {
        format!(
            "memory store, {} entries, {} evicted for room",
            self.len(),
            self.evicted.load(Ordering::Relaxed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Arc<Reply> {
        Arc::new(Reply::of_text(text))
    }

    fn meta() -> Arc<Meta> {
        Arc::default()
    }

    #[tokio::test]
    async fn stores_and_evicts_by_capacity() {
        let store = MemoryStore::new(Duration::from_secs(60), 10);
        for i in 0u8..50 {
            store
                .put(CacheKey([i; 32]), reply("x"), meta(), None)
                .await
                .unwrap();
        }
        store.sync().await;
        assert!(store.len() <= 10, "len {}", store.len());
        // Every entry that made way (or was refused a place) is counted, and `/health` says so.
        let evicted = store.evicted.load(Ordering::Relaxed);
        assert_eq!(evicted + store.len(), 50, "{}", store.detail());
        assert!(
            store
                .detail()
                .ends_with(&format!("{evicted} evicted for room"))
        );
        let k = CacheKey([200; 32]);
        store.put(k, reply("kept"), meta(), None).await.unwrap();
        assert_eq!(store.get(&k).await.unwrap().unwrap().reply.text(), "kept");
    }

    #[tokio::test]
    async fn entries_expire_after_ttl() {
        let store = MemoryStore::new(Duration::from_millis(250), 10);
        let k = CacheKey([1; 32]);
        store.put(k, reply("x"), meta(), None).await.unwrap();
        // An entry with a TTL of its own outlives the store's.
        let long = CacheKey([2; 32]);
        store
            .put(long, reply("y"), meta(), Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert!(store.get(&k).await.unwrap().is_some());
        // Wait on the clock, not on a guess: poll until the TTL has certainly passed.
        let until = std::time::Instant::now() + Duration::from_millis(400);
        while std::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(store.get(&k).await.unwrap().is_none());
        assert!(store.get(&long).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn lists_forgets_and_clears() {
        let store = MemoryStore::new(Duration::from_secs(60), 10);
        for i in 0u8..3 {
            store
                .put(CacheKey([i; 32]), reply("x"), meta(), None)
                .await
                .unwrap();
        }
        let listed = store.list().await.unwrap();
        assert_eq!(listed.len(), 3);
        assert!(
            listed
                .iter()
                .all(|l| l.left_ms > 59_000 && l.left_ms <= 60_000)
        );
        let gone = store
            .forget(vec![CacheKey([1; 32]), CacheKey([9; 32])])
            .await
            .unwrap();
        assert_eq!(gone, 1, "only the entry that was there counts");
        assert!(store.get(&CacheKey([1; 32])).await.unwrap().is_none());
        assert_eq!(store.clear().await.unwrap(), 2);
        assert!(store.list().await.unwrap().is_empty());
    }
}
