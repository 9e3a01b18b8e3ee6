//! The Anthropic Messages surface through the real gateway: byte-faithful pass-through to an
//! anthropic provider, cached replays as JSON and as the full SSE event sequence, Claude Code's
//! volatile fields kept out of the key, translation to and from an OpenAI provider, and errors in
//! Anthropic's shape.

use crate::common;

use bytes::Bytes;
use common::*;
use isartor::config::{Config, Provider};
use serde_json::json;

pub(crate) fn anthropic_provider(mock: &Mock) -> impl FnOnce(&mut Config) {
    let base = format!("http://{}", mock.addr);
    move |c: &mut Config| {
        c.llm_provider = Provider::Anthropic;
        c.external_llm_url = base;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_is_byte_faithful_and_repeats_hit() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, anthropic_provider(&mock)).await;
    let raw = Bytes::from_static(
        br#"{"model":"claude-sonnet-4-5","max_tokens":64,"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"capital of France?"}],"x_unknown":1}"#,
    );
    let (status, h, first) = post_raw(
        &base,
        "/v1/messages?beta=true",
        raw.clone(),
        &[
            ("anthropic-beta", "prompt-caching-2024-07-31"),
            ("x-api-key", "client-key"),
        ],
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.body, raw);
    assert_eq!(seen.headers["x-api-key"], "sk-upstream");
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert_eq!(seen.headers["anthropic-beta"], "prompt-caching-2024-07-31");
    assert!(seen.headers.get("authorization").is_none());
    let first = as_json(&first);
    assert_eq!(first["content"][0]["text"], "echo #1: capital of France?");

    let (status, h, again) = post_raw(
        &base,
        "/v1/messages",
        raw.clone(),
        &[("x-api-key", "client-key")],
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l1a"));
    let again = as_json(&again);
    assert_eq!(again["type"], "message");
    assert_eq!(again["content"], first["content"]);
    assert_eq!(again["stop_reason"], "end_turn");
    assert_eq!(again["usage"]["input_tokens"], 11);
    assert_eq!(mock.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_replies_pass_through_and_replay_as_a_full_event_sequence() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, anthropic_provider(&mock)).await;
    let mut body = messages("explain rebase");
    body["stream"] = json!(true);
    let (status, h, sse) = post(&base, "/v1/messages", &body).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let (text, _) = anthropic_sse(&sse);
    assert_eq!(text, "echo #1: explain rebase");

    let (status, h, replay) = post(&base, "/v1/messages", &body).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l1a"));
    assert_eq!(h["content-type"], "text/event-stream");
    let (replayed, names) = anthropic_sse(&replay);
    assert_eq!(replayed, text);
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    // And the same entry as JSON for a non-streaming caller.
    let (_, h, plain) = post(&base, "/v1/messages", &messages("explain rebase")).await;
    assert_eq!(layer(&h), "l1a");
    assert_eq!(as_json(&plain)["content"][0]["text"], text);
    assert_eq!(mock.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_session_ids_hashes_and_cache_markers_do_not_break_hits() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, anthropic_provider(&mock)).await;
    let run = |session: &str, cch: &str, marker_on_system: bool| {
        let mut system = json!([
            {"type": "text", "text": format!("x-anthropic-billing-header: cc_version=2.0.14; cch={cch};")},
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}
        ]);
        let mut user = json!({"type": "text", "text": "what does git add -p do"});
        if marker_on_system {
            system[1]["cache_control"] = json!({"type": "ephemeral"});
        } else {
            user["cache_control"] = json!({"type": "ephemeral"});
        }
        json!({"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": true,
            "metadata": {"user_id": format!("user_abc_account__session_{session}")},
            "system": system, "messages": [{"role": "user", "content": [user]}]})
    };
    let (_, h, _) = post(&base, "/v1/messages", &run("1111", "a1b2c", true)).await;
    assert_eq!(layer(&h), "l3");
    let (_, h, _) = post(&base, "/v1/messages", &run("2222", "9f9f0", false)).await;
    assert_eq!(layer(&h), "l1a");
    assert_eq!(mock.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_clients_work_with_an_openai_provider() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let mut body = messages("sort a list in python");
    body["system"] = json!("be brief; cch=ab12;");
    let (status, h, reply) = post(&base, "/v1/messages", &body).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let upstream = mock.last();
    assert_eq!(upstream.path, "/v1/chat/completions");
    let sent = upstream.json();
    // Translated, but the text is the client's own: key canonicalisation never leaks upstream.
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "be brief; cch=ab12;"})
    );
    assert_eq!(sent["max_tokens"], 256);
    let reply = as_json(&reply);
    assert_eq!(reply["type"], "message");
    assert_eq!(
        reply["content"][0]["text"],
        "echo #1: sort a list in python"
    );
    assert!(reply["id"].as_str().unwrap().starts_with("msg_"));

    // A streaming Anthropic client: the provider streams chat chunks, the client gets the
    // Messages event sequence, translated as it arrives; the rebuilt reply is cached.
    let mut streamed = messages("reverse a string in rust");
    streamed["stream"] = json!(true);
    let (_, h, sse) = post(&base, "/v1/messages", &streamed).await;
    assert_eq!(layer(&h), "l3");
    assert_eq!(h["content-type"], "text/event-stream");
    let sent = mock.last().json();
    assert_eq!(
        (&sent["stream"], &sent["stream_options"]["include_usage"]),
        (&json!(true), &json!(true))
    );
    let (text, names) = anthropic_sse(&sse);
    assert_eq!(text, "echo #2: reverse a string in rust");
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    let (_, h, replay) = post(&base, "/v1/messages", &streamed).await;
    assert_eq!(layer(&h), "l1a");
    assert_eq!(anthropic_sse(&replay).0, text);
    assert_eq!(mock.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translated_streams_arrive_while_the_provider_is_still_streaming() {
    let mock = Mock::start().await;
    mock.set(Mode::StreamHeld);
    let (_d, base) = daemon(&mock, |_| {}).await;
    let mut body = messages("stream across families");
    body["stream"] = json!(true);
    // The mock (OpenAI) holds its reply after "first ": the Anthropic text delta must arrive.
    let (res, got) = stream_body_until(&base, "/v1/messages", &body, "\"text\":\"first \"").await;
    assert!(!got.contains("message_stop"));
    mock.release();
    let got = read_rest(res, got).await;
    let (text, names) = anthropic_sse(&bytes::Bytes::from(got));
    assert_eq!(text, "first second");
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_clients_work_with_an_anthropic_provider() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, anthropic_provider(&mock)).await;
    let mut body = chat("what is a monad");
    body["max_tokens"] = json!(99);
    body["stream"] = json!(true);
    let (status, h, sse) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let sent = mock.last().json();
    assert_eq!(sent["max_tokens"], 99);
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "what is a monad",
            "cache_control": {"type": "ephemeral"}}]}])
    );
    let (text, done) = sse_text(&sse);
    assert_eq!((text.as_str(), done), ("echo #1: what is a monad", true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_come_back_in_anthropic_shape() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.gateway_api_key = isartor::config::Secret("gw".into())
    })
    .await;
    let (status, _, body) = post_raw(
        &base,
        "/v1/messages",
        Bytes::from(messages("x").to_string()),
        &[],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(as_json(&body)["error"]["type"], "authentication_error");
    let (status, _, body) = post_raw(
        &base,
        "/v1/messages",
        Bytes::from_static(br#"{"model":"m"}"#),
        &[("x-api-key", "gw")],
    )
    .await;
    assert_eq!(status, 400);
    let v = as_json(&body);
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"].as_str().unwrap().contains("messages"));
    mock.set(Mode::Status(500, "{}"));
    let (status, h, body) = post_raw(
        &base,
        "/v1/messages",
        Bytes::from(messages("x").to_string()),
        &[("x-api-key", "gw")],
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (502, "l3"));
    assert_eq!(as_json(&body)["error"]["type"], "api_error");
    // Clients probe the base URL.
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let res = client()
            .request(method, format!("{base}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_tokens_goes_to_an_anthropic_provider_and_is_estimated_otherwise() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, anthropic_provider(&mock)).await;
    let body = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "count me"}]});
    for round in 1..=2 {
        let (status, h, reply) = post(&base, "/v1/messages/count_tokens", &body).await;
        assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
        assert_eq!(as_json(&reply), json!({"input_tokens": 42}));
        let seen = mock.last();
        assert_eq!(seen.path, "/v1/messages/count_tokens");
        assert_eq!(seen.headers["x-api-key"], "sk-upstream");
        assert_eq!(mock.count(), round, "never cached");
    }

    let other = Mock::start().await;
    let (_d, base) = daemon(&other, |_| {}).await;
    let long = json!({"model": "m", "system": "x".repeat(400),
        "messages": [{"role": "user", "content": "y".repeat(400)}]});
    let (status, h, reply) = post(&base, "/v1/messages/count_tokens", &long).await;
    assert_eq!(status, 200);
    assert!(h.get("x-isartor-layer").is_none());
    assert_eq!(as_json(&reply), json!({"input_tokens": 200}));
    assert_eq!(other.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_cache_tokens_reach_the_event_and_the_replay() {
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, anthropic_provider(&mock)).await;
    let mut events = d.bus().subscribe();
    for expected in ["l3", "l1a"] {
        let (_, h, body) = post(&base, "/v1/messages", &messages("cached prompt")).await;
        assert_eq!(layer(&h), expected);
        let usage = &as_json(&body)["usage"];
        assert_eq!(
            (&usage["input_tokens"], &usage["cache_read_input_tokens"]),
            (&json!(11), &json!(40))
        );
        assert_eq!(usage["cache_creation_input_tokens"], 2);
    }
    let miss = events.recv().await.unwrap();
    assert_eq!(
        (miss.tokens_in, miss.tokens_out),
        (53, 7),
        "cached prompt tokens count as input"
    );
    assert_eq!((miss.tokens_cache_read, miss.tokens_cache_write), (40, 2));
    let hit = events.recv().await.unwrap();
    assert_eq!(hit.tokens_saved, 60);
}

/// The provider's prompt cache, per session: Claude Code's session id names it, a turn that
/// extends the conversation reads the prefix from the cache, and a turn whose system prompt
/// changed reads nothing and is reported as a break at the system prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_cache_is_watched_per_session_and_a_break_says_where() {
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, anthropic_provider(&mock)).await;
    let turn = |system: &str, turns: &[&str]| {
        let messages: Vec<serde_json::Value> = turns
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                json!({"role": role, "content": t})
            })
            .collect();
        json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "system": system,
            "metadata": {"user_id": "user_abc_account__session_7f3a"},
            "messages": messages})
    };
    // Turn 1 writes 1,900 prompt tokens to the cache; turn 2 extends it and reads them back.
    mock.set(Mode::CacheUsage(100, 0, 1900));
    post(
        &base,
        "/v1/messages",
        &turn("You are Claude Code.", &["list the files"]),
    )
    .await;
    mock.set(Mode::CacheUsage(150, 1900, 0));
    let two = ["list the files", "a.rs b.rs", "open a.rs"];
    post(&base, "/v1/messages", &turn("You are Claude Code.", &two)).await;
    let snap = d.bus().snapshot();
    let s = &snap.sessions[0];
    assert_eq!(s.session, "user_abc_account__session_7f3a");
    assert_eq!(
        (s.turns, s.input_tokens, s.cache_read_tokens),
        (2, 4050, 1900)
    );
    assert_eq!((s.breaks, s.last_break.as_deref()), (0, None));

    // Turn 3: the system prompt changed (a per-run line), the provider read nothing.
    mock.set(Mode::CacheUsage(2100, 0, 0));
    let three = [
        "list the files",
        "a.rs b.rs",
        "open a.rs",
        "fn main(){}",
        "explain",
    ];
    post(
        &base,
        "/v1/messages",
        &turn("You are Claude Code. Run 2.", &three),
    )
    .await;
    let s = d.bus().snapshot().sessions[0].clone();
    assert_eq!((s.turns, s.breaks), (3, 1));
    assert_eq!(s.last_break.as_deref(), Some("system"));
    // The short diff names the line that changed.
    let diff = s.last_break_diff.expect("a diff at the break");
    assert_eq!(diff.part, "system prompt");
    assert_eq!(diff.cached, ["You are Claude Code."]);
    assert_eq!(diff.this, ["You are Claude Code. Run 2."]);
    let metrics = get_text(&base, "/metrics").await;
    assert!(
        metrics.contains(r#"isartor_prompt_cache_breaks_total{client="unknown",at="system"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"isartor_provider_cache_read_tokens_total{client="unknown"} 1900"#),
        "{metrics}"
    );
}

/// A request translated into Anthropic Messages carries prompt-cache breakpoints (the provider
/// caches nothing without them): the system prompt, the last tool, the last two turns. Off with
/// `anthropic_prompt_cache = false`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translated_requests_carry_prompt_cache_breakpoints() {
    let body = json!({"model": "claude-sonnet-4-5", "messages": [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "list the files"},
        {"role": "assistant", "content": "a.rs b.rs"},
        {"role": "user", "content": "open a.rs"}],
        "tools": [
            {"type": "function", "function": {"name": "read", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "write", "parameters": {"type": "object"}}}]});
    let marks = |sent: &serde_json::Value| sent.to_string().matches("cache_control").count();
    for on in [true, false] {
        let mock = Mock::start().await;
        let (_d, base) = daemon(&mock, |c| {
            anthropic_provider(&mock)(c);
            c.anthropic_prompt_cache = on;
        })
        .await;
        let (status, _, _) = post(&base, "/v1/chat/completions", &body).await;
        assert_eq!(status, 200);
        let sent = mock.last().json();
        if on {
            let ephemeral = json!({"type": "ephemeral"});
            assert_eq!(sent["system"][0]["text"], "You are a coding agent.");
            assert_eq!(sent["system"][0]["cache_control"], ephemeral);
            assert_eq!(sent["tools"][1]["cache_control"], ephemeral);
            assert!(sent["tools"][0].get("cache_control").is_none());
            let messages = sent["messages"].as_array().unwrap();
            assert_eq!(messages.len(), 3);
            assert!(messages[0]["content"][0].get("cache_control").is_none());
            for m in &messages[1..] {
                assert_eq!(m["content"][0]["cache_control"], ephemeral, "{m}");
            }
            assert_eq!(marks(&sent), 4, "Anthropic's most");
        } else {
            assert_eq!(sent["system"], "You are a coding agent.");
            assert_eq!(marks(&sent), 0);
        }
    }
}
