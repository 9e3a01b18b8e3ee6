//! Streaming through L3: bytes reach the client as they arrive, a reply is cached at its final
//! event even when the provider ends its body later, and every way a stream can end badly
//! (truncated, stalled upstream, client gone) leaves nothing in the cache and still publishes
//! exactly one event.

use crate::common;

use bytes::Bytes;
use common::*;
use isartor::telemetry::Layer;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_stream_is_passed_on_but_not_cached() {
    let mock = Mock::start().await;
    mock.set(Mode::Truncated);
    let (_d, base) = daemon(&mock, |_| {}).await;
    let mut body = chat("tell me a story");
    body["stream"] = json!(true);
    let (status, _, sse) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(status, 200);
    let (text, done) = sse_text(&sse);
    assert_eq!((text.as_str(), done), ("echo #1: tell me a story", false));
    mock.set(Mode::Echo);
    let (_, h, _) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(layer(&h), "l3");
    assert_eq!(mock.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_is_not_buffered() {
    let mock = Mock::start().await;
    mock.set(Mode::StreamHeld);
    let (_d, base) = daemon(&mock, |_| {}).await;
    // The mock holds the rest of its reply until released: the first content must arrive anyway.
    let (res, got) = stream_until(&base, "stream please", "first ").await;
    assert!(!got.contains("[DONE]"));
    mock.release();
    let got = read_rest(res, got).await;
    let (text, done) = sse_text(&Bytes::from(got));
    assert_eq!((text.as_str(), done), ("first second", true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upstream_stream_is_cut_after_the_timeout_and_not_cached() {
    let mock = Mock::start().await;
    mock.set(Mode::StreamHeld);
    let (d, base) = daemon(&mock, |c| c.l3_timeout_secs = 1).await;
    let mut events = d.bus().subscribe();
    // The mock sends one chunk and then nothing: after l3_timeout_secs of silence the daemon
    // ends the client's stream with an error instead of hanging.
    let (mut res, got) = stream_until(&base, "stall", "first ").await;
    let mut rest = String::new();
    let ended = loop {
        match res.chunk().await {
            Ok(Some(c)) => rest.push_str(std::str::from_utf8(&c).unwrap()),
            Ok(None) => break "eof",
            Err(_) => break "error",
        }
    };
    assert_eq!(
        ended, "error",
        "a cut stream must not look complete: {got}{rest}"
    );
    assert!(!rest.contains("[DONE]"));
    let e = events.recv().await.unwrap();
    assert_eq!(
        (e.status, e.error.as_deref()),
        (502, Some("upstream_timeout"))
    );
    assert_eq!(e.layer, Some(Layer::L3));
    mock.set(Mode::Echo);
    let (_, h, _) = post(
        &base,
        "/v1/chat/completions",
        &json!({"model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "stall"}], "stream": true}),
    )
    .await;
    assert_eq!(layer(&h), "l3");
    mock.release();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_mid_stream_still_yields_one_event() {
    let mock = Mock::start().await;
    mock.set(Mode::StreamHeld);
    let (d, base) = daemon(&mock, |_| {}).await;
    let mut events = d.bus().subscribe();
    let (res, _) = stream_until(&base, "bye", "first ").await;
    drop(res);
    let e = events.recv().await.unwrap();
    assert_eq!((e.status, e.error.as_deref()), (499, Some("client_closed")));
    assert_eq!((e.layer, e.deflected), (Some(Layer::L3), false));
    mock.release();
    // Nothing was cached from the abandoned stream.
    mock.set(Mode::Echo);
    let (_, h, _) = post(
        &base,
        "/v1/chat/completions",
        &json!({"model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "bye"}], "stream": true}),
    )
    .await;
    assert_eq!(layer(&h), "l3");
    let next = events.recv().await.unwrap();
    assert_eq!((next.status, next.layer), (200, Some(Layer::L3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_gives_up_while_l3_waits_is_recorded_in_l3() {
    let mock = Mock::start().await;
    mock.set(Mode::Hang);
    let (d, base) = daemon(&mock, |_| {}).await;
    let mut events = d.bus().subscribe();
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let sent = impatient
        .post(format!("{base}/v1/chat/completions"))
        .body(chat("anyone there?").to_string())
        .send()
        .await;
    assert!(sent.is_err(), "the upstream never answers");
    let e = events.recv().await.unwrap();
    assert_eq!((e.status, e.error.as_deref()), (499, Some("client_closed")));
    assert_eq!(e.layer, Some(Layer::L3));
}

/// A client that stops reading at the final event (the OpenAI SDK at `[DONE]`, Codex at
/// `response.completed`) while the provider's body is still open: the reply is whole, so it is
/// stored before that event reaches the client, and the next ask hits. Passed through as chat
/// chunks, and translated into Anthropic events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_is_cached_at_its_final_event_though_the_provider_ends_its_body_later() {
    let mock = Mock::start().await;
    mock.set(Mode::OpenAfterDone);
    let (d, base) = daemon(&mock, |_| {}).await;
    let mut events = d.bus().subscribe();
    let mut chat_body = chat("close late");
    chat_body["stream"] = json!(true);
    let mut messages_body = messages("close late too");
    messages_body["stream"] = json!(true);
    let asks = [
        ("/v1/chat/completions", &chat_body, "[DONE]"),
        ("/v1/messages", &messages_body, "message_stop"),
    ];
    // The text a client reads from either event sequence.
    let text = |path: &str, sse: &str| {
        let sse = Bytes::from(sse.to_string());
        match path {
            "/v1/messages" => anthropic_sse(&sse).0,
            _ => sse_text(&sse).0,
        }
    };
    for (n, (path, body, last)) in asks.into_iter().enumerate() {
        let (res, got) = stream_body_until(&base, path, body, last).await;
        let first = text(path, &got);
        assert!(
            first.starts_with(&format!("echo #{}: close late", n + 1)),
            "{got}"
        );
        drop(res);
        let e = events.recv().await.unwrap();
        assert_eq!((e.status, e.error.as_deref()), (200, None), "{path}");
        assert_eq!(e.layer, Some(Layer::L3));
        let (status, h, again) = post(&base, path, body).await;
        assert_eq!((status.as_u16(), layer(&h)), (200, "l1a"), "{path}");
        assert_eq!(text(path, &String::from_utf8_lossy(&again)), first);
        assert_eq!(mock.count(), n + 1);
        events.recv().await.unwrap();
    }
    mock.release();
    mock.release();
}
