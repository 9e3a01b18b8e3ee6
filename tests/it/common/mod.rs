//! Test support: a mock OpenAI-compatible upstream that the test starts on a loopback port, and
//! helpers to start the real daemon against it.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use isartor::config::{CacheMode, Config, ProxyConfig, Secret, UsageConfig};
use isartor::daemon::{self, Daemon};
use isartor::paths::Paths;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

/// What the mock does with the next requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Answers `echo #N: <last user text>` (JSON, or SSE when the request streams).
    Echo,
    /// Answers with a tool call to `get_weather`.
    ToolCall,
    /// Answers this status with this body.
    Status(u16, &'static str),
    /// Answers this status with `Retry-After: <secs>` (chat completions only).
    RetryAfter(u16, u64),
    /// Never answers.
    Hang,
    /// Streams the first chunk, then waits for [`Mock::release`] before the rest.
    StreamHeld,
    /// Streams content chunks and then closes without a finish reason or `[DONE]`.
    Truncated,
    /// Streams the whole reply, `[DONE]` included, then keeps the body open until
    /// [`Mock::release`]: a provider whose end of body comes after its final event.
    OpenAfterDone,
    /// Anthropic Messages: echoes, reporting this usage (uncached input, cache read, cache
    /// written), as a provider with a prompt cache does.
    CacheUsage(u64, u64, u64),
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path and query string.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("mock got JSON")
    }
}

struct State {
    seen: Mutex<Vec<Seen>>,
    mode: Mutex<Mode>,
    release: Notify,
}

pub struct Mock {
    pub addr: SocketAddr,
    state: Arc<State>,
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

impl Mock {
    pub async fn start() -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            seen: Mutex::new(Vec::new()),
            mode: Mutex::new(Mode::Echo),
            release: Notify::new(),
        });
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(answer(st, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Mock { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/v1/chat/completions", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.seen().pop().expect("the mock saw a request")
    }

    /// Lets a [`Mode::StreamHeld`] or [`Mode::OpenAfterDone`] response finish.
    pub fn release(&self) {
        self.state.release.notify_one();
    }
}

fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-request-id", "req-mock")
        .body(Full::new(body.into()).boxed_unsync())
        .unwrap()
}

fn chunk(id: &str, delta: Value, finish: Option<&str>) -> Bytes {
    let c = json!({"id": id, "object": "chat.completion.chunk", "created": 1700000000u64,
        "model": "mock-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    Bytes::from(format!("data: {c}\n\n"))
}

async fn answer(st: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let n = {
        let mut seen = st.seen.lock().unwrap();
        seen.push(Seen {
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            headers: parts.headers.clone(),
            body: body.clone(),
        });
        seen.len()
    };
    let mode = st.mode.lock().unwrap().clone();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let stream = request["stream"].as_bool().unwrap_or(false);
    let last_user = request["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .map(|m| m["content"].as_str().unwrap_or("(parts)").to_string())
        .unwrap_or_default();
    let id = format!("chatcmpl-mock{n}");
    if parts.uri.path().ends_with("/v1/responses") {
        return responses_answer(&request, n, mode);
    }
    if parts.uri.path().ends_with("/v1/messages/count_tokens") {
        return full(200, "application/json", r#"{"input_tokens":42}"#);
    }
    if let Some((_, method)) = parts.uri.path().rsplit_once(':') {
        let stream = method == "streamGenerateContent";
        if parts.uri.path().starts_with("/v1internal:") {
            return cloudcode_answer(&request, n, stream).await;
        }
        return gemini_answer(&request, n, stream);
    }
    if parts.uri.path().ends_with("/v1/messages") {
        return anthropic_answer(&request, n, mode);
    }
    let text = format!("echo #{n}: {last_user}");
    // Chat completions answer as an echo; `CacheUsage(fresh, read, _)` reports OpenAI's own
    // way: `prompt_tokens` with the cached ones among them in `prompt_tokens_details`.
    let usage = match mode {
        Mode::CacheUsage(fresh, read, _) => json!({"prompt_tokens": fresh + read,
            "completion_tokens": 7, "total_tokens": fresh + read + 7,
            "prompt_tokens_details": {"cached_tokens": read}}),
        _ => json!({"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}),
    };
    let mode = match mode {
        Mode::CacheUsage(..) => Mode::Echo,
        other => other,
    };
    match mode {
        Mode::Status(code, body) => full(code, "application/json", body),
        Mode::RetryAfter(code, secs) => {
            let mut r = full(
                code,
                "application/json",
                r#"{"error":{"message":"slow down"}}"#,
            );
            r.headers_mut()
                .insert("retry-after", secs.to_string().parse().unwrap());
            r
        }
        Mode::Hang => std::future::pending().await,
        Mode::Echo | Mode::ToolCall if !stream => {
            let message = if mode == Mode::ToolCall {
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": format!("call_{n}"),
                    "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})
            } else {
                json!({"role": "assistant", "content": text})
            };
            let finish = if mode == Mode::ToolCall {
                "tool_calls"
            } else {
                "stop"
            };
            let body = json!({"id": id, "object": "chat.completion", "created": 1700000000u64,
                "model": "mock-model", "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage});
            full(200, "application/json", body.to_string())
        }
        Mode::Echo
        | Mode::ToolCall
        | Mode::StreamHeld
        | Mode::Truncated
        | Mode::OpenAfterDone
        | Mode::CacheUsage(..) => {
            let (tx, rx) = mpsc::channel::<Bytes>(16);
            let usage = request["stream_options"]["include_usage"].as_bool() == Some(true);
            tokio::spawn(async move {
                let _ = tx
                    .send(chunk(
                        &id,
                        json!({"role": "assistant", "content": ""}),
                        None,
                    ))
                    .await;
                if mode == Mode::StreamHeld {
                    let _ = tx
                        .send(chunk(&id, json!({"content": "first "}), None))
                        .await;
                    st.release.notified().await;
                    let _ = tx
                        .send(chunk(&id, json!({"content": "second"}), None))
                        .await;
                } else if mode == Mode::ToolCall {
                    let call = json!({"tool_calls": [{"index": 0, "id": format!("call_{n}"), "type": "function",
                        "function": {"name": "get_weather", "arguments": ""}}]});
                    let _ = tx.send(chunk(&id, call, None)).await;
                    let args = json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":\"Paris\"}"}}]});
                    let _ = tx.send(chunk(&id, args, None)).await;
                } else {
                    let (a, b) = text.split_at(text.len() / 2);
                    let _ = tx.send(chunk(&id, json!({"content": a}), None)).await;
                    let _ = tx.send(chunk(&id, json!({"content": b}), None)).await;
                }
                if mode == Mode::Truncated {
                    return;
                }
                let finish = if mode == Mode::ToolCall {
                    "tool_calls"
                } else {
                    "stop"
                };
                let _ = tx.send(chunk(&id, json!({}), Some(finish))).await;
                if usage {
                    let u = json!({"id": id, "object": "chat.completion.chunk", "created": 1700000000u64,
                        "model": "mock-model", "choices": [],
                        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}});
                    let _ = tx.send(Bytes::from(format!("data: {u}\n\n"))).await;
                }
                let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
                if mode == Mode::OpenAfterDone {
                    st.release.notified().await;
                }
            });
            let frames = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
            });
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "text/event-stream")
                .body(StreamBody::new(frames).boxed_unsync())
                .unwrap()
        }
    }
}

/// A one-off HTTP/1 server on a free loopback port: `handler` answers each request from its path
/// and body. For stand-ins that are not a cloud provider (a model hub, a local model server, a
/// release API).
pub async fn serve<F, A>(handler: F) -> SocketAddr
where
    F: Fn(String, Bytes) -> A + Send + Sync + 'static,
    A: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let handler = handler.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        Ok::<_, Infallible>(handler(path, body).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// A config pointing at `upstream`, listening on a free loopback port. The semantic cache is off
/// (its tests turn it on), so tests of other layers do not each load the embedding model.
pub fn config(upstream: &str) -> Config {
    Config {
        host_port: "127.0.0.1:0".into(),
        cache_mode: CacheMode::Exact,
        external_llm_url: upstream.into(),
        external_llm_api_key: Secret("sk-upstream".into()),
        proxy: ProxyConfig {
            enabled: false,
            ..ProxyConfig::default()
        },
        // Daemons share `daemon`'s directory; the usage tests give theirs one of its own.
        usage: UsageConfig {
            enabled: false,
            ..UsageConfig::default()
        },
        ..Config::default()
    }
}

/// The real daemon, in-process, against the mock.
pub async fn daemon(mock: &Mock, tweak: impl FnOnce(&mut Config)) -> (Daemon, String) {
    // With the proxy off (see `config`) nothing is written under these paths; the proxy tests
    // use `daemon_in` with a directory of their own.
    daemon_in(mock, &Paths::under(&std::env::temp_dir()), tweak).await
}

/// [`daemon`] with its data (the proxy's CA) under `paths`.
pub async fn daemon_in(
    mock: &Mock,
    paths: &Paths,
    tweak: impl FnOnce(&mut Config),
) -> (Daemon, String) {
    let mut c = config(&mock.url());
    tweak(&mut c);
    let d = daemon::start(c, paths).await.expect("daemon starts");
    let base = format!("http://{}", d.addr());
    (d, base)
}

/// Waits (bounded) until `/health` says the semantic cache is no longer loading; returns its
/// health entry.
pub async fn semantic_ready(base: &str) -> Value {
    layer_loaded(base, "l1b", 120).await
}

/// Waits (at most `secs`) until `/health` says `layer` is no longer loading; returns its entry.
pub async fn layer_loaded(base: &str, layer: &str, secs: u64) -> Value {
    let wait = async {
        loop {
            let (_, health) = get_json(base, "/health", None).await;
            if health["layers"][layer]["status"] != "loading" {
                return health["layers"][layer].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(secs), wait)
        .await
        .unwrap_or_else(|_| panic!("{layer} still loading after {secs} s"))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A minimal chat request.
pub fn chat(prompt: &str) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})
}

/// Status, headers and body of a POST.
pub async fn post(base: &str, path: &str, body: &Value) -> (StatusCode, HeaderMap, Bytes) {
    post_raw(base, path, Bytes::from(body.to_string()), &[]).await
}

pub async fn post_raw(
    base: &str,
    path: &str,
    body: Bytes,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Bytes) {
    let mut req = client().post(format!("{base}{path}")).body(body);
    req = req.header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("daemon answers");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.bytes().await.expect("body");
    (status, headers, body)
}

pub fn layer(headers: &HeaderMap) -> &str {
    headers
        .get("x-isartor-layer")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub fn as_json(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

/// The concatenated `delta.content` of an SSE chat stream, and whether it ended with `[DONE]`.
pub fn sse_text(body: &Bytes) -> (String, bool) {
    let text = std::str::from_utf8(body).unwrap();
    let mut out = String::new();
    let mut done = false;
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let v: Value = serde_json::from_str(data).unwrap();
        if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
            out.push_str(c);
        }
    }
    (out, done)
}

/// GET a path; the body as text.
pub async fn get_text(base: &str, path: &str) -> String {
    let res = client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("daemon answers");
    res.text().await.expect("body")
}

/// GET a path and parse the JSON body (with an optional header).
pub async fn get_json(base: &str, path: &str, header: Option<(&str, &str)>) -> (StatusCode, Value) {
    let mut req = client().get(format!("{base}{path}"));
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    let res = req.send().await.expect("daemon answers");
    let status = res.status();
    let bytes = res.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Starts a streamed chat request and reads until `marker` has arrived (failing, not hanging,
/// if it does not within 20 s). Returns the open response and what was read so far.
pub async fn stream_until(base: &str, prompt: &str, marker: &str) -> (reqwest::Response, String) {
    let mut body = chat(prompt);
    body["stream"] = json!(true);
    stream_body_until(base, "/v1/chat/completions", &body, marker).await
}

/// Like [`stream_until`] for any path and body.
pub async fn stream_body_until(
    base: &str,
    path: &str,
    body: &Value,
    marker: &str,
) -> (reqwest::Response, String) {
    let mut res = client()
        .post(format!("{base}{path}"))
        .body(body.to_string())
        .send()
        .await
        .expect("daemon answers");
    let mut got = String::new();
    while !got.contains(marker) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(20), res.chunk())
            .await
            .unwrap_or_else(|_| panic!("{marker:?} did not arrive; got {got:?}"))
            .expect("stream readable")
            .expect("stream still open");
        got.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    (res, got)
}

/// Reads the rest of a response into `got`.
pub async fn read_rest(mut res: reqwest::Response, mut got: String) -> String {
    while let Some(chunk) = res.chunk().await.expect("stream readable") {
        got.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    got
}

fn anthropic_last_user(request: &Value) -> String {
    let last = request["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .cloned()
        .unwrap_or(Value::Null);
    match &last["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The mock's Anthropic Messages answers: `echo #N: <last user text>`, JSON or SSE.
fn anthropic_answer(request: &Value, n: usize, mode: Mode) -> Response<Body> {
    if let Mode::Status(code, body) = mode {
        return full(code, "application/json", body);
    }
    let id = format!("msg_mock{n}");
    let text = format!("echo #{n}: {}", anthropic_last_user(request));
    let (input, read, written) = match mode {
        Mode::CacheUsage(input, read, written) => (input, read, written),
        _ => (11, 40, 2),
    };
    let usage = json!({"input_tokens": input, "output_tokens": 7, "cache_read_input_tokens": read,
        "cache_creation_input_tokens": written});
    if !request["stream"].as_bool().unwrap_or(false) {
        let body = json!({"id": id, "type": "message", "role": "assistant", "model": "claude-mock",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "stop_sequence": null, "usage": usage});
        return full(200, "application/json", body.to_string());
    }
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let (a, b) = text.split_at(text.len() / 2);
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    let body = [
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": id, "type": "message",
            "role": "assistant", "model": "claude-mock", "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": start_usage}}),
        ),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        ev("ping", json!({"type": "ping"})),
        ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": a}}),
        ),
        ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": b}}),
        ),
        ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        ev(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn",
            "stop_sequence": null}, "usage": {"output_tokens": 7}}),
        ),
        ev("message_stop", json!({"type": "message_stop"})),
    ]
    .concat();
    full(200, "text/event-stream", body)
}

/// The concatenated `text_delta`s of an Anthropic SSE stream, and its event names in order.
pub fn anthropic_sse(body: &Bytes) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut names = Vec::new();
    for line in std::str::from_utf8(body).unwrap().lines() {
        if let Some(name) = line.strip_prefix("event: ") {
            names.push(name.to_string());
        }
        if let Some(data) = line.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(data).unwrap();
            if v["delta"]["type"] == "text_delta" {
                text.push_str(v["delta"]["text"].as_str().unwrap());
            }
        }
    }
    (text, names)
}

/// A minimal Anthropic Messages request.
pub fn messages(prompt: &str) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 256,
        "messages": [{"role": "user", "content": prompt}]})
}

/// The mock's Gemini answers: `echo #N: <last user text>`, JSON or `alt=sse` chunks.
fn gemini_answer(request: &Value, n: usize, stream: bool) -> Response<Body> {
    let last = request["contents"]
        .as_array()
        .and_then(|c| c.iter().rev().find(|c| c["role"] != "model"))
        .and_then(|c| c["parts"][0]["text"].as_str())
        .unwrap_or_default();
    let text = format!("echo #{n}: {last}");
    let usage = json!({"promptTokenCount": 11, "candidatesTokenCount": 7, "totalTokenCount": 18});
    let chunk = |parts: Value, finish: Option<&str>, usage: Option<&Value>| {
        let mut c = json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
            "modelVersion": "gemini-mock", "responseId": format!("gem-{n}")});
        if let Some(f) = finish {
            c["candidates"][0]["finishReason"] = json!(f);
        }
        if let Some(u) = usage {
            c["usageMetadata"] = u.clone();
        }
        c
    };
    if !stream {
        let body = chunk(json!([{"text": text}]), Some("STOP"), Some(&usage));
        return full(200, "application/json", body.to_string());
    }
    let (a, b) = text.split_at(text.len() / 2);
    let body = [
        chunk(json!([{"text": a}]), None, None),
        chunk(json!([{"text": b}]), Some("STOP"), Some(&usage)),
    ]
    .iter()
    .map(|c| format!("data: {c}\n\n"))
    .collect::<String>();
    full(200, "text/event-stream", body)
}

/// Cloud Code Assist: the Gemini answer to the envelope's `request`, each JSON object wrapped in
/// `{"response": …}`.
async fn cloudcode_answer(request: &Value, n: usize, stream: bool) -> Response<Body> {
    let inner = gemini_answer(&request["request"], n, stream);
    let content_type = inner.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let body = inner.into_body().collect().await.unwrap().to_bytes();
    let wrap =
        |s: &str| json!({"response": serde_json::from_str::<Value>(s).unwrap(), "traceId": "t"});
    let text = std::str::from_utf8(&body).unwrap();
    let wrapped = if stream {
        text.split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|d| format!("data: {}\n\n", wrap(d)))
            .collect::<String>()
    } else {
        wrap(text).to_string()
    };
    full(200, &content_type, wrapped)
}

/// The mock's OpenAI Responses answers: `echo #N: <last user text>` (or a `get_weather`
/// function call in [`Mode::ToolCall`]), JSON or the SSE event sequence.
fn responses_answer(request: &Value, n: usize, mode: Mode) -> Response<Body> {
    if let Mode::Status(code, body) = mode {
        return full(code, "application/json", body);
    }
    let last = match &request["input"] {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .rev()
            .find(|i| i["role"] == "user")
            .and_then(|i| {
                i["content"]
                    .as_array()
                    .and_then(|c| c[0]["text"].as_str())
                    .or(i["content"].as_str())
            })
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    };
    let text = format!("echo #{n}: {last}");
    let item = if mode == Mode::ToolCall {
        json!({"type": "function_call", "id": format!("fc_m{n}"), "call_id": format!("call_{n}"),
            "name": "get_weather", "arguments": "{\"city\":\"Paris\"}", "status": "completed"})
    } else {
        json!({"type": "message", "id": format!("msg_m{n}"), "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]})
    };
    let response = json!({"id": format!("resp_mock{n}"), "object": "response", "created_at": 1700000000u64,
        "status": "completed", "model": "mock-model", "output": [item],
        "usage": {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}});
    if !request["stream"].as_bool().unwrap_or(false) {
        return full(200, "application/json", response.to_string());
    }
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let (a, b) = text.split_at(text.len() / 2);
    let mut started = response.clone();
    started["status"] = json!("in_progress");
    started["output"] = json!([]);
    let body = [
        ev(
            "response.created",
            json!({"type": "response.created", "sequence_number": 0, "response": started}),
        ),
        ev(
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "sequence_number": 1,
            "item_id": format!("msg_m{n}"), "output_index": 0, "content_index": 0, "delta": a}),
        ),
        ev(
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "sequence_number": 2,
            "item_id": format!("msg_m{n}"), "output_index": 0, "content_index": 0, "delta": b}),
        ),
        ev(
            "response.completed",
            json!({"type": "response.completed", "sequence_number": 3, "response": response}),
        ),
    ]
    .concat();
    full(200, "text/event-stream", body)
}
