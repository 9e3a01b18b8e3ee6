//! Per-request cache control, as clients send it: `Cache-Control: no-cache` (skip the lookup,
//! store the fresh answer), `no-store` (do not store it), `max-age=N` (only an entry at most N s
//! old), `X-Isartor-Cache-TTL: N` (store for N s); hits carry `Age`.

use crate::common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;

async fn ask(base: &str, prompt: &str, headers: &[(&str, &str)]) -> (String, String, Option<u64>) {
    let (status, h, body) = post_raw(
        base,
        "/v1/chat/completions",
        Bytes::from(chat(prompt).to_string()),
        headers,
    )
    .await;
    assert_eq!(status, 200);
    let answer = as_json(&body)["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let age = h
        .get("age")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    (layer(&h).to_string(), answer, age)
}

/// Waits on the clock until `d` has passed.
async fn wait(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_refreshes_and_no_store_keeps_nothing() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let (layer, first, age) = ask(&base, "refresh me", &[]).await;
    assert_eq!((layer.as_str(), age), ("l3", None));
    let (layer, _, age) = ask(&base, "refresh me", &[]).await;
    assert_eq!(layer, "l1a");
    assert!(age.is_some(), "a hit says its age");
    let (layer, fresh, _) = ask(&base, "refresh me", &[("cache-control", "no-cache")]).await;
    assert_eq!(layer, "l3", "no-cache skips the lookup");
    assert_ne!(fresh, first);
    let (layer, again, _) = ask(&base, "refresh me", &[]).await;
    assert_eq!(
        (layer.as_str(), again),
        ("l1a", fresh),
        "the fresh answer was stored"
    );

    let (layer, _, _) = ask(&base, "forget me", &[("cache-control", "no-store")]).await;
    assert_eq!(layer, "l3");
    let (layer, _, _) = ask(&base, "forget me", &[]).await;
    assert_eq!(layer, "l3", "no-store kept nothing");
    let (layer, _, _) = ask(&base, "forget me", &[]).await;
    assert_eq!(layer, "l1a");
    assert_eq!(mock.count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_and_a_ttl_of_the_requests_own() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| c.cache_ttl_secs = 300).await;
    assert_eq!(ask(&base, "aged", &[]).await.0, "l3");
    assert_eq!(
        ask(&base, "short-lived", &[("x-isartor-cache-ttl", "1")])
            .await
            .0,
        "l3"
    );
    assert_eq!(ask(&base, "short-lived", &[]).await.0, "l1a");
    wait(Duration::from_millis(1100)).await;
    let (layer, _, age) = ask(&base, "aged", &[("cache-control", "max-age=3600")]).await;
    assert_eq!(layer, "l1a");
    assert!(age.is_some_and(|a| a >= 1), "{age:?}");
    let (layer, _, _) = ask(&base, "aged", &[("cache-control", "max-age=0")]).await;
    assert_eq!(layer, "l3", "an entry older than max-age is not served");
    let (layer, _, _) = ask(&base, "short-lived", &[]).await;
    assert_eq!(
        layer, "l3",
        "stored for its own TTL of 1 s, not the 300 s default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_answer_is_served_only_when_every_provider_fails() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.cache_ttl_secs = 1;
        c.serve_stale_on_error = true;
        c.stale_ttl_secs = 60;
        c.l3_retries = 0;
    })
    .await;
    let (served, first, _) = ask(&base, "kept for bad days", &[]).await;
    assert_eq!(served, "l3");
    wait(Duration::from_millis(1100)).await;
    // Expired, provider up: a fresh answer, not the stale one.
    let (served, second, _) = ask(&base, "kept for bad days", &[]).await;
    assert_eq!(served, "l3");
    assert_ne!(second, first);
    wait(Duration::from_millis(1100)).await;
    // Expired, provider failing: the stale answer, marked so.
    mock.set(Mode::Status(503, r#"{"error":{"message":"down"}}"#));
    let (status, h, body) = post(&base, "/v1/chat/completions", &chat("kept for bad days")).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l1a"));
    assert_eq!(h["x-isartor-stale"], "true");
    assert!(h.get("age").is_some());
    assert_eq!(
        as_json(&body)["choices"][0]["message"]["content"],
        second.as_str()
    );
    // A request with nothing stale behind it still gets the provider's failure.
    let (status, _, _) = post(&base, "/v1/chat/completions", &chat("never asked")).await;
    assert_eq!(status, 502);
    let metrics = get_text(&base, "/metrics").await;
    assert!(
        metrics.contains(r#"isartor_cache_events_total{cache_layer="L1a",outcome="stale"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_stale_if_error_a_failure_is_a_failure() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.cache_ttl_secs = 1;
        c.l3_retries = 0;
    })
    .await;
    assert_eq!(ask(&base, "gone when old", &[]).await.0, "l3");
    wait(Duration::from_millis(1100)).await;
    mock.set(Mode::Status(503, r#"{"error":{"message":"down"}}"#));
    let (status, h, _) = post(&base, "/v1/chat/completions", &chat("gone when old")).await;
    assert_eq!(status, 502);
    assert!(h.get("x-isartor-stale").is_none());
}
