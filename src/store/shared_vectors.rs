//! Semantic entries shared through Redis. Redis holds the source of truth: each entry (its
//! context key, vector, last user turn, reply and the embedding model's name) under
//! `isartor:v1:sem:<id>` with the TTL, listed in a sorted set by insertion time that is trimmed to
//! `cache_max_capacity`. Every replica keeps its own in-memory index: it loads the live entries at
//! start-up and follows a pub/sub channel of inserts, so an entry stored by one replica is found
//! by the others within moments. A lost subscription is re-established (and the index refilled)
//! with a backoff; inserts fail open like every other Redis call. `isartor cache forget` and
//! `clear` delete the entries from Redis and send a tombstone on the same channel, so every
//! replica drops them from its index too.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::{Meta, StoreError};
use crate::exchange::Reply;
use crate::exchange::key::CacheKey;
use crate::telemetry::logs::Throttle;

const VERSION: u32 = 1;
const ENTRY: &str = "isartor:v1:sem:";
const INDEX: &str = "isartor:v1:sem-index";
const CHANNEL: &str = "isartor:v1:sem-inserts";

/// One shared semantic entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub group: CacheKey,
    pub vector: Vec<f32>,
    pub text: String,
    pub reply: Reply,
    /// The embedding model that made the vector: entries of another model are never compared.
    pub model: String,
    #[serde(default)]
    pub meta: Meta,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    /// The entry's [`semantic_id`](crate::exchange::key::semantic_id), in hex.
    id: String,
    /// The replica that stored it (its own inserts are in its index already).
    origin: String,
    /// Milliseconds it lives (absent from earlier builds: the configured TTL).
    #[serde(default)]
    ttl_ms: u64,
    entry: Entry,
}

/// Entries removed by `isartor cache forget` or `clear`, sent to every replica.
#[derive(Serialize, Deserialize)]
struct Tombstone {
    v: u32,
    origin: String,
    #[serde(default)]
    forget: Vec<CacheKey>,
    #[serde(default)]
    clear: bool,
}

/// What another replica did.
pub enum Change {
    /// Stored an entry, which has this long left.
    Insert(Box<Entry>, Duration),
    /// Forgot these entries.
    Forget(Vec<CacheKey>),
    /// Forgot every entry.
    Clear,
}

/// Receives what other replicas did.
pub type Sink = Arc<dyn Fn(Change) + Send + Sync>;

pub struct SharedVectors {
    client: redis::Client,
    connection: ConnectionManager,
    replica: String,
    ttl: Duration,
    capacity: usize,
    timeout: Duration,
    last_error: Mutex<Option<String>>,
    warnings: Throttle,
}

impl SharedVectors {
    pub fn new(
        url: &str,
        ttl: Duration,
        capacity: usize,
        timeout: Duration,
    ) -> Result<SharedVectors, StoreError> {
        // Publishing and loading are off the request path: give them more than a lookup gets.
        let (client, connection, _) =
            super::redis::connect(url, timeout.max(Duration::from_millis(200)))?;
        Ok(SharedVectors {
            client,
            connection,
            replica: crate::exchange::new_id("replica"),
            ttl: ttl.max(Duration::from_secs(1)),
            capacity: capacity.max(1),
            timeout,
            last_error: Mutex::new(None),
            warnings: Throttle::new(Duration::from_secs(60)),
        })
    }

    /// Why sharing is failing now, if it is.
    pub fn degraded(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn outcome<T>(&self, what: &str, result: Result<T, String>) -> Result<T, StoreError> {
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(v) => {
                last.take();
                Ok(v)
            }
            Err(e) => {
                if self.warnings.ready() {
                    tracing::warn!("redis: {what} failed, semantic entries stay local: {e}");
                }
                *last = Some(format!("redis: {what}: {e}"));
                Err(StoreError(e))
            }
        }
    }

    /// Stores an entry for every replica: the entry with its TTL (`ttl`, else the configured
    /// one), its place in the index (trimmed to capacity, oldest first) and a message on the
    /// channel, in one round trip.
    pub async fn publish(&self, entry: Entry, ttl: Option<Duration>) -> Result<(), StoreError> {
        let id = crate::exchange::key::semantic_id(&entry.group, &entry.text).to_string();
        let ttl = ttl.unwrap_or(self.ttl).max(Duration::from_secs(1));
        let envelope = Envelope {
            v: VERSION,
            id: id.clone(),
            origin: self.replica.clone(),
            ttl_ms: ttl.as_millis() as u64,
            entry,
        };
        let payload = serde_json::to_vec(&envelope).map_err(|e| StoreError(e.to_string()))?;
        let now = crate::exchange::unix_now();
        let key = format!("{ENTRY}{id}");
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&key)
            .arg(&payload)
            .arg("EX")
            .arg(ttl.as_secs())
            .ignore()
            .cmd("ZADD")
            .arg(INDEX)
            .arg(now)
            .arg(&id)
            .ignore()
            .cmd("PUBLISH")
            .arg(CHANNEL)
            .arg(&payload)
            .ignore()
            .cmd("ZCARD")
            .arg(INDEX);
        let mut c = self.connection.clone();
        let result =
            match tokio::time::timeout(self.timeout, pipe.query_async::<(u64,)>(&mut c)).await {
                Ok(Ok((count,))) => Ok(count),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            };
        let count = self.outcome("storing a semantic entry", result)?;
        if count as usize > self.capacity {
            self.trim(count as usize - self.capacity).await;
        }
        Ok(())
    }

    /// Removes entries (`None`: every entry) from Redis and tells every replica; returns how many
    /// Redis held.
    pub async fn forget(&self, ids: Option<Vec<CacheKey>>) -> Result<u64, StoreError> {
        let mut c = self.connection.clone();
        let result = async {
            let members: Vec<String> = match &ids {
                Some(ids) => ids.iter().map(|id| id.to_string()).collect(),
                None => {
                    redis::cmd("ZRANGE")
                        .arg(INDEX)
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut c)
                        .await?
                }
            };
            let tombstone = serde_json::to_vec(&Tombstone {
                v: VERSION,
                origin: self.replica.clone(),
                forget: ids.clone().unwrap_or_default(),
                clear: ids.is_none(),
            })
            .unwrap_or_default();
            let mut pipe = redis::pipe();
            if !members.is_empty() {
                let keys: Vec<String> = members.iter().map(|m| format!("{ENTRY}{m}")).collect();
                pipe.cmd("DEL")
                    .arg(keys)
                    .cmd("ZREM")
                    .arg(INDEX)
                    .arg(&members)
                    .ignore();
            } else {
                pipe.cmd("EXISTS").arg(INDEX);
            }
            pipe.cmd("PUBLISH").arg(CHANNEL).arg(tombstone).ignore();
            let (gone,): (u64,) = pipe.query_async(&mut c).await?;
            Ok(if members.is_empty() { 0 } else { gone })
        };
        let result = match tokio::time::timeout(self.timeout * 4, result).await {
            Ok(r) => r.map_err(|e: redis::RedisError| e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.timeout * 4)),
        };
        self.outcome("forgetting semantic entries", result)
    }

    /// Drops the oldest `n` entries from Redis.
    async fn trim(&self, n: usize) {
        let mut c = self.connection.clone();
        let oldest: redis::RedisResult<Vec<(String, f64)>> = redis::cmd("ZPOPMIN")
            .arg(INDEX)
            .arg(n)
            .query_async(&mut c)
            .await;
        if let Ok(oldest) = oldest
            && !oldest.is_empty()
        {
            let keys: Vec<String> = oldest
                .iter()
                .map(|(id, _)| format!("{ENTRY}{id}"))
                .collect();
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query_async(&mut c).await;
        }
    }

    /// Loads the live entries into `sink`, then follows the channel until the process ends;
    /// on a lost connection it waits (1 s, doubling to 30 s), reconnects and loads again.
    pub fn follow(self: Arc<Self>, sink: Sink) {
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            // The task holds one reference; when it is the last, the semantic layer is gone.
            while Arc::strong_count(&self) > 1 {
                match self.session(&sink).await {
                    Ok(()) => backoff = Duration::from_secs(1),
                    Err(e) => {
                        let _ = self.outcome("following other replicas", Err::<(), _>(e));
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        });
    }

    /// One subscription: subscribe first (so nothing stored meanwhile is missed), load what is
    /// there, then pass on every insert of another replica.
    async fn session(&self, sink: &Sink) -> Result<(), String> {
        let mut pubsub = self
            .client
            .get_async_pubsub()
            .await
            .map_err(|e| e.to_string())?;
        pubsub.subscribe(CHANNEL).await.map_err(|e| e.to_string())?;
        let loaded = self.load(sink).await?;
        tracing::info!("redis: {loaded} shared semantic entries loaded; following inserts");
        let _ = self.outcome("following other replicas", Ok(()));
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            let payload = message.get_payload_bytes();
            if let Ok(e) = serde_json::from_slice::<Envelope>(payload) {
                if e.v == VERSION && e.origin != self.replica {
                    let left = match e.ttl_ms {
                        0 => self.ttl,
                        ms => Duration::from_millis(ms),
                    };
                    sink(Change::Insert(Box::new(e.entry), left));
                }
            } else if let Ok(t) = serde_json::from_slice::<Tombstone>(payload)
                && t.v == VERSION
                && t.origin != self.replica
            {
                sink(match t.clear {
                    true => Change::Clear,
                    false => Change::Forget(t.forget),
                });
            }
        }
        Err("the subscription ended".into())
    }

    /// Passes every live entry to `sink` with its remaining TTL; returns how many.
    async fn load(&self, sink: &Sink) -> Result<usize, String> {
        let mut c = self.connection.clone();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(INDEX)
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        let mut loaded = 0;
        for chunk in ids.chunks(256) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.cmd("GET").arg(format!("{ENTRY}{id}"));
                pipe.cmd("PTTL").arg(format!("{ENTRY}{id}"));
            }
            let answers: Vec<redis::Value> =
                pipe.query_async(&mut c).await.map_err(|e| e.to_string())?;
            let mut gone = Vec::new();
            for (id, pair) in chunk.iter().zip(answers.chunks(2)) {
                let payload: Option<Vec<u8>> =
                    redis::from_redis_value(pair[0].clone()).ok().flatten();
                let ttl_ms: i64 = redis::from_redis_value(pair[1].clone()).unwrap_or(-2);
                match payload.and_then(|p| serde_json::from_slice::<Envelope>(&p).ok()) {
                    Some(e) if e.v == VERSION && ttl_ms > 0 => {
                        sink(Change::Insert(
                            Box::new(e.entry),
                            Duration::from_millis(ttl_ms as u64),
                        ));
                        loaded += 1;
                    }
                    _ => gone.push(id.clone()),
                }
            }
            if !gone.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("ZREM")
                    .arg(INDEX)
                    .arg(gone)
                    .query_async(&mut c)
                    .await;
            }
        }
        Ok(loaded)
    }
}
