//! The OpenAI Responses surface (`/v1/responses`, Codex CLI's protocol) through the real gateway:
//! translated to the provider's protocol, rendered back as a Responses object or its event
//! stream, and cached across Codex's per-run ids.

use crate::common;

use common::*;
use serde_json::{Value, json};

fn codex_request(item_id: &str, cache_key: &str, stream: bool) -> Value {
    json!({
        "model": "gpt-5-codex",
        "instructions": "You are a coding agent.",
        "input": [{"type": "message", "id": item_id, "role": "user",
                   "content": [{"type": "input_text", "text": "list the files"}]}],
        "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object"}, "strict": false}],
        "tool_choice": "auto",
        "store": false,
        "stream": stream,
        "prompt_cache_key": cache_key
    })
}

fn event_names(body: &bytes::Bytes) -> Vec<String> {
    std::str::from_utf8(body)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("event: ").map(str::to_string))
        .collect()
}

fn final_response(body: &bytes::Bytes) -> Value {
    let last = std::str::from_utf8(body)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .unwrap();
    serde_json::from_str::<Value>(last).unwrap()["response"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_provider_gets_responses_requests_byte_faithful() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let raw = bytes::Bytes::from(codex_request("msg_1", "key-1", true).to_string());
    let (status, h, sse) = post_raw(&base, "/v1/responses", raw.clone(), &[]).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/responses");
    assert_eq!(seen.body, raw);
    assert_eq!(seen.headers["authorization"], "Bearer sk-upstream");
    // The provider's own events reach the client unchanged.
    assert!(std::str::from_utf8(&sse).unwrap().contains("resp_mock1"));
    assert_eq!(
        final_response(&sse)["output"][0]["content"][0]["text"],
        "echo #1: list the files"
    );
    // Cached from the stream, replayed by a later Codex run in both shapes.
    let (_, h, again) = post(
        &base,
        "/v1/responses",
        &codex_request("msg_2", "key-2", true),
    )
    .await;
    assert_eq!(layer(&h), "l1a");
    assert_eq!(
        final_response(&again)["output"][0]["content"][0]["text"],
        "echo #1: list the files"
    );
    let (_, h, plain) = post(
        &base,
        "/v1/responses",
        &codex_request("msg_3", "key-3", false),
    )
    .await;
    assert_eq!(layer(&h), "l1a");
    assert_eq!(as_json(&plain)["status"], "completed");
    assert_eq!(mock.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_requests_are_translated_for_other_providers_and_cached_across_codex_runs() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.llm_provider = isartor::config::Provider::Ollama
    })
    .await;
    let (status, h, sse) = post(
        &base,
        "/v1/responses",
        &codex_request("msg_1", "key-1", true),
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    assert_eq!(h["content-type"], "text/event-stream");
    let sent = mock.last().json();
    assert_eq!(mock.last().path, "/v1/chat/completions");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "You are a coding agent."})
    );
    assert_eq!(sent["tools"][0]["function"]["name"], "shell");
    let names = event_names(&sse);
    assert_eq!(names.first().map(String::as_str), Some("response.created"));
    assert_eq!(names.last().map(String::as_str), Some("response.completed"));
    let done = final_response(&sse);
    assert_eq!(
        done["output"][0]["content"][0]["text"],
        "echo #1: list the files"
    );
    assert_eq!(done["usage"]["total_tokens"], 18);

    // A second Codex run: new item ids and cache key, same conversation.
    let (_, h, again) = post(
        &base,
        "/v1/responses",
        &codex_request("msg_9", "key-2", true),
    )
    .await;
    assert_eq!(layer(&h), "l1a");
    assert_eq!(final_response(&again)["output"], done["output"]);
    let (_, h, plain) = post(
        &base,
        "/v1/responses",
        &codex_request("msg_5", "key-3", false),
    )
    .await;
    assert_eq!(layer(&h), "l1a");
    let plain = as_json(&plain);
    assert_eq!(
        (plain["object"].as_str(), plain["status"].as_str()),
        (Some("response"), Some("completed"))
    );
    assert_eq!(
        plain["output"][0]["content"][0]["text"],
        "echo #1: list the files"
    );
    assert_eq!(mock.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_come_back_as_function_call_items() {
    let mock = Mock::start().await;
    mock.set(Mode::ToolCall);
    let (_d, base) = daemon(&mock, |c| c.llm_provider = isartor::config::Provider::Xai).await;
    let (status, _, body) = post(&base, "/v1/responses", &codex_request("m", "k", false)).await;
    assert_eq!(status, 200);
    let v = as_json(&body);
    let call = v["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap();
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["call_id"], "call_1");
    assert_eq!(call["arguments"], "{\"city\":\"Paris\"}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_and_websocket_attempts_get_clear_answers() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let (status, _, body) = post(&base, "/v1/responses", &json!({"model": "m"})).await;
    assert_eq!(status, 400);
    let v = as_json(&body);
    assert_eq!(v["error"]["param"], "input");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    // A WebSocket upgrade attempt is refused at once, so clients fall back to HTTP.
    let res = client()
        .get(format!("{base}/v1/responses"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    assert_eq!(mock.count(), 0);
}
