//! Exact entries in Redis, so every replica behind a load balancer shares one cache. Keys are
//! namespaced (`isartor:v1:exact:<sha256>`), values are a versioned JSON envelope of the
//! canonical reply written with `SET … EX ttl` (plain Redis 7, no modules).
//!
//! Fail-open: every call is bounded by `redis_timeout_ms`; an error or a timeout is a miss, logged
//! at most once a minute, and opens a one-second breaker during which Redis is not asked at all,
//! so a dead or slow Redis never costs more than the timeout once a second. The connection
//! manager reconnects by itself; caching resumes when Redis is back, with no restart.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

use super::{Listed, Meta, ReplyStore, StoreError, Stored};
use crate::exchange::Reply;
use crate::exchange::key::CacheKey;
use crate::telemetry::logs::Throttle;

/// The layout of stored values; bumped when it changes so an upgrade never misreads old entries.
const VERSION: u32 = 1;
/// The key prefix of exact entries.
const PREFIX: &str = "isartor:v1:exact:";
/// The key prefix of exact entries' hit counts (kept as long as their entry).
const HITS: &str = "isartor:v1:hits:";
/// A lookup that counts a found entry for every replica, in the same round trip: the value, and
/// its hit count raised when there is one.
/// (Redis compiles a script once and keeps it by its hash, so `EVAL` is cheap.)
const FIND: &str = "local v = redis.call('GET', KEYS[1]) \
     if v then redis.call('INCR', KEYS[2]) redis.call('EXPIRE', KEYS[2], ARGV[1]) end \
     return v";
/// Whether an error says this Redis does not run scripts for us (ACL, disabled command).
fn refuses_scripts(error: &str) -> bool {
    ["NOPERM", "unknown command", "NOSCRIPT", "no permissions"]
        .iter()
        .any(|m| error.contains(m))
}

/// How long Redis is left alone after a failure.
const BREAKER: Duration = Duration::from_secs(1);

#[derive(Serialize, Deserialize)]
struct Envelope<R> {
    v: u32,
    /// Unix milliseconds when stored (absent in entries of earlier builds).
    #[serde(default)]
    at: u64,
    /// Milliseconds it is fresh (absent in entries of earlier builds: fresh while kept).
    #[serde(default)]
    fresh: u64,
    /// Who asked and what (absent in entries of earlier builds).
    #[serde(default)]
    meta: Meta,
    reply: R,
}

impl Envelope<Reply> {
    /// The entry in `bytes`, if it is of this layout (another Isartor's entry is a miss, never
    /// misread).
    fn read(bytes: &[u8]) -> Option<Stored> {
        match serde_json::from_slice::<Envelope<Reply>>(bytes) {
            Ok(e) if e.v == VERSION => Some(Stored {
                reply: Arc::new(e.reply),
                meta: Arc::new(e.meta),
                hits: Arc::default(),
                rendered: Arc::default(),
                at_ms: e.at,
                fresh_ms: e.fresh,
            }),
            _ => None,
        }
    }
}

pub struct RedisStore {
    connection: ConnectionManager,
    /// `host:port/db`, never the password.
    target: String,
    ttl: u64,
    /// Seconds an entry is kept after its TTL (stale-if-error).
    stale: u64,
    timeout: Duration,
    /// Until when Redis is skipped, and why.
    broken: Mutex<Option<(Instant, String)>>,
    warnings: Throttle,
    /// Set when this Redis refuses scripts (an ACL without `@scripting`): lookups are a plain
    /// `GET` from then on, and hits are not counted in Redis.
    plain: std::sync::atomic::AtomicBool,
}

/// A client for `url` and a lazily connecting, self-reconnecting connection whose answers wait
/// at most `timeout` (connecting may take a little longer); also `host:port/db` for messages,
/// never the password.
pub(super) fn connect(
    url: &str,
    timeout: Duration,
) -> Result<(redis::Client, ConnectionManager, String), StoreError> {
    let client = redis::Client::open(url)
        .map_err(|e| StoreError(format!("redis_url is not usable: {e}")))?;
    let info = client.get_connection_info();
    let target = format!("{}/{}", info.addr(), info.redis_settings().db());
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout.max(Duration::from_millis(200))))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1);
    let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
        .map_err(|e| StoreError(format!("cannot set up the Redis connection: {e}")))?;
    Ok((client, connection, target))
}

impl RedisStore {
    /// A store for `url` (`redis://[user:pass@]host:port/db` or `rediss://…`). Connects lazily:
    /// a Redis that is down at start-up is a degraded cache, not a failed start.
    pub fn new(url: &str, ttl: Duration, timeout: Duration) -> Result<RedisStore, StoreError> {
        let (_, connection, target) = connect(url, timeout)?;
        Ok(RedisStore {
            connection,
            target,
            ttl: ttl.as_secs().max(1),
            stale: 0,
            timeout,
            broken: Mutex::new(None),
            warnings: Throttle::new(Duration::from_secs(60)),
            plain: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Keeps entries for `stale` after their TTL, to be served only when every provider fails.
    pub fn keeping_stale(mut self, stale: Duration) -> RedisStore {
        self.stale = stale.as_secs();
        self
    }

    fn key(key: &CacheKey) -> String {
        format!("{PREFIX}{key}")
    }

    /// The keys of every exact entry (`SCAN`, so Redis is never blocked by a long `KEYS`).
    async fn scan(&self) -> Result<Vec<CacheKey>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .call("SCAN", |mut c| async move {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(format!("{PREFIX}*"))
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            keys.extend(batch.iter().filter_map(|k| {
                let hex = k.strip_prefix(PREFIX)?;
                let mut key = [0u8; 32];
                hex::decode_to_slice(hex, &mut key).ok()?;
                Some(CacheKey(key))
            }));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// Runs one idempotent Redis call under the timeout and the breaker. A call that fails on a
    /// connection Redis dropped (a restart, a blip) is sent once more: the connection manager
    /// has reconnected by then, and without the retry the first request after every blip would
    /// miss and its answer would not be stored.
    async fn call<T, F>(
        &self,
        what: &str,
        f: impl Fn(ConnectionManager) -> F,
    ) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if let Some((until, why)) = &*self.broken.lock().unwrap_or_else(|p| p.into_inner())
            && Instant::now() < *until
        {
            return Err(StoreError(format!("Redis skipped after a failure: {why}")));
        }
        let attempt = async {
            match f(self.connection.clone()).await {
                Err(e) if e.is_connection_dropped() || e.is_io_error() => {
                    tracing::debug!(
                        "redis at {}: {what} on a dropped connection, once more",
                        self.target
                    );
                    f(self.connection.clone()).await
                }
                other => other,
            }
        };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(format!("{e}")),
            Err(_) => Err(format!(
                "no answer within {:?} (redis_timeout_ms)",
                self.timeout
            )),
        };
        let mut broken = self.broken.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(v) => {
                if broken.take().is_some() {
                    tracing::info!("redis at {}: caching again", self.target);
                }
                Ok(v)
            }
            Err(e) => {
                if self.warnings.ready() {
                    tracing::warn!(
                        "redis at {}: {what} failed, serving without the shared cache: {e}",
                        self.target
                    );
                }
                *broken = Some((Instant::now() + BREAKER, e.clone()));
                Err(StoreError(e))
            }
        }
    }
}

impl ReplyStore for RedisStore {
    fn get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Result<Option<Stored>, StoreError>> {
        async move {
            use std::sync::atomic::Ordering::Relaxed;
            let (entry, hits) = (RedisStore::key(key), format!("{HITS}{key}"));
            let keep = self.ttl + self.stale;
            if !self.plain.load(Relaxed) {
                let found = self
                    .call("GET", |mut c| {
                        let mut lookup = redis::cmd("EVAL");
                        lookup.arg(FIND).arg(2).arg(&entry).arg(&hits).arg(keep);
                        async move { lookup.query_async::<Option<Vec<u8>>>(&mut c).await }
                    })
                    .await;
                match found {
                    Ok(value) => return Ok(value.and_then(|bytes| Envelope::read(&bytes))),
                    Err(e) if refuses_scripts(&e.0) => {
                        tracing::warn!(
                            "redis at {}: scripts are not allowed ({}); looking entries up with \
                             GET, without shared hit counts",
                            self.target,
                            e.0
                        );
                        self.plain.store(true, Relaxed);
                        self.broken.lock().unwrap_or_else(|p| p.into_inner()).take();
                    }
                    Err(e) => return Err(e),
                }
            }
            let value: Option<Vec<u8>> = self
                .call("GET", |mut c| {
                    let mut lookup = redis::cmd("GET");
                    lookup.arg(&entry);
                    async move { lookup.query_async(&mut c).await }
                })
                .await?;
            Ok(value.and_then(|bytes| Envelope::read(&bytes)))
        }
        .boxed()
    }

    fn put(
        &self,
        key: CacheKey,
        reply: Arc<Reply>,
        meta: Arc<Meta>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            let fresh = ttl.map_or(self.ttl, |t| t.as_secs().max(1));
            let value = serde_json::to_vec(&Envelope {
                v: VERSION,
                at: super::unix_ms(),
                fresh: fresh * 1000,
                meta: (*meta).clone(),
                reply: &*reply,
            })
            .map_err(|e| StoreError(e.to_string()))?;
            let ttl = fresh + self.stale;
            let (entry, hits) = (RedisStore::key(&key), format!("{HITS}{key}"));
            // A new answer under a key starts its count again.
            self.call("SET", |mut c| {
                let mut pipe = redis::pipe();
                pipe.set_ex(&entry, value.clone(), ttl)
                    .ignore()
                    .del(&hits)
                    .ignore();
                async move { pipe.query_async::<()>(&mut c).await }
            })
            .await
        }
        .boxed()
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<Listed>, StoreError>> {
        async move {
            let keys = self.scan().await?;
            let mut listed = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(256) {
                let answers: Vec<redis::Value> = self
                    .call("GET", |mut c| {
                        let mut pipe = redis::pipe();
                        for key in chunk {
                            pipe.get(format!("{PREFIX}{key}"))
                                .pttl(format!("{PREFIX}{key}"))
                                .get(format!("{HITS}{key}"));
                        }
                        async move { pipe.query_async(&mut c).await }
                    })
                    .await?;
                for (key, three) in chunk.iter().zip(answers.chunks(3)) {
                    let value: Option<Vec<u8>> =
                        redis::from_redis_value(three[0].clone()).ok().flatten();
                    let left: i64 = redis::from_redis_value(three[1].clone()).unwrap_or(-2);
                    let hits: Option<u64> =
                        redis::from_redis_value(three[2].clone()).ok().flatten();
                    if let Some(stored) = value.and_then(|v| Envelope::read(&v))
                        && left > 0
                    {
                        stored
                            .hits
                            .store(hits.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
                        listed.push(Listed {
                            key: *key,
                            stored,
                            left_ms: left as u64,
                        });
                    }
                }
            }
            Ok(listed)
        }
        .boxed()
    }

    fn forget(&self, keys: Vec<CacheKey>) -> BoxFuture<'_, Result<u64, StoreError>> {
        async move {
            if keys.is_empty() {
                return Ok(0);
            }
            let (entries, hits): (Vec<String>, Vec<String>) = keys
                .iter()
                .map(|k| (format!("{PREFIX}{k}"), format!("{HITS}{k}")))
                .unzip();
            let gone: (u64,) = self
                .call("DEL", |mut c| {
                    let mut pipe = redis::pipe();
                    pipe.del(&entries).del(&hits).ignore();
                    async move { pipe.query_async(&mut c).await }
                })
                .await?;
            Ok(gone.0)
        }
        .boxed()
    }

    fn clear(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        async move {
            let keys = self.scan().await?;
            let mut gone = 0;
            for chunk in keys.chunks(512) {
                gone += self.forget(chunk.to_vec()).await?;
            }
            Ok(gone)
        }
        .boxed()
    }

    fn len(&self) -> u64 {
        0
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    fn detail(&self) -> String {
        format!("redis store at {}", self.target)
    }

    fn degraded(&self) -> Option<String> {
        let broken = self.broken.lock().unwrap_or_else(|p| p.into_inner());
        broken
            .as_ref()
            .map(|(_, why)| format!("redis at {}: {why}", self.target))
    }
}
