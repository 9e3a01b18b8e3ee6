//! The Gemini surface (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`)
//! through the real gateway, translated to the configured provider and cached.

use crate::common;

use bytes::Bytes;
use common::*;
use serde_json::{Value, json};

fn gemini_body(prompt: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": {"maxOutputTokens": 50}})
}

fn sse_chunks(body: &Bytes) -> Vec<Value> {
    std::str::from_utf8(body)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

fn chunk_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_requests_are_translated_cached_and_streamed() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let path = "/v1beta/models/gemini-2.5-flash:generateContent";
    let (status, h, body) = post(&base, path, &gemini_body("name three colours")).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let v = as_json(&body);
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "echo #1: name three colours"
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    assert_eq!(v["usageMetadata"]["totalTokenCount"], 18);
    // A Gemini model means nothing to an OpenAI provider: it gets its own configured model.
    let sent = mock.last().json();
    assert_eq!(
        (sent["model"].as_str(), sent["max_tokens"].as_u64()),
        (Some("gpt-4o-mini"), Some(50))
    );

    let (_, h, again) = post(&base, path, &gemini_body("name three colours")).await;
    assert_eq!(layer(&h), "l1a");
    assert_eq!(as_json(&again)["candidates"], v["candidates"]);

    // The same entry streamed, then a new prompt streamed live through translation.
    let stream = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
    let (_, h, sse) = post(&base, stream, &gemini_body("name three colours")).await;
    assert_eq!(
        (layer(&h), h["content-type"].to_str().unwrap()),
        ("l1a", "text/event-stream")
    );
    assert_eq!(chunk_text(&sse_chunks(&sse)), "echo #1: name three colours");
    let (_, h, live) = post(&base, stream, &gemini_body("name three fruits")).await;
    assert_eq!(layer(&h), "l3");
    let chunks = sse_chunks(&live);
    assert!(chunks.len() > 2, "streamed in several chunks");
    assert_eq!(chunk_text(&chunks), "echo #2: name three fruits");
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    assert_eq!(mock.last().json()["stream"], true);
    assert_eq!(mock.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_errors_and_keys_use_gemini_conventions() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.gateway_api_key = isartor::config::Secret("g".into())
    })
    .await;
    let path = "/v1beta/models/gemini-2.5-flash:generateContent";
    let body = Bytes::from(gemini_body("x").to_string());
    let (status, _, err) = post_raw(&base, path, body.clone(), &[]).await;
    assert_eq!(status, 401);
    assert_eq!(as_json(&err)["error"]["status"], "UNAUTHENTICATED");
    let (status, _, _) = post_raw(&base, path, body, &[("x-goog-api-key", "g")]).await;
    assert_eq!(status, 200);
    let (status, _, err) = post_raw(
        &base,
        path,
        Bytes::from_static(b"{}"),
        &[("x-goog-api-key", "g")],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(as_json(&err)["error"]["status"], "INVALID_ARGUMENT");
    let (status, _, err) = post_raw(
        &base,
        "/v1beta/models/m:countTokens",
        Bytes::from_static(b"{}"),
        &[],
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(as_json(&err)["error"]["status"], "NOT_FOUND");
}

fn gemini_provider(mock: &Mock) -> impl FnOnce(&mut isartor::config::Config) {
    let base = format!("http://{}/v1beta", mock.addr);
    move |c: &mut isartor::config::Config| {
        c.llm_provider = isartor::config::Provider::Gemini;
        c.external_llm_url = base;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_clients_pass_through_to_a_gemini_provider() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, gemini_provider(&mock)).await;
    let raw = Bytes::from_static(
        br#"{"contents":[{"role":"user","parts":[{"text":"hi gemini"}]}],"safetySettings":[]}"#,
    );
    let path = "/v1beta/models/gemini-2.5-flash:generateContent";
    let (status, h, body) = post_raw(&base, path, raw.clone(), &[]).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    assert_eq!(h["x-isartor-provider"], "gemini");
    let seen = mock.last();
    assert_eq!(seen.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(seen.body, raw);
    assert_eq!(seen.headers["x-goog-api-key"], "sk-upstream");
    assert_eq!(
        as_json(&body)["candidates"][0]["content"]["parts"][0]["text"],
        "echo #1: hi gemini"
    );
    // Streamed, passed through chunk by chunk, then both shapes hit.
    let stream = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
    let (_, h, sse) = post_raw(
        &base,
        stream,
        Bytes::from_static(br#"{"contents":[{"parts":[{"text":"more"}]}]}"#),
        &[],
    )
    .await;
    assert_eq!(layer(&h), "l3");
    assert_eq!(
        mock.last().path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(chunk_text(&sse_chunks(&sse)), "echo #2: more");
    let (_, h, _) = post_raw(
        &base,
        path,
        Bytes::from_static(br#"{"contents":[{"parts":[{"text":"more"}]}]}"#),
        &[],
    )
    .await;
    assert_eq!(layer(&h), "l1a");
    assert_eq!(mock.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_clients_are_translated_to_a_gemini_provider() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, gemini_provider(&mock)).await;
    let mut body = chat("what is rust");
    body["max_tokens"] = json!(30);
    let (status, h, reply) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let seen = mock.last();
    assert_eq!(seen.path, "/v1beta/models/gpt-4o-mini:generateContent");
    let sent = seen.json();
    assert_eq!(
        sent["contents"],
        json!([{"role": "user", "parts": [{"text": "what is rust"}]}])
    );
    assert_eq!(sent["generationConfig"]["maxOutputTokens"], 30);
    let reply = as_json(&reply);
    assert_eq!(
        reply["choices"][0]["message"]["content"],
        "echo #1: what is rust"
    );
    assert_eq!(reply["usage"]["total_tokens"], 18);

    body["stream"] = json!(true);
    body["messages"][0]["content"] = json!("stream it");
    let (_, h, sse) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(
        (layer(&h), h["content-type"].to_str().unwrap()),
        ("l3", "text/event-stream")
    );
    assert!(mock.last().path.ends_with(":streamGenerateContent?alt=sse"));
    let (text, done) = sse_text(&sse);
    assert_eq!((text.as_str(), done), ("echo #2: stream it", true));
}
