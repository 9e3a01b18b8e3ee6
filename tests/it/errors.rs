//! Failure paths through the real gateway: bad input, auth, upstream errors, timeouts, offline
//! mode and missing keys. Each must give a clear error in the client's format and never a panic.

use crate::common;

use bytes::Bytes;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_4xx_errors_in_the_clients_format() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| c.max_body_bytes = 1024).await;
    let cases: Vec<(&str, Bytes, u16, &str)> = vec![
        (
            "/v1/chat/completions",
            Bytes::from_static(b"{not json"),
            400,
            "not valid JSON",
        ),
        (
            "/v1/chat/completions",
            Bytes::from_static(b"[1,2]"),
            400,
            "JSON object",
        ),
        (
            "/v1/chat/completions",
            Bytes::from(json!({"messages": [{"role": "user", "content": "x"}]}).to_string()),
            400,
            "'model'",
        ),
        (
            "/v1/chat/completions",
            Bytes::from(json!({"model": "m"}).to_string()),
            400,
            "'messages'",
        ),
        (
            "/v1/chat/completions",
            Bytes::from(json!({"model": "m", "messages": "hi"}).to_string()),
            400,
            "array",
        ),
        (
            "/v1/chat/completions",
            Bytes::from(json!({"model": 3, "messages": []}).to_string()),
            400,
            "string",
        ),
        (
            "/v1/chat/completions",
            Bytes::from(
                json!({"model": "m", "messages": [{"role": "user", "content": 1}]}).to_string(),
            ),
            400,
            "messages[0].content",
        ),
        (
            "/v1/chat/completions",
            Bytes::from(vec![b' '; 2048]),
            413,
            "max_body_bytes",
        ),
        ("/api/chat", Bytes::from_static(b"{}"), 400, "'prompt'"),
        (
            "/api/chat",
            Bytes::from(json!({"prompt": 42}).to_string()),
            400,
            "string",
        ),
        ("/api/chat", Bytes::from_static(b""), 400, "not valid JSON"),
    ];
    for (path, body, status, needle) in cases {
        let (got, headers, body) = post_raw(&base, path, body, &[]).await;
        assert_eq!(got.as_u16(), status, "{path} {needle}");
        assert_eq!(headers["content-type"], "application/json");
        let v = as_json(&body);
        let message = v["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("error shape: {v}"));
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        if path.starts_with("/v1/") {
            assert_eq!(v["error"]["type"], "invalid_request_error");
        }
    }
    // Wrong method and unknown path.
    let c = client();
    let res = c
        .get(format!("{base}/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let v = as_json(&res.bytes().await.unwrap());
    assert_eq!(v["error"]["code"], "method_not_allowed");
    let res = c.post(format!("{base}/v2/nothing")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        as_json(&res.bytes().await.unwrap())["error"]["code"],
        "not_found"
    );
    // A body declared larger than the limit is refused before it is read: the client sends
    // only the headers and still gets its 413.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut raw = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    raw.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 999999\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = vec![0u8; 12];
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        raw.read_exact(&mut head),
    )
    .await
    .expect("answered without waiting for the body")
    .unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");
    // Nothing above reached the cloud, and the daemon still serves.
    assert_eq!(mock.count(), 0);
    assert_eq!(
        c.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_key_guards_every_route_but_healthz() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.gateway_api_key = isartor::config::Secret("gw-secret".into())
    })
    .await;
    let body = Bytes::from(chat("hi").to_string());
    let (status, h, b) = post_raw(&base, "/v1/chat/completions", body.clone(), &[]).await;
    assert_eq!(status, 401);
    assert!(h.get("x-isartor-layer").is_none());
    assert_eq!(as_json(&b)["error"]["type"], "authentication_error");
    let (status, _, _) = post_raw(
        &base,
        "/v1/chat/completions",
        body.clone(),
        &[("x-api-key", "wrong")],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, b) = post_raw(
        &base,
        "/api/chat",
        Bytes::from_static(br#"{"prompt":"x"}"#),
        &[],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(as_json(&b)["error"]["code"], "invalid_api_key");
    assert_eq!(mock.count(), 0);

    let (status, _, _) = post_raw(
        &base,
        "/v1/chat/completions",
        body.clone(),
        &[("x-api-key", "gw-secret")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, h, _) = post_raw(
        &base,
        "/v1/chat/completions",
        body.clone(),
        &[("authorization", "Bearer gw-secret")],
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l1a"));
    // The gateway key never goes upstream; the configured provider key does.
    assert_eq!(mock.last().headers["authorization"], "Bearer sk-upstream");

    for (path, key, expected) in [
        ("/healthz", None, 200),
        ("/health", None, 401),
        ("/v1/models", None, 401),
        ("/v1/models", Some(("x-api-key", "gw-secret")), 200),
        ("/health", Some(("authorization", "Bearer gw-secret")), 200),
    ] {
        assert_eq!(
            get_json(&base, path, key).await.0,
            expected,
            "{path} {key:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_500_is_a_502_and_nothing_is_cached() {
    let mock = Mock::start().await;
    mock.set(Mode::Status(500, r#"{"error":{"message":"overloaded"}}"#));
    let (_d, base) = daemon(&mock, |_| {}).await;
    for round in 1..=2 {
        let (status, h, b) = post(&base, "/v1/chat/completions", &chat("fail me")).await;
        assert_eq!(status, 502, "round {round}");
        assert_eq!(layer(&h), "l3");
        assert_eq!(h["x-isartor-deflected"], "false");
        let v = as_json(&b);
        assert_eq!(v["error"]["code"], "upstream_error");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("overloaded")
        );
        // Tried once and retried once (l3_retries = 1) before giving up.
        assert_eq!(mock.count(), 2 * round);
    }
    // Once upstream recovers the answer flows and is cached.
    mock.set(Mode::Echo);
    let (status, h, _) = post(&base, "/v1/chat/completions", &chat("fail me")).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let (_, h, _) = post(&base, "/v1/chat/completions", &chat("fail me")).await;
    assert_eq!(layer(&h), "l1a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_4xx_passes_through_unchanged_and_uncached() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| c.l3_retries = 0).await;
    for (status, body) in [
        (
            429,
            r#"{"error":{"message":"slow down","type":"rate_limit"}}"#,
        ),
        (
            400,
            r#"{"error":{"message":"bad field","type":"invalid_request_error"}}"#,
        ),
    ] {
        mock.set(Mode::Status(status, body));
        for _ in 1..=2 {
            let before = mock.count();
            let (got, h, b) = post(&base, "/v1/chat/completions", &chat("too fast")).await;
            assert_eq!(got.as_u16(), status);
            assert_eq!(layer(&h), "l3");
            assert_eq!(b, Bytes::from_static(body.as_bytes()));
            assert_eq!(mock.count(), before + 1, "not cached, not retried");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_a_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| c.external_llm_url = url).await;
    for path_body in [
        ("/v1/chat/completions", chat("x")),
        ("/api/chat", json!({"prompt": "x"})),
    ] {
        let (status, h, b) = post(&base, path_body.0, &path_body.1).await;
        assert_eq!(status, 502);
        assert_eq!(layer(&h), "l3");
        let v = as_json(&b);
        assert_eq!(v["error"]["code"], "upstream_unreachable");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cannot reach")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_never_answers_times_out_as_502() {
    let mock = Mock::start().await;
    mock.set(Mode::Hang);
    let (_d, base) = daemon(&mock, |c| c.l3_timeout_secs = 1).await;
    let (status, h, b) = post(&base, "/v1/chat/completions", &chat("anyone?")).await;
    assert_eq!(status, 502);
    assert_eq!(layer(&h), "l3");
    assert_eq!(as_json(&b)["error"]["code"], "upstream_timeout");
    mock.set(Mode::Echo);
    let (_, h, _) = post(&base, "/v1/chat/completions", &chat("anyone?")).await;
    assert_eq!(
        layer(&h),
        "l3",
        "the timed-out request left nothing in the cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_mode_answers_503_without_egress() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| c.offline_mode = true).await;
    let (status, h, b) = post(&base, "/v1/chat/completions", &chat("x")).await;
    assert_eq!(status, 503);
    assert_eq!(layer(&h), "l3");
    assert_eq!(as_json(&b)["error"]["code"], "offline_mode");
    assert_eq!(mock.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_provider_key_l3_says_how_to_configure_one() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| c.external_llm_api_key = Default::default()).await;
    let (status, _, b) = post(&base, "/v1/chat/completions", &chat("x")).await;
    assert_eq!(status, 502);
    let v = as_json(&b);
    assert_eq!(v["error"]["code"], "no_api_key");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ISARTOR__EXTERNAL_LLM_API_KEY")
    );
    assert_eq!(mock.count(), 0);
    let (_, health) = get_json(&base, "/health", None).await;
    assert_eq!(health["layers"]["l3"]["status"], "degraded");

    // A client that brings its own key is forwarded with it.
    let (status, h, _) = post_raw(
        &base,
        "/v1/chat/completions",
        Bytes::from(chat("x").to_string()),
        &[("authorization", "Bearer sk-client")],
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    assert_eq!(mock.last().headers["authorization"], "Bearer sk-client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_models_describe_the_daemon() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let (_, healthz) = get_json(&base, "/healthz", None).await;
    assert_eq!(healthz, json!({"status": "ok"}));
    let (_, health) = get_json(&base, "/health", None).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health["layers"]["l1a"]["status"], "ready");
    // The test config turns the semantic cache off (cache_mode = exact).
    assert_eq!(health["layers"]["l1b"]["status"], "disabled");
    assert_eq!(health["layers"]["l2"]["status"], "disabled");
    assert_eq!(health["layers"]["l3"]["status"], "ready");
    assert!(health["uptime_secs"].is_u64());
    let (_, models) = get_json(&base, "/v1/models", None).await;
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "gpt-4o-mini");
}
