//! The Redis backend against a real `redis-server` (Debian's package) that the test starts on a
//! free loopback port: two daemons share exact hits, entries expire, a Redis that dies
//! mid-traffic degrades to L3 without an error and caching resumes when it is back, FLUSHDB
//! empties the cache.

use crate::common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use isartor::config::{CacheBackend, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

pub(crate) struct Redis {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Redis {
    pub(crate) async fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Redis::on(port).await
    }

    /// A fresh, empty redis-server on `port` (no persistence).
    async fn on(port: u16) -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server; .ci/run does it)");
        let redis = Redis {
            port,
            child,
            _dir: dir,
        };
        let up = async {
            while redis.command("PING").await.as_deref() != Some("+PONG") {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), up)
            .await
            .expect("redis-server answered PING");
        redis
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// One inline command over plain TCP; the first line of the answer.
    async fn command(&self, cmd: &str) -> Option<String> {
        self.answer(cmd).await?.into_iter().next()
    }

    /// One inline command over plain TCP; the lines of the answer.
    async fn answer(&self, cmd: &str) -> Option<Vec<String>> {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .ok()?;
        s.write_all(format!("{cmd}\r\n").as_bytes()).await.ok()?;
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.ok()?;
        Some(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_string)
                .collect(),
        )
    }

    pub(crate) async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

pub(crate) fn shared(url: String) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.cache_backend = CacheBackend::Redis;
        c.redis_url = url;
    }
}

async fn ask(base: &str, prompt: &str) -> (u16, String, String) {
    let (status, h, body) = post(base, "/v1/chat/completions", &chat(prompt)).await;
    let answer = as_json(&body)["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (status.as_u16(), layer(&h).to_string(), answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_share_one_cache_and_flushdb_empties_it() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let (_a, base_a) = daemon(&mock, shared(redis.url())).await;
    let (_b, base_b) = daemon(&mock, shared(redis.url())).await;
    let (_, layer_a, first) = ask(&base_a, "shared between replicas").await;
    assert_eq!(layer_a, "l3");
    let (status, layer_b, again) = ask(&base_b, "shared between replicas").await;
    assert_eq!(
        (status, layer_b.as_str()),
        (200, "l1a"),
        "replica B hits what A stored"
    );
    assert_eq!(again, first);
    assert_eq!(mock.count(), 1);
    // Namespaced, with the TTL.
    let keys = redis.answer("KEYS isartor:v1:exact:*").await.unwrap();
    assert_eq!(keys[0], "*1", "one entry");
    let key = &keys[2];
    let ttl: u64 = redis.answer(&format!("TTL {key}")).await.unwrap()[0]
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!((1..=300).contains(&ttl), "{ttl}");
    // An entry written in another layout version (an older or newer Isartor) is a miss, never
    // misread.
    let other = format!(r#"SET {key} '{{"v":99,"reply":{{"id":"x"}}}}'"#);
    assert_eq!(redis.command(&other).await.as_deref(), Some("+OK"));
    assert_eq!(ask(&base_b, "shared between replicas").await.1, "l3");
    assert_eq!(mock.count(), 2);
    let (_, health) = get_json(&base_b, "/health", None).await;
    assert_eq!(health["layers"]["l1a"]["status"], "ready");
    assert!(
        health["layers"]["l1a"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("redis store at 127.0.0.1:")
    );

    assert_eq!(ask(&base_a, "shared between replicas").await.1, "l1a");
    assert_eq!(redis.command("FLUSHDB").await.as_deref(), Some("+OK"));
    assert_eq!(ask(&base_b, "shared between replicas").await.1, "l3");
    assert_eq!(mock.count(), 3);
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_expire_with_the_ttl() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let url = redis.url();
    let (_d, base) = daemon(&mock, |c| {
        shared(url)(c);
        c.cache_ttl_secs = 1;
    })
    .await;
    assert_eq!(ask(&base, "expiring").await.1, "l3");
    assert_eq!(ask(&base, "expiring").await.1, "l1a");
    let expired = Instant::now() + Duration::from_millis(1100);
    while Instant::now() < expired {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ask(&base, "expiring").await.1, "l3");
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_dies_degrades_to_the_cloud_and_caching_resumes_when_it_returns() {
    let redis = Redis::start().await;
    let port = redis.port;
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, shared(redis.url())).await;
    assert_eq!(ask(&base, "before the outage").await.1, "l3");
    assert_eq!(ask(&base, "before the outage").await.1, "l1a");

    redis.stop().await;
    for prompt in [
        "before the outage",
        "during the outage",
        "during the outage",
    ] {
        let (status, layer, answer) = ask(&base, prompt).await;
        assert_eq!((status, layer.as_str()), (200, "l3"), "{prompt}");
        assert!(answer.ends_with(prompt));
    }
    let (_, health) = get_json(&base, "/health", None).await;
    assert_eq!(health["layers"]["l1a"]["status"], "degraded", "{health}");
    let metrics = get_text(&base, "/metrics").await;
    assert!(
        metrics.contains(r#"isartor_cache_events_total{cache_layer="L1a",outcome="degraded"}"#),
        "{metrics}"
    );

    // Back (empty): once the breaker lets Redis be asked again, answers are stored and hit.
    let redis = Redis::on(port).await;
    let resumed = async {
        loop {
            let (status, layer, _) = ask(&base, "after the outage").await;
            assert_eq!(status, 200);
            if layer == "l1a" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), resumed)
        .await
        .expect("caching resumed without a restart");
    let (_, health) = get_json(&base, "/health", None).await;
    assert_eq!(health["layers"]["l1a"]["status"], "ready");
    redis.stop().await;
}

/// Waits (bounded) until the daemon's semantic index holds `n` entries.
pub(crate) async fn semantic_entries(base: &str, n: usize) {
    let want = format!("{n} entries");
    let wait = async {
        loop {
            let (_, health) = get_json(base, "/health", None).await;
            if health["layers"]["l1b"]["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&want))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("the semantic index reached {n} entries"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_entries_reach_the_other_replicas() {
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let both = |url: String| {
        move |c: &mut Config| {
            shared(url)(c);
            c.cache_mode = isartor::config::CacheMode::Both;
        }
    };
    let (_a, base_a) = daemon(&mock, both(redis.url())).await;
    let (_b, base_b) = daemon(&mock, both(redis.url())).await;
    for base in [&base_a, &base_b] {
        assert_eq!(semantic_ready(base).await["status"], "ready");
    }
    let (_, layer_a, stored) = ask(&base_a, "What is the capital of France?").await;
    assert_eq!(layer_a, "l3");

    // Replica B learns the entry from the channel, and serves A's answer to a paraphrase.
    semantic_entries(&base_b, 1).await;
    let (status, layer_b, answer) = ask(&base_b, "Tell me France's capital city").await;
    assert_eq!((status, layer_b.as_str()), (200, "l1b"));
    assert_eq!(answer, stored);
    assert_eq!(mock.count(), 1);

    // A replica that starts later loads it from Redis.
    let (_c, base_c) = daemon(&mock, both(redis.url())).await;
    assert_eq!(semantic_ready(&base_c).await["status"], "ready");
    semantic_entries(&base_c, 1).await;
    let (_, layer_c, answer) = ask(&base_c, "Which city is the capital of France?").await;
    assert_eq!(
        (layer_c.as_str(), answer.as_str()),
        ("l1b", stored.as_str())
    );
    assert_eq!(mock.count(), 1);
    let (_, health) = get_json(&base_c, "/health", None).await;
    assert!(
        health["layers"]["l1b"]["detail"]
            .as_str()
            .unwrap()
            .ends_with("shared via redis"),
        "{health}"
    );
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_costs_no_miss_once_it_is_back() {
    let redis = Redis::start().await;
    let port = redis.port;
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, shared(redis.url())).await;
    assert_eq!(ask(&base, "before the blip").await.1, "l3");
    assert_eq!(ask(&base, "before the blip").await.1, "l1a");
    // A blip: Redis restarts (empty) between two requests. The daemon's connection is dead but
    // it does not know yet; the first call on it fails and is sent again on a new one.
    redis.stop().await;
    let redis = Redis::on(port).await;
    let (status, layer, _) = ask(&base, "after the blip").await;
    assert_eq!(
        (status, layer.as_str()),
        (200, "l3"),
        "a miss: Redis came back empty"
    );
    assert_eq!(
        ask(&base, "after the blip").await.1,
        "l1a",
        "the answer was stored on the first request after the restart"
    );
    redis.stop().await;
}

/// A Redis user that may not run scripts (an ACL without `@scripting`) still gets a shared
/// cache: lookups fall back to a plain `GET` after the first refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_user_without_scripts_still_caches() {
    let redis = Redis::start().await;
    let added = redis
        .command("ACL SETUSER limited on >secret ~* &* +@all -@scripting")
        .await;
    assert_eq!(added.as_deref(), Some("+OK"));
    let mock = Mock::start().await;
    let url = format!("redis://limited:secret@127.0.0.1:{}/0", redis.port);
    let (_d, base) = daemon(&mock, shared(url)).await;
    assert_eq!(ask(&base, "no scripts here").await.1, "l3");
    assert_eq!(
        ask(&base, "no scripts here").await.1,
        "l1a",
        "served from Redis with plain GETs"
    );
    assert_eq!(mock.count(), 1);
    redis.stop().await;
}
