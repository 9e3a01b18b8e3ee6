//! Anthropic Messages (`/v1/messages`): request decoding, reply parsing (whole and streamed),
//! rendering a canonical [`Reply`] as JSON or as the full SSE event sequence, the error shape,
//! and building a Messages request from an exchange of another family.
//!
//! Canonical-key notes: `cache_control` markers are stripped wherever they appear (their position
//! moves between runs of the same prompt) and `metadata` (Claude Code's session id) is volatile.
//! Claude Code's per-run `cch=` hash is blanked by [`super::key`], for the key only.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::stream::{self, Decoder, Delta, Encoder, StreamHead};
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

/// A JSON value with every `cache_control` key removed, at any depth (in place, no copy).
fn without_cache_control(mut v: Value) -> Value {
    strip_cache_control(&mut v);
    v
}

fn strip_cache_control(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("cache_control");
            m.values_mut().for_each(strip_cache_control);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_cache_control),
        _ => {}
    }
}

fn text_of(block: &Value) -> Option<&str> {
    (block.get("type").and_then(Value::as_str) == Some("text"))
        .then(|| block.get("text").and_then(Value::as_str))
        .flatten()
}

/// Decodes a Messages request body. `max_tokens` is required, except by `count_tokens`.
/// Message text is moved out of the parsed JSON, never copied.
pub fn decode(raw: Bytes, origin: Origin, count_only: bool) -> Result<Exchange, DecodeError> {
    let Head {
        mut obj,
        model,
        stream,
    } = decode_head(&raw)?;
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
    let raw_messages = match obj.remove("messages") {
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
    for (i, m) in raw_messages.into_iter().enumerate() {
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
    let session = obj
        .get("metadata")
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let params = other_fields(&obj, &[VOLATILE, SLOTTED])
        .into_iter()
        .map(|(k, v)| (k, without_cache_control(v)))
        .collect();
    Ok(Exchange {
        session,
        system,
        tools: obj
            .remove("tools")
            .filter(|v| !v.is_null())
            .map(without_cache_control),
        tool_choice: obj.remove("tool_choice").filter(|v| !v.is_null()),
        params,
        stream,
        ..Exchange::new(origin, Format::Anthropic, model, messages, raw)
    })
}

fn decode_message(mut m: Value, i: usize) -> Result<Message, DecodeError> {
    let param = format!("messages.{i}");
    let role = m
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| DecodeError::param(&param, format!("{param}.role: field required")))?
        .to_string();
    let parts = match m.get_mut("content").map(Value::take) {
        Some(Value::String(s)) => vec![Part::text(s)],
        Some(Value::Array(blocks)) => {
            check::typed_parts(&blocks, &format!("{param}.content"))?;
            blocks.into_iter().map(decode_block).collect()
        }
        _ => {
            return Err(DecodeError::param(
                &param,
                format!("{param}.content: must be a string or a list of content blocks"),
            ));
        }
    };
    Ok(Message {
        role,
        parts,
        extra: Default::default(),
    })
}

/// One content block, its text moved rather than copied.
fn decode_block(mut b: Value) -> Part {
    let s = |b: &Value, k: &str| {
        b.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match b.get("type").and_then(Value::as_str) {
        Some("text") if b.get("text").is_some_and(Value::is_string) => match b["text"].take() {
            Value::String(text) => Part::text(text),
            _ => Part::text(""),
        },
        Some("tool_use") => Part::ToolCall {
            id: s(&b, "id"),
            name: s(&b, "name"),
            arguments: b.get("input").map(Value::to_string).unwrap_or_default(),
        },
        Some("tool_result") => Part::ToolResult {
            id: s(&b, "tool_use_id"),
            is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            content: match b.get_mut("content").map(Value::take) {
                Some(Value::String(t)) => vec![Part::text(t)],
                Some(Value::Array(inner)) => inner.into_iter().map(decode_block).collect(),
                _ => Vec::new(),
            },
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
        Some("tool_use") => decode_block(v.clone()),
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
            // Adjacent text blocks are one text, as a stream of the same reply builds it.
            parts: content
                .iter()
                .map(block_from)
                .fold(Vec::new(), |mut parts, p| {
                    match (parts.last_mut(), p) {
                        (Some(Part::Text { text }), Part::Text { text: more }) => {
                            text.push_str(&more)
                        }
                        (_, p) => parts.push(p),
                    }
                    parts
                }),
            finish: v
                .get("stop_reason")
                .and_then(Value::as_str)
                .map(finish_from),
        }],
        usage: v.get("usage").map(usage_from).unwrap_or_default(),
        system_fingerprint: None,
    })
}

/// A content block being streamed that is neither text nor a client tool call (thinking,
/// redacted thinking, server tool blocks): gathered whole and passed on as one opaque block.
#[derive(Debug)]
struct Gathering {
    value: Value,
    json: String,
}

/// Reads a Messages event stream into deltas. Ended by `message_stop`.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// Usage in Anthropic's terms: (input without cache, cache read, cache write, output).
    raw: (u64, u64, u64, u64),
    /// Content block index → our tool index, for client tool calls.
    tools: Vec<(u64, usize)>,
    /// Content block index → a block being gathered.
    gathering: Vec<(u64, Gathering)>,
    done: bool,
}

impl StreamDecoder {
    /// Takes whatever usage fields `u` carries (message_start has input, message_delta output
    /// and, in newer API versions, the rest again).
    fn usage(&mut self, u: &Value) -> Usage {
        let n = |k: &str| u.get(k).and_then(Value::as_u64);
        let (input, read, write, output) = &mut self.raw;
        *input = n("input_tokens").unwrap_or(*input);
        *read = n("cache_read_input_tokens").unwrap_or(*read);
        *write = n("cache_creation_input_tokens").unwrap_or(*write);
        *output = n("output_tokens").unwrap_or(*output);
        Usage {
            input_tokens: *input + *read + *write,
            output_tokens: *output,
            cache_read_tokens: *read,
            cache_write_tokens: *write,
        }
    }
}

impl Decoder for StreamDecoder {
    fn event(&mut self, e: &sse::Event, out: &mut Vec<Delta>) {
        let v = match stream::event_json(e) {
            Ok(v) => v,
            Err(why) => return out.push(Delta::Error(why)),
        };
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
        match v.get("type").and_then(Value::as_str).unwrap_or_default() {
            "message_start" => {
                let m = &v["message"];
                let usage = self.usage(&m["usage"]);
                out.push(Delta::Start(StreamHead {
                    id: s(m, "id"),
                    model: s(m, "model"),
                    created: 0,
                    fingerprint: None,
                    usage,
                }));
            }
            "content_block_start" => {
                let b = &v["content_block"];
                match b["type"].as_str() {
                    Some("text") => {
                        if let Some(t) = b["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(Delta::Text {
                                choice: 0,
                                text: t.to_string(),
                            });
                        }
                    }
                    Some("tool_use") => {
                        let tool = self.tools.len();
                        self.tools.push((index, tool));
                        out.push(Delta::ToolStart {
                            choice: 0,
                            index: tool,
                            id: s(b, "id"),
                            name: s(b, "name"),
                        });
                    }
                    _ => self.gathering.push((
                        index,
                        Gathering {
                            value: b.clone(),
                            json: String::new(),
                        },
                    )),
                }
            }
            "content_block_delta" => {
                let d = &v["delta"];
                let text = s(
                    d,
                    match d["type"].as_str() {
                        Some("text_delta") => "text",
                        Some("input_json_delta") => "partial_json",
                        Some("thinking_delta") => "thinking",
                        Some("signature_delta") => "signature",
                        _ => return,
                    },
                );
                if let Some((_, g)) = self.gathering.iter_mut().find(|(i, _)| *i == index) {
                    match d["type"].as_str() {
                        Some("input_json_delta") => g.json.push_str(&text),
                        Some(field @ ("thinking_delta" | "signature_delta")) => {
                            let key = field.trim_end_matches("_delta");
                            let mut joined = g.value[key].as_str().unwrap_or_default().to_string();
                            joined.push_str(&text);
                            g.value[key] = Value::String(joined);
                        }
                        _ => {}
                    }
                } else if let Some((_, tool)) = self.tools.iter().find(|(i, _)| *i == index) {
                    out.push(Delta::ToolArgs {
                        choice: 0,
                        index: *tool,
                        text,
                    });
                } else if d["type"] == "text_delta" {
                    out.push(Delta::Text { choice: 0, text });
                }
            }
            "content_block_stop" => {
                if let Some(at) = self.gathering.iter().position(|(i, _)| *i == index) {
                    let (_, mut g) = self.gathering.remove(at);
                    if !g.json.is_empty()
                        && let Ok(input) = serde_json::from_str::<Value>(&g.json)
                    {
                        g.value["input"] = input;
                    }
                    out.push(Delta::Block {
                        choice: 0,
                        value: g.value,
                    });
                }
            }
            "message_delta" => {
                if v["usage"].is_object() {
                    let usage = self.usage(&v["usage"]);
                    out.push(Delta::Usage(usage));
                }
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    out.push(Delta::Finish {
                        choice: 0,
                        reason: finish_from(r),
                    });
                }
            }
            "message_stop" => self.done = true,
            "error" => {
                let message = v["error"]["message"].as_str().unwrap_or("error");
                out.push(Delta::Error(format!("the provider reported: {message}")));
            }
            _ => {}
        }
    }

    fn ended(&self) -> bool {
        self.done
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
            Part::Other { value } if is_own_block(value) => Some(value.clone()),
            Part::Other { .. } | Part::ToolResult { .. } => None,
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

/// The content block a [`StreamEncoder`] has open.
#[derive(Debug, Clone, Copy, PartialEq)]
enum OpenBlock {
    Text,
    Tool,
}

/// Writes deltas as the Messages event sequence: `message_start`, `ping`, per block
/// `content_block_start` / `content_block_delta`… / `content_block_stop`, `message_delta`,
/// `message_stop`. Refusals are text (Messages has no refusal block); blocks of other families
/// are left out.
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

    fn open(&mut self, kind: Option<OpenBlock>, block: Value, out: &mut Vec<Bytes>) {
        self.close(out);
        out.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": self.next, "content_block": block}),
        ));
        self.open = kind;
        self.next += 1;
    }

    fn block_delta(&self, delta: Value, out: &mut Vec<Bytes>) {
        out.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": self.next - 1, "delta": delta}),
        ));
    }

    fn text(&mut self, text: &str, out: &mut Vec<Bytes>) {
        if self.open != Some(OpenBlock::Text) {
            self.open(
                Some(OpenBlock::Text),
                json!({"type": "text", "text": ""}),
                out,
            );
        }
        self.block_delta(json!({"type": "text_delta", "text": text}), out);
    }

    /// A whole opaque block: thinking streams as its deltas, anything else starts whole.
    fn whole_block(&mut self, value: &Value, out: &mut Vec<Bytes>) {
        if value["type"] == "thinking" {
            self.open(None, json!({"type": "thinking", "thinking": ""}), out);
            let thinking = value["thinking"].as_str().unwrap_or_default();
            self.block_delta(json!({"type": "thinking_delta", "thinking": thinking}), out);
            let signature = value["signature"].as_str().unwrap_or_default();
            self.block_delta(
                json!({"type": "signature_delta", "signature": signature}),
                out,
            );
        } else {
            self.open(None, value.clone(), out);
        }
        out.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": self.next - 1}),
        ));
    }
}

impl Encoder for StreamEncoder {
    fn delta(&mut self, d: &Delta, out: &mut Vec<Bytes>) {
        match d {
            Delta::Start(head) => {
                let mut usage = usage_json(&head.usage);
                usage["output_tokens"] = json!(0);
                out.push(event(
                    "message_start",
                    json!({"type": "message_start", "message": {"id": super::styled_id("msg_", &head.id),
                        "type": "message", "role": "assistant", "model": head.model, "content": [],
                        "stop_reason": null, "stop_sequence": null, "usage": usage}}),
                ));
                out.push(event("ping", json!({"type": "ping"})));
            }
            Delta::Text { choice: 0, text } | Delta::Refusal { choice: 0, text } => {
                self.text(text, out)
            }
            Delta::ToolStart {
                choice: 0,
                id,
                name,
                ..
            } => self.open(
                Some(OpenBlock::Tool),
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                out,
            ),
            Delta::ToolArgs {
                choice: 0, text, ..
            } if self.open == Some(OpenBlock::Tool) => {
                self.block_delta(
                    json!({"type": "input_json_delta", "partial_json": text}),
                    out,
                );
            }
            Delta::Block { choice: 0, value } if is_own_block(value) => {
                self.whole_block(value, out)
            }
            Delta::Finish { choice: 0, .. } => self.close(out),
            _ => {}
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

    fn fail(&mut self, message: &str, out: &mut Vec<Bytes>) {
        out.push(event(
            "error",
            json!({"type": "error", "error": {"type": "api_error", "message": message}}),
        ));
    }
}

/// Whether an opaque block is one of Anthropic's own (it has a `type`, and is not a Gemini
/// thought part or an OpenAI content part).
fn is_own_block(value: &Value) -> bool {
    matches!(
        value.get("type").and_then(Value::as_str),
        Some(
            "thinking"
                | "redacted_thinking"
                | "server_tool_use"
                | "web_search_tool_result"
                | "web_fetch_tool_result"
                | "code_execution_tool_result"
                | "mcp_tool_use"
                | "mcp_tool_result"
                | "container_upload"
                | "image"
                | "document"
        )
    )
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
pub fn encode_request(ex: &Exchange, model: &str, stream: bool) -> Bytes {
    encode_request_cached(ex, model, stream, false)
}

/// [`encode_request`], and with `cache`, prompt-cache breakpoints where a conversation's stable
/// prefix ends (`anthropic_prompt_cache`): the system prompt, the last tool, the turn before the
/// newest and the newest (four, Anthropic's most). Anthropic caches nothing without them; a
/// client of another family never sends them.
pub fn encode_request_cached(ex: &Exchange, model: &str, stream: bool, cache: bool) -> Bytes {
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
    body.insert("model".into(), json!(model));
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
    if cache {
        breakpoints(&mut body);
    }
    Bytes::from(Value::Object(body).to_string())
}

/// Marks the system prompt, the last tool, and the last block of the last two turns with an
/// ephemeral `cache_control`.
fn breakpoints(body: &mut Map<String, Value>) {
    let mark = || json!({"type": "ephemeral"});
    if let Some(Value::String(text)) = body.get("system").cloned() {
        body.insert(
            "system".into(),
            json!([{"type": "text", "text": text, "cache_control": mark()}]),
        );
    }
    if let Some(last) = body
        .get_mut("tools")
        .and_then(Value::as_array_mut)
        .and_then(|tools| tools.last_mut())
        .and_then(Value::as_object_mut)
    {
        last.insert("cache_control".into(), mark());
    }
    if let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) {
        for m in messages.iter_mut().rev().take(2) {
            if let Some(block) = m["content"]
                .as_array_mut()
                .and_then(|c| c.last_mut())
                .and_then(Value::as_object_mut)
            {
                block.insert("cache_control".into(), mark());
            }
        }
    }
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
