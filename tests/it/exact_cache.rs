//! The exact cache through the real gateway: what hits, what misses, JSON ↔ SSE rendering,
//! byte-faithful forwarding and the telemetry event of each request.

use crate::common;

use bytes::Bytes;
use common::*;
use isartor::telemetry::Layer;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_identical_requests_reach_upstream_once() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let body = chat("What is the capital of France?");
    let (status, headers, first) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(status, 200);
    assert_eq!(layer(&headers), "l3");
    assert_eq!(headers["x-isartor-deflected"], "false");
    let first = as_json(&first);
    assert_eq!(
        first["choices"][0]["message"]["content"],
        "echo #1: What is the capital of France?"
    );
    let mut first_hit: Option<Bytes> = None;
    for _ in 0..99 {
        let (status, headers, again) = post(&base, "/v1/chat/completions", &body).await;
        assert_eq!(status, 200);
        assert_eq!(layer(&headers), "l1a");
        assert_eq!(headers["x-isartor-deflected"], "true");
        let hit = as_json(&again);
        assert_eq!(
            hit["choices"][0]["message"],
            json!({"role": "assistant",
            "content": first["choices"][0]["message"]["content"], "refusal": null})
        );
        assert_eq!(hit["choices"][0]["finish_reason"], "stop");
        assert_eq!(hit["object"], "chat.completion");
        assert_eq!(hit["id"], first["id"]);
        assert_eq!(hit["usage"]["total_tokens"], 18);
        // Every hit renders the same bytes.
        assert_eq!(first_hit.get_or_insert(again.clone()), &again);
    }
    assert_eq!(mock.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_request_after_a_plain_one_is_a_hit_rendered_as_sse() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let body = chat("explain git rebase");
    let (_, h, plain) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(layer(&h), "l3");
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let (status, h, sse) = post(&base, "/v1/chat/completions", &streamed).await;
    assert_eq!(status, 200);
    assert_eq!(layer(&h), "l1a");
    assert_eq!(h["content-type"], "text/event-stream");
    let (text, done) = sse_text(&sse);
    assert!(done, "stream ends with [DONE]");
    assert_eq!(text, as_json(&plain)["choices"][0]["message"]["content"]);
    let usage_line = std::str::from_utf8(&sse)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .find(|v| v["usage"].is_object())
        .expect("include_usage renders a usage chunk");
    assert_eq!(usage_line["usage"]["prompt_tokens"], 11);
    assert_eq!(mock.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_request_after_a_streamed_one_is_a_hit_rendered_as_json() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let mut streamed = chat("write a haiku about rust");
    streamed["stream"] = json!(true);
    let (status, h, sse) = post(&base, "/v1/chat/completions", &streamed).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let (text, done) = sse_text(&sse);
    assert!(done);
    assert_eq!(text, "echo #1: write a haiku about rust");
    // The mock streamed; its bytes reached the client unchanged.
    assert!(
        std::str::from_utf8(&sse)
            .unwrap()
            .contains("chatcmpl-mock1")
    );

    let (status, h, plain) = post(
        &base,
        "/v1/chat/completions",
        &chat("write a haiku about rust"),
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l1a"));
    let plain = as_json(&plain);
    assert_eq!(plain["choices"][0]["message"]["content"], text);
    assert_eq!(plain["choices"][0]["finish_reason"], "stop");
    assert_eq!(mock.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_fields_hit_and_answer_affecting_fields_miss() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let base_body = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "list files"}],
        "temperature": 0.2,
        "tools": [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}]
    });
    post(&base, "/v1/chat/completions", &base_body).await;
    assert_eq!(mock.count(), 1);

    type Change = Box<dyn Fn(&mut Value)>;
    let hits: Vec<Change> = vec![
        Box::new(|b| b["metadata"] = json!({"user_id": "session-123"})),
        Box::new(|b| b["user"] = json!("someone-else")),
        Box::new(|b| b["store"] = json!(false)),
        Box::new(|b| b["prompt_cache_key"] = json!("k-42")),
        Box::new(|b| b["temperature"] = json!(0.20)),
    ];
    for (i, change) in hits.iter().enumerate() {
        let mut b = base_body.clone();
        change(&mut b);
        let (_, h, _) = post_raw(
            &base,
            "/v1/chat/completions",
            Bytes::from(b.to_string()),
            &[("x-request-id", &format!("req-{i}"))],
        )
        .await;
        assert_eq!(layer(&h), "l1a", "hit variant {i}");
    }
    assert_eq!(mock.count(), 1);

    let misses: Vec<Change> = vec![
        Box::new(|b| b["model"] = json!("gpt-4o")),
        Box::new(|b| b["temperature"] = json!(0.9)),
        Box::new(|b| b["messages"][0]["content"] = json!("be verbose")),
        Box::new(|b| b["tools"][0]["function"]["name"] = json!("dir")),
        Box::new(|b| b["messages"][1]["content"] = json!("list files.")),
        Box::new(|b| {
            b["messages"]
                .as_array_mut()
                .unwrap()
                .push(json!({"role": "user", "content": "and hidden ones"}))
        }),
        Box::new(|b| b["max_tokens"] = json!(10)),
    ];
    for (i, change) in misses.iter().enumerate() {
        let mut b = base_body.clone();
        change(&mut b);
        let (_, h, _) = post(&base, "/v1/chat/completions", &b).await;
        assert_eq!(layer(&h), "l3", "miss variant {i}");
        assert_eq!(mock.count(), 2 + i, "miss variant {i} reached upstream");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_is_byte_faithful_with_our_key() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    // Odd spacing, key order and an unknown field must all arrive untouched.
    let raw = Bytes::from_static(
        br#"{ "messages":[{"role":"user","content":"hi","x_extra":{"b":1,"a":2}}],  "model":"gpt-4o-mini","vendor_flag":true}"#,
    );
    let (status, h, _) = post_raw(
        &base,
        "/v1/chat/completions",
        raw.clone(),
        &[
            ("openai-organization", "org-1"),
            ("accept-encoding", "gzip"),
        ],
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let seen = mock.last();
    assert_eq!(seen.body, raw);
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.headers["authorization"], "Bearer sk-upstream");
    assert_eq!(seen.headers["openai-organization"], "org-1");
    assert_eq!(
        seen.headers.get_all("content-type").iter().count(),
        1,
        "{:?}",
        seen.headers
    );
    assert_eq!(seen.headers.get_all("authorization").iter().count(), 1);
    assert!(
        seen.headers
            .get("accept-encoding")
            .is_none_or(|v| v != "gzip")
    );
    // Upstream response headers come back too.
    assert_eq!(h["x-request-id"], "req-mock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_survive_the_cache_in_json_and_sse() {
    let mock = Mock::start().await;
    mock.set(Mode::ToolCall);
    let (_d, base) = daemon(&mock, |_| {}).await;
    let mut body = chat("weather in Paris?");
    body["tools"] = json!([{"type": "function", "function": {"name": "get_weather"}}]);
    let (_, h, first) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(layer(&h), "l3");
    let first = as_json(&first);
    let (_, h, again) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(layer(&h), "l1a");
    let again = as_json(&again);
    assert_eq!(
        again["choices"][0]["message"]["tool_calls"],
        first["choices"][0]["message"]["tool_calls"]
    );
    assert_eq!(again["choices"][0]["finish_reason"], "tool_calls");
    assert!(again["choices"][0]["message"]["content"].is_null());

    body["stream"] = json!(true);
    let (_, h, sse) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(layer(&h), "l1a");
    let text = std::str::from_utf8(&sse).unwrap();
    assert!(text.contains(r#""name":"get_weather""#), "{text}");
    assert!(text.contains(r#""finish_reason":"tool_calls""#), "{text}");
    assert_eq!(mock.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_tool_calls_are_reassembled_for_the_cache() {
    let mock = Mock::start().await;
    mock.set(Mode::ToolCall);
    let (_d, base) = daemon(&mock, |_| {}).await;
    let mut body = chat("weather?");
    body["stream"] = json!(true);
    let (_, h, _) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(layer(&h), "l3");
    body["stream"] = json!(false);
    let (_, h, plain) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(layer(&h), "l1a");
    let call = &as_json(&plain)["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_1");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_chat_goes_through_the_same_pipeline() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| c.external_llm_model = "default-model".into()).await;
    let (status, h, body) = post(&base, "/api/chat", &json!({"prompt": "ping"})).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let body = as_json(&body);
    assert_eq!(
        body,
        json!({"layer": 3, "message": "echo #1: ping", "model": "mock-model"})
    );
    let upstream = mock.last().json();
    assert_eq!(upstream["model"], "default-model");
    assert_eq!(
        upstream["messages"],
        json!([{"role": "user", "content": "ping"}])
    );

    let (_, h, again) = post(&base, "/api/chat", &json!({"prompt": "ping"})).await;
    assert_eq!(layer(&h), "l1a");
    assert_eq!(as_json(&again)["layer"], 1);
    assert_eq!(as_json(&again)["message"], "echo #1: ping");
    // Native and OpenAI entries are separate namespaces.
    let (_, h, _) = post(
        &base,
        "/v1/chat/completions",
        &json!({"model": "default-model", "messages": [{"role": "user", "content": "ping"}]}),
    )
    .await;
    assert_eq!(layer(&h), "l3");
    assert_eq!(mock.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_do_not_share_entries_unless_scope_is_global() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let body = Bytes::from(chat("same prompt").to_string());
    let ask = |key: &'static str| {
        let (base, body) = (base.clone(), body.clone());
        async move {
            let (_, h, _) = post_raw(
                &base,
                "/v1/chat/completions",
                body,
                &[("authorization", key)],
            )
            .await;
            layer(&h).to_string()
        }
    };
    assert_eq!(ask("Bearer alice").await, "l3");
    assert_eq!(ask("Bearer alice").await, "l1a");
    assert_eq!(ask("Bearer bob").await, "l3");

    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.cache_scope = isartor::config::CacheScope::Global
    })
    .await;
    let (_, h, _) = post_raw(
        &base,
        "/v1/chat/completions",
        body.clone(),
        &[("authorization", "Bearer alice")],
    )
    .await;
    assert_eq!(layer(&h), "l3");
    let (_, h, _) = post_raw(
        &base,
        "/v1/chat/completions",
        body.clone(),
        &[("authorization", "Bearer bob")],
    )
    .await;
    assert_eq!(layer(&h), "l1a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_publishes_one_event_with_layers_and_tokens() {
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, |_| {}).await;
    let mut events = d.bus().subscribe();
    post_raw(
        &base,
        "/v1/chat/completions",
        Bytes::from(chat("count me").to_string()),
        &[("user-agent", "OpenAI/Python 1.99")],
    )
    .await;
    post(&base, "/v1/chat/completions", &chat("count me")).await;
    let miss = events.recv().await.unwrap();
    let hit = events.recv().await.unwrap();
    assert_eq!(
        (miss.layer, miss.status, miss.deflected),
        (Some(Layer::L3), 200, false)
    );
    assert_eq!(miss.client, "openai-python");
    assert_eq!(
        (miss.tokens_in, miss.tokens_out, miss.tokens_saved),
        (11, 7, 0)
    );
    assert_eq!(
        miss.layers.iter().map(|l| l.layer).collect::<Vec<_>>(),
        vec![Layer::L1a, Layer::L3]
    );
    assert_eq!(
        (hit.layer, hit.deflected, hit.tokens_saved),
        (Some(Layer::L1a), true, 18)
    );
    assert_eq!(hit.model, "gpt-4o-mini");
    assert!(events.try_recv().is_err(), "one event per request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_prior_knowledge_is_served() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let mut answers = Vec::new();
    for expected in ["l3", "l1a"] {
        let res = h2
            .post(format!("{base}/v1/chat/completions"))
            .body(chat("over h2").to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.version(), reqwest::Version::HTTP_2);
        assert_eq!(layer(res.headers()), expected);
        // Read the whole body: a response the client abandons is (rightly) not cached.
        let body = as_json(&res.bytes().await.unwrap());
        answers.push(body["choices"][0]["message"]["content"].clone());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], "echo #1: over h2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_expire_after_the_ttl() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| c.cache_ttl_secs = 1).await;
    let (_, h, _) = post(&base, "/v1/chat/completions", &chat("short-lived")).await;
    assert_eq!(layer(&h), "l3");
    let (_, h, _) = post(&base, "/v1/chat/completions", &chat("short-lived")).await;
    assert_eq!(layer(&h), "l1a");
    // Let the one-second TTL pass for certain, then the entry must be gone.
    let expired = std::time::Instant::now() + std::time::Duration::from_millis(1100);
    while std::time::Instant::now() < expired {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, h, _) = post(&base, "/v1/chat/completions", &chat("short-lived")).await;
    assert_eq!(layer(&h), "l3");
    assert_eq!(mock.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_gets_its_deployment_url_and_api_key_header() {
    let mock = Mock::start().await;
    let base_url = format!("http://{}", mock.addr);
    let (_d, base) = daemon(&mock, |c| {
        c.llm_provider = isartor::config::Provider::Azure;
        c.external_llm_url = base_url;
        c.azure_deployment_id = "gpt4o-prod".into();
    })
    .await;
    let (status, h, _) = post(&base, "/v1/chat/completions", &chat("hello azure")).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let seen = mock.last();
    assert_eq!(
        seen.path,
        "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(seen.headers["api-key"], "sk-upstream");
    assert!(seen.headers.get("authorization").is_none());
}
