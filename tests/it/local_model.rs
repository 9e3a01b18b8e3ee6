//! The local model layer (L2) in the real daemon, with the model served by a mock
//! OpenAI-compatible server the test starts (as llama.cpp's `llama-server` would): easy requests
//! are answered locally, COMPLEX ones, unreadable labels, refused answers and tool-bearing
//! requests go to L3, and a missing or slow model never reaches the client as an error.

use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use isartor::config::{ClassifierMode, Config, InferenceEngine, RouterBackend};
use isartor::telemetry::Layer;
use serde_json::{Value, json};

/// Calls the mock model received: (kind, model, last message).
type Calls = Arc<Mutex<Vec<(&'static str, String, String)>>>;

/// A local model server: labels requests by keywords, answers by keywords.
async fn model_server() -> (SocketAddr, Calls) {
    let calls: Calls = Arc::default();
    let log = calls.clone();
    let addr = serve(move |_, body| {
        let log = log.clone();
        async move {
            let request: Value = serde_json::from_slice(&body).unwrap();
            let messages = request["messages"].as_array().unwrap();
            let last = messages.last().unwrap()["content"].as_str().unwrap();
            let classify = messages[0]["content"]
                .as_str()
                .unwrap()
                .contains("Reply with exactly one word");
            let kind = if classify { "classify" } else { "answer" };
            let model = request["model"].as_str().unwrap_or("").to_string();
            log.lock().unwrap().push((kind, model, last.to_string()));
            if last.contains("slow") {
                std::future::pending::<()>().await;
            }
            let text = match (classify, last) {
                (true, l) if l.contains("tsconfig") => "TEMPLATE".to_string(),
                (true, l) if l.contains("simple") => "SIMPLE".to_string(),
                (true, l) if l.contains("odd label") => "I think TEMPLATE".to_string(),
                (true, l) if l.contains("unsure") || l.contains("terse") => "SNIPPET".to_string(),
                (true, _) => "COMPLEX".to_string(),
                (false, l) if l.contains("tsconfig") => {
                    r#"{"compilerOptions": {"strict": true, "target": "ES2022"}}"#.to_string()
                }
                (false, l) if l.contains("unsure") => "I'm not sure how to do that.".to_string(),
                (false, l) if l.contains("terse") => "ok".to_string(),
                (false, l) => format!("local answer: {l}"),
            };
            let answer = json!({"id": "chatcmpl-local", "object": "chat.completion",
                "created": 1, "model": "qwen2.5-coder-0.5b",
                "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32}});
            hyper::Response::new(Full::new(Bytes::from(answer.to_string())))
        }
    })
    .await;
    (addr, calls)
}

fn with_sidecar(addr: SocketAddr) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.enable_slm_router = true;
        c.inference_engine = InferenceEngine::Sidecar;
        c.layer2.sidecar_url = format!("http://{addr}/v1/chat/completions");
        c.layer2.timeout_seconds = 1;
    }
}

fn content(body: &Bytes) -> String {
    as_json(body)["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn easy_requests_are_answered_locally_and_complex_ones_go_to_the_cloud() {
    let (model, calls) = model_server().await;
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, with_sidecar(model)).await;
    let mut events = d.bus().subscribe();

    let (status, h, body) = post(
        &base,
        "/v1/chat/completions",
        &chat("Generate a tsconfig.json"),
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l2"));
    assert_eq!(h["x-isartor-deflected"], "true");
    assert_eq!(
        content(&body),
        r#"{"compilerOptions": {"strict": true, "target": "ES2022"}}"#
    );
    assert_eq!(as_json(&body)["usage"]["total_tokens"], 32);
    assert_eq!(mock.count(), 0, "the cloud was not asked");
    let e = events.recv().await.unwrap();
    assert_eq!(
        (e.layer, e.router_decision.as_deref(), e.deflected),
        (Some(Layer::L2), Some("TEMPLATE"), true)
    );
    assert_eq!(e.tokens_saved, 32);
    // A local answer is cached like any other.
    let (_, h, again) = post(
        &base,
        "/v1/chat/completions",
        &chat("Generate a tsconfig.json"),
    )
    .await;
    assert_eq!((layer(&h), content(&again)), ("l1a", content(&body)));
    let _ = events.recv().await.unwrap();

    // Streamed, a local answer comes as SSE.
    let mut req = chat("Generate a tsconfig.json for a library");
    req["stream"] = json!(true);
    let (_, h, body) = post(&base, "/v1/chat/completions", &req).await;
    assert_eq!(layer(&h), "l2");
    let (text, done) = sse_text(&body);
    assert_eq!(
        (text.as_str(), done),
        (
            r#"{"compilerOptions": {"strict": true, "target": "ES2022"}}"#,
            true
        )
    );
    let _ = events.recv().await.unwrap();

    // A request the word rules call COMPLEX (it names one of the user's source files) goes to
    // the cloud without the model being asked, even one that would have called it TEMPLATE.
    let asked = calls.lock().unwrap().len();
    let own = "Generate a tsconfig.json that compiles src/server.ts";
    let (_, h, body) = post(&base, "/v1/chat/completions", &chat(own)).await;
    assert_eq!(
        (layer(&h), content(&body)),
        ("l3", format!("echo #1: {own}"))
    );
    assert_eq!(
        calls.lock().unwrap().len(),
        asked,
        "the model was not asked"
    );
    let e = events.recv().await.unwrap();
    assert_eq!(e.router_decision.as_deref(), Some("COMPLEX"));

    let big = "Build a full CRUD API with tests across five files";
    let (status, h, body) = post(&base, "/v1/chat/completions", &chat(big)).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    assert_eq!(content(&body), format!("echo #2: {big}"));
    let e = events.recv().await.unwrap();
    assert_eq!(e.router_decision.as_deref(), Some("COMPLEX"));
    let l2 = e.layers.iter().find(|t| t.layer == Layer::L2).unwrap();
    assert_eq!(l2.outcome, isartor::telemetry::LayerOutcome::Miss);
    let answered: Vec<String> = calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(kind, _, _)| *kind == "answer")
        .map(|(_, _, last)| last.clone())
        .collect();
    assert_eq!(
        answered,
        [
            "Generate a tsconfig.json",
            "Generate a tsconfig.json for a library"
        ],
        "COMPLEX is never answered locally"
    );
    let (_, health) = get_json(&base, "/health", None).await;
    assert_eq!(health["layers"]["l2"]["status"], "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_answers_unreadable_labels_and_tool_turns_go_to_the_cloud() {
    let (model, calls) = model_server().await;
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, with_sidecar(model)).await;
    let mut events = d.bus().subscribe();
    for (prompt, decision) in [
        ("an unsure question", "SNIPPET (answer refused: uncertain)"),
        ("a terse question", "SNIPPET (answer refused: too short)"),
        ("an odd label question", "UNPARSED"),
    ] {
        let (status, h, body) = post(&base, "/v1/chat/completions", &chat(prompt)).await;
        assert_eq!((status.as_u16(), layer(&h)), (200, "l3"), "{prompt}");
        assert!(content(&body).ends_with(prompt));
        let e = events.recv().await.unwrap();
        assert_eq!(e.router_decision.as_deref(), Some(decision));
    }

    // An agent turn that offers tools never gets a local answer; the model is not even asked.
    let before = calls.lock().unwrap().len();
    let mut req = chat("Generate a tsconfig.json");
    req["tools"] = json!([{"type": "function", "function": {"name": "write_file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]);
    let (_, h, _) = post(&base, "/v1/chat/completions", &req).await;
    assert_eq!(layer(&h), "l3");
    assert_eq!(calls.lock().unwrap().len(), before);
    let e = events.recv().await.unwrap();
    assert!(e.router_decision.is_none());
    assert!(e.layers.iter().all(|t| t.layer != Layer::L2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_is_down_or_slow_degrades_to_the_cloud() {
    let mock = Mock::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = closed.local_addr().unwrap();
    drop(closed);
    let (_d, base) = daemon(&mock, with_sidecar(down)).await;
    let (status, h, body) = post(
        &base,
        "/v1/chat/completions",
        &chat("Generate a tsconfig.json"),
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    assert_eq!(content(&body), "echo #1: Generate a tsconfig.json");
    let (_, health) = get_json(&base, "/health", None).await;
    assert_eq!(health["layers"]["l2"]["status"], "degraded");
    assert!(
        health["layers"]["l2"]["detail"]
            .as_str()
            .unwrap()
            .contains("cannot reach the local model"),
        "{health}"
    );

    let (model, _) = model_server().await;
    let (_d, base) = daemon(&mock, with_sidecar(model)).await;
    let (status, h, _) = post(&base, "/v1/chat/completions", &chat("a slow question")).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let (_, health) = get_json(&base, "/health", None).await;
    assert!(
        health["layers"]["l2"]["detail"]
            .as_str()
            .unwrap()
            .contains("did not answer within 1 s"),
        "{health}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_triage_through_a_vllm_backend() {
    let (model, calls) = model_server().await;
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.enable_slm_router = true;
        c.router_backend = RouterBackend::Vllm;
        c.vllm_url = format!("http://{model}/v1/chat/completions");
        c.vllm_model = "Qwen/Qwen2.5-Coder-0.5B-Instruct".into();
        c.layer2.classifier_mode = ClassifierMode::Binary;
    })
    .await;
    let (_, h, body) = post(&base, "/v1/chat/completions", &chat("a simple question")).await;
    assert_eq!(layer(&h), "l2");
    assert_eq!(content(&body), "local answer: a simple question");
    let (_, h, _) = post(
        &base,
        "/v1/chat/completions",
        &chat("Generate a tsconfig.json"),
    )
    .await;
    assert_eq!(layer(&h), "l3", "TEMPLATE is not a binary label");
    assert!(
        calls
            .lock()
            .unwrap()
            .iter()
            .all(|(_, model, _)| model == "Qwen/Qwen2.5-Coder-0.5B-Instruct")
    );
}
