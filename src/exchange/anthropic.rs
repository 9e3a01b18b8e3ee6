//! Anthropic Messages (`/v1/messages`): request decoding, reply parsing (whole and streamed),
//! rendering a canonical [`Reply`] as JSON or as the full SSE event sequence, the error shape,
//! and building a Messages request from an exchange of another family.
//!
//! Canonical-key notes: `cache_control` markers are stripped wherever they appear (their position
//! moves between runs of the same prompt) and `metadata` (Claude Code's session id) is volatile.
//! Claude Code's per-run `cch=` hash is blanked by [`super::key`], for the key only.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::stream::{Delta, Encoder};
use super::translate::{params_for, tool_choice_for, tools_for};
use super::{
    Choice, DecodeError, Exchange, Family, FinishReason, Format, Head, Message, Origin, Part,
    Reply, Usage, decode_head, other_fields,
};
use super::{check, sse};

/// Top-level fields that never change the answer.
const VOLATILE: &[&str] = &["stream", "metadata", "service_tier"];
/// Fields with a slot of their own in the exchange.
const SLOTTED: &[&str] = &["model", "messages", "system", "tools", "tool_choice"];
/// The `anthropic-version` sent when the client gave none.
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the Messages API; used when translating a request without one.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// A JSON value with every `cache_control` key removed, at any depth.
fn without_cache_control(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "cache_control")
                .map(|(k, v)| (k.clone(), without_cache_control(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_cache_control).collect()),
        other => other.clone(),
    }
}

fn text_of(block: &Value) -> Option<&str> {
    (block.get("type").and_then(Value::as_str) == Some("text"))
        .then(|| block.get("text").and_then(Value::as_str))
        .flatten()
}

/// Decodes a Messages request body. `max_tokens` is required, except by `count_tokens`.
pub fn decode(raw: Bytes, origin: Origin, count_only: bool) -> Result<Exchange, DecodeError> {
    let Head { obj, model, stream } = decode_head(&raw)?;
    check::fields(&obj, check::ANTHROPIC, "")?;
    let mut system = match obj.get("system") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .map(|b| {
                text_of(b)
                    .map(str::to_string)
                    .ok_or_else(|| DecodeError::param("system", "system: blocks must be text"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(DecodeError::param(
                "system",
                "system: must be a string or a list of text blocks",
            ));
        }
    };
    let raw_messages = match obj.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => {
            return Err(DecodeError::param(
                "messages",
                "messages: at least one message is required",
            ));
        }
        None => return Err(DecodeError::param("messages", "messages: field required")),
        Some(_) => return Err(DecodeError::param("messages", "messages: must be a list")),
    };
    let mut messages = Vec::with_capacity(raw_messages.len());
    for (i, m) in raw_messages.iter().enumerate() {
        let message = decode_message(m, i)?;
        if messages.is_empty() && message.role == "system" {
            system.push(message.text());
            continue;
        }
        messages.push(message);
    }
    if !count_only {
        check::require(&obj, "max_tokens")?;
    }
    let params = other_fields(&obj, &[VOLATILE, SLOTTED])
        .into_iter()
        .map(|(k, v)| (k, without_cache_control(&v)))
        .collect();
    Ok(Exchange {
        system,
        tools: obj
            .get("tools")
            .filter(|v| !v.is_null())
            .map(without_cache_control),
        tool_choice: obj.get("tool_choice").filter(|v| !v.is_null()).cloned(),
        params,
        stream,
        ..Exchange::new(origin, Format::Anthropic, model, messages, raw)
    })
}

fn decode_message(m: &Value, i: usize) -> Result<Message, DecodeError> {
    let param = format!("messages.{i}");
    let role = m
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| DecodeError::param(&param, format!("{param}.role: field required")))?;
    let parts = match m.get("content") {
        Some(Value::String(s)) => vec![Part::text(s.clone())],
        Some(Value::Array(blocks)) => {
            check::typed_parts(blocks, &format!("{param}.content"))?;
            blocks.iter().map(decode_block).collect()
        }
        _ => {
            return Err(DecodeError::param(
                &param,
                format!("{param}.content: must be a string or a list of content blocks"),
            ));
        }
    };
    Ok(Message {
        role: role.to_string(),
        parts,
        extra: Default::default(),
    })
}

fn decode_block(b: &Value) -> Part {
    let s = |k: &str| b.get(k).and_then(Value::as_str);
    match s("type") {
        Some("text") if s("text").is_some() => Part::text(s("text").unwrap_or_default()),
        Some("tool_use") => Part::ToolCall {
            id: s("id").unwrap_or_default().to_string(),
            name: s("name").unwrap_or_default().to_string(),
            arguments: b.get("input").map(Value::to_string).unwrap_or_default(),
        },
        Some("tool_result") => Part::ToolResult {
            id: s("tool_use_id").unwrap_or_default().to_string(),
            content: match b.get("content") {
                Some(Value::String(t)) => vec![Part::text(t.clone())],
                Some(Value::Array(inner)) => inner.iter().map(decode_block).collect(),
                _ => Vec::new(),
            },
            is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
        },
        _ => Part::Other {
            value: without_cache_control(b),
        },
    }
}

pub(crate) fn finish_from(s: &str) -> FinishReason {
    match s {
        "end_turn" => FinishReason::Stop,
        "stop_sequence" => FinishReason::StopSequence,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

fn finish_str(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop => "end_turn",
        FinishReason::StopSequence => "stop_sequence",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Other(s) => s,
    }
}

/// Canonical usage counts all prompt tokens in `input_tokens`; Anthropic reports cached ones
/// apart, so they are added here and taken out again when rendering.
pub(crate) fn usage_from(u: &Value) -> Usage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (read, write) = (
        n("cache_read_input_tokens"),
        n("cache_creation_input_tokens"),
    );
    Usage {
        input_tokens: n("input_tokens") + read + write,
        output_tokens: n("output_tokens"),
        cache_read_tokens: read,
        cache_write_tokens: write,
    }
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens.saturating_sub(u.cache_read_tokens + u.cache_write_tokens),
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
    })
}

fn block_from(v: &Value) -> Part {
    match v.get("type").and_then(Value::as_str) {
        Some("text") => Part::text(v.get("text").and_then(Value::as_str).unwrap_or_default()),
        Some("tool_use") => decode_block(v),
        _ => Part::Other { value: v.clone() },
    }
}

/// Parses a complete (non-streamed) Messages response.
pub fn parse_reply(body: &[u8]) -> Result<Reply, DecodeError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::new(format!("upstream reply is not valid JSON: {e}")))?;
    let Some(content) = v.get("content").and_then(Value::as_array) else {
        return Err(DecodeError::new("upstream reply has no content"));
    };
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(Reply {
        id: s("id"),
        model: s("model"),
        created: super::unix_now(),
        choices: vec![Choice {
            index: 0,
            parts: content.iter().map(block_from).collect(),
            finish: v
                .get("stop_reason")
                .and_then(Value::as_str)
                .map(finish_from),
        }],
        usage: v.get("usage").map(usage_from).unwrap_or_default(),
        system_fingerprint: None,
    })
}

/// One content block being streamed.
#[derive(Debug)]
enum Block {
    Text(String),
    Tool {
        id: String,
        name: String,
        json: String,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    Other(Value),
}

/// Rebuilds a [`Reply`] from the events of a streamed Messages response.
#[derive(Debug, Default)]
pub struct StreamAccumulator {
    id: String,
    model: String,
    blocks: Vec<(u64, Block)>,
    usage: Usage,
    finish: Option<FinishReason>,
    done: bool,
    failed: bool,
}

impl StreamAccumulator {
    pub fn new() -> StreamAccumulator {
        StreamAccumulator::default()
    }

    fn block(&mut self, index: u64) -> Option<&mut Block> {
        self.blocks
            .iter_mut()
            .find(|(i, _)| *i == index)
            .map(|(_, b)| b)
    }

    pub fn event(&mut self, event: &sse::Event) {
        let Ok(v) = serde_json::from_str::<Value>(&event.data) else {
            self.failed = true;
            return;
        };
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match v.get("type").and_then(Value::as_str).unwrap_or_default() {
            "message_start" => {
                let m = &v["message"];
                self.id = m["id"].as_str().unwrap_or_default().to_string();
                self.model = m["model"].as_str().unwrap_or_default().to_string();
                self.usage = usage_from(&m["usage"]);
            }
            "content_block_start" => {
                let b = &v["content_block"];
                let s = |k: &str| b[k].as_str().unwrap_or_default().to_string();
                let block = match b["type"].as_str() {
                    Some("text") => Block::Text(s("text")),
                    Some("tool_use") => Block::Tool {
                        id: s("id"),
                        name: s("name"),
                        json: String::new(),
                    },
                    Some("thinking") => Block::Thinking {
                        thinking: s("thinking"),
                        signature: s("signature"),
                    },
                    _ => Block::Other(b.clone()),
                };
                self.blocks.push((index, block));
            }
            "content_block_delta" => {
                let d = &v["delta"];
                let text = |k: &str| d[k].as_str().unwrap_or_default();
                match (self.block(index), d["type"].as_str()) {
                    (Some(Block::Text(t)), Some("text_delta")) => t.push_str(text("text")),
                    (Some(Block::Tool { json, .. }), Some("input_json_delta")) => {
                        json.push_str(text("partial_json"))
                    }
                    (Some(Block::Thinking { thinking, .. }), Some("thinking_delta")) => {
                        thinking.push_str(text("thinking"))
                    }
                    (Some(Block::Thinking { signature, .. }), Some("signature_delta")) => {
                        signature.push_str(text("signature"))
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    self.finish = Some(finish_from(r));
                }
                if let Some(out) = v["usage"]["output_tokens"].as_u64() {
                    self.usage.output_tokens = out;
                }
            }
            "message_stop" => self.done = true,
            "error" => self.failed = true,
            _ => {}
        }
    }

    /// The reply, if the stream ended cleanly with `message_stop` and a stop reason.
    pub fn finish(self) -> Option<Reply> {
        if !self.done || self.failed || self.finish.is_none() {
            return None;
        }
        let parts = self
            .blocks
            .into_iter()
            .map(|(_, b)| match b {
                Block::Text(text) => Part::Text { text },
                Block::Tool { id, name, json } => Part::ToolCall {
                    id,
                    name,
                    arguments: if json.is_empty() { "{}".into() } else { json },
                },
                Block::Thinking {
                    thinking,
                    signature,
                } => Part::Other {
                    value: json!({"type": "thinking", "thinking": thinking, "signature": signature}),
                },
                Block::Other(value) => Part::Other { value },
            })
            .collect();
        Some(Reply {
            id: self.id,
            model: self.model,
            created: super::unix_now(),
            choices: vec![Choice {
                index: 0,
                parts,
                finish: self.finish,
            }],
            usage: self.usage,
            system_fingerprint: None,
        })
    }
}

fn tool_input(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or_else(|_| json!({}))
}

fn content_json(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text } | Part::Refusal { text } => {
                Some(json!({"type": "text", "text": text}))
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => Some(
                json!({"type": "tool_use", "id": id, "name": name, "input": tool_input(arguments)}),
            ),
            Part::Other { value } => Some(value.clone()),
            Part::ToolResult { .. } => None,
        })
        .collect()
}

fn message_id(reply: &Reply) -> String {
    super::styled_id("msg_", &reply.id)
}

/// Renders a reply as a Messages JSON body.
pub fn render_json(reply: &Reply) -> Bytes {
    let choice = reply.choices.first();
    let body = json!({
        "id": message_id(reply),
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": choice.map(|c| content_json(&c.parts)).unwrap_or_default(),
        "stop_reason": choice.and_then(|c| c.finish.as_ref()).map(finish_str),
        "stop_sequence": null,
        "usage": usage_json(&reply.usage),
    });
    Bytes::from(body.to_string())
}

/// Text deltas of about this many bytes, split at spaces, so a replay streams like the original.
const DELTA_BYTES: usize = 48;

fn text_pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + DELTA_BYTES).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if end < text.len()
            && let Some(space) = text[start..end].rfind(' ')
            && space > 0
        {
            end = start + space + 1;
        }
        out.push(&text[start..end]);
        start = end;
    }
    out
}

/// Renders a reply as the Messages SSE sequence: `message_start`, `ping`, per block
/// `content_block_start` / `content_block_delta`… / `content_block_stop`, `message_delta`,
/// `message_stop`.
pub fn render_sse(reply: &Reply) -> Vec<Bytes> {
    let ev = |name: &str, data: Value| sse::named_event(name, &data.to_string());
    let choice = reply.choices.first();
    let usage = usage_json(&reply.usage);
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(0);
    let mut events = vec![
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": message_id(reply), "type": "message",
                "role": "assistant", "model": reply.model, "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": start_usage}}),
        ),
        ev("ping", json!({"type": "ping"})),
    ];
    let blocks = choice.map(|c| content_json(&c.parts)).unwrap_or_default();
    for (index, block) in blocks.iter().enumerate() {
        let (start, deltas): (Value, Vec<Value>) = match block["type"].as_str() {
            Some("text") => (
                json!({"type": "text", "text": ""}),
                text_pieces(block["text"].as_str().unwrap_or_default())
                    .into_iter()
                    .map(|t| json!({"type": "text_delta", "text": t}))
                    .collect(),
            ),
            Some("tool_use") => (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                vec![
                    json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
                ],
            ),
            Some("thinking") => (
                json!({"type": "thinking", "thinking": ""}),
                vec![
                    json!({"type": "thinking_delta", "thinking": block["thinking"]}),
                    json!({"type": "signature_delta", "signature": block["signature"]}),
                ],
            ),
            _ => (block.clone(), Vec::new()),
        };
        events.push(ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        for delta in deltas {
            events.push(ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
        events.push(ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push(ev(
        "message_delta",
        json!({"type": "message_delta",
            "delta": {"stop_reason": choice.and_then(|c| c.finish.as_ref()).map(finish_str), "stop_sequence": null},
            "usage": {"output_tokens": reply.usage.output_tokens}}),
    ));
    events.push(ev("message_stop", json!({"type": "message_stop"})));
    events
}

/// The content block a [`StreamEncoder`] has open.
#[derive(Debug, Clone, Copy, PartialEq)]
enum OpenBlock {
    Text,
    Tool,
}

/// Writes streamed deltas (from a provider of another family) as Messages events.
#[derive(Default)]
pub struct StreamEncoder {
    open: Option<OpenBlock>,
    /// Index of the next content block.
    next: usize,
}

fn event(name: &str, data: Value) -> Bytes {
    sse::named_event(name, &data.to_string())
}

impl StreamEncoder {
    fn close(&mut self, out: &mut Vec<Bytes>) {
        if self.open.take().is_some() {
            out.push(event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": self.next - 1}),
            ));
        }
    }

    fn open(&mut self, kind: OpenBlock, block: Value, out: &mut Vec<Bytes>) {
        self.close(out);
        out.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": self.next, "content_block": block}),
        ));
        self.open = Some(kind);
        self.next += 1;
    }

    fn block_delta(&self, delta: Value, out: &mut Vec<Bytes>) {
        out.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": self.next - 1, "delta": delta}),
        ));
    }
}

impl Encoder for StreamEncoder {
    fn delta(&mut self, d: &Delta, out: &mut Vec<Bytes>) {
        match d {
            Delta::Start { id, model } => {
                let usage = usage_json(&Usage::default());
                out.push(event(
                    "message_start",
                    json!({"type": "message_start", "message": {"id": super::styled_id("msg_", id),
                        "type": "message", "role": "assistant", "model": model, "content": [],
                        "stop_reason": null, "stop_sequence": null, "usage": usage}}),
                ));
                out.push(event("ping", json!({"type": "ping"})));
            }
            Delta::Text(t) => {
                if self.open != Some(OpenBlock::Text) {
                    self.open(OpenBlock::Text, json!({"type": "text", "text": ""}), out);
                }
                self.block_delta(json!({"type": "text_delta", "text": t}), out);
            }
            Delta::ToolStart { id, name, .. } => self.open(
                OpenBlock::Tool,
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                out,
            ),
            Delta::ToolArgs { text, .. } if self.open == Some(OpenBlock::Tool) => {
                self.block_delta(
                    json!({"type": "input_json_delta", "partial_json": text}),
                    out,
                );
            }
            Delta::ToolArgs { .. } | Delta::Usage(_) => {}
            Delta::Finish(_) => self.close(out),
        }
    }

    fn end(&mut self, reply: &Reply, out: &mut Vec<Bytes>) {
        self.close(out);
        let finish = reply.choices.first().and_then(|c| c.finish.as_ref());
        out.push(event(
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": finish.map(finish_str), "stop_sequence": null},
                "usage": usage_json(&reply.usage)}),
        ));
        out.push(event("message_stop", json!({"type": "message_stop"})));
    }
}

/// An error body in Anthropic's shape: `{"type": "error", "error": {"type", "message"}}`.
pub fn error_body(status: u16, message: &str) -> Bytes {
    let kind = match status {
        400 | 405 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    Bytes::from(json!({"type": "error", "error": {"type": kind, "message": message}}).to_string())
}

/// Builds a Messages request from an exchange of another format (OpenAI, Responses, native);
/// `stream` asks for the SSE event sequence.
pub fn encode_request(ex: &Exchange, stream: bool) -> Bytes {
    let mut system: Vec<String> = ex.system.clone();
    let mut messages: Vec<Value> = Vec::new();
    for m in &ex.messages {
        if m.role == "system" || m.role == "developer" {
            system.push(m.text());
            continue;
        }
        let role = if m.role == "assistant" {
            "assistant"
        } else {
            "user"
        };
        let blocks: Vec<Value> = m
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::ToolResult {
                    id,
                    content,
                    is_error,
                } => Some(json!({"type": "tool_result", "tool_use_id": id,
                    "content": content_json(content), "is_error": is_error})),
                Part::Other { value } if value["type"] == "image_url" => None,
                other => content_json(std::slice::from_ref(other)).pop(),
            })
            .collect();
        // Consecutive turns of one role (e.g. several OpenAI tool results) merge into one.
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(content) = last["content"].as_array_mut() {
                    content.extend(blocks);
                }
            }
            _ => messages.push(json!({"role": role, "content": blocks})),
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(ex.model));
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    if let Some(tools) = tools_for(Family::Anthropic, ex) {
        body.insert("tools".into(), tools);
    }
    if let Some(choice) = tool_choice_for(Family::Anthropic, ex) {
        body.insert("tool_choice".into(), choice);
    }
    body.extend(params_for(Family::Anthropic, ex));
    body.entry("max_tokens")
        .or_insert(json!(DEFAULT_MAX_TOKENS));
    if stream {
        body.insert("stream".into(), Value::Bool(true));
    }
    Bytes::from(Value::Object(body).to_string())
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
