//! OpenAI Chat Completions (`/v1/chat/completions`): request decoding, reply parsing (whole and
//! streamed), rendering a canonical [`Reply`] as JSON or SSE chunks, and the error shape.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::stream::{self, Decoder, Delta, Encoder, StreamHead};
use super::translate::{params_for, tool_choice_for, tools_for};
use super::{
    Choice, DecodeError, Exchange, Family, FinishReason, Format, Head, Message, Origin, Part,
    Reply, Usage, decode_head, other_fields,
};
use super::{check, sse};

/// Top-level request fields that never change the answer and so never enter the cache key.
const VOLATILE: &[&str] = &[
    "stream",
    "stream_options",
    "user",
    "metadata",
    "store",
    "prompt_cache_key",
    "safety_identifier",
    "service_tier",
];

/// Fields with a slot of their own in the exchange.
const SLOTTED: &[&str] = &["model", "messages", "tools", "tool_choice"];

/// Decodes a chat-completions request body.
///
/// Message text is moved out of the parsed JSON, never copied: a large body costs its bytes
/// (kept for pass-through) and one decoded copy.
pub fn decode(raw: Bytes, origin: Origin) -> Result<Exchange, DecodeError> {
    let Head {
        mut obj,
        model,
        stream,
    } = decode_head(&raw)?;
    check::fields(&obj, check::OPENAI_CHAT, "")?;
    let stream_usage = obj
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let raw_messages = match obj.remove("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => {
            return Err(DecodeError::param(
                "messages",
                "'messages' must not be empty",
            ));
        }
        None => {
            return Err(DecodeError::param(
                "messages",
                "missing required parameter: 'messages'",
            ));
        }
        Some(_) => {
            return Err(DecodeError::param(
                "messages",
                "'messages' must be an array",
            ));
        }
    };
    let mut system = Vec::new();
    let mut messages = Vec::with_capacity(raw_messages.len());
    for (i, m) in raw_messages.into_iter().enumerate() {
        let message = decode_message(m, i)?;
        let leading = messages.is_empty();
        if leading
            && (message.role == "system" || message.role == "developer")
            && let Some(text) = text_only(&message)
        {
            system.push(text);
            continue;
        }
        messages.push(message);
    }
    let params = other_fields(&obj, &[VOLATILE, SLOTTED]);
    Ok(Exchange {
        session: obj
            .get("prompt_cache_key")
            .and_then(Value::as_str)
            .map(str::to_string),
        system,
        tools: obj.remove("tools").filter(|v| !v.is_null()),
        tool_choice: obj.remove("tool_choice").filter(|v| !v.is_null()),
        params,
        stream,
        stream_usage,
        ..Exchange::new(origin, Format::OpenAiChat, model, messages, raw)
    })
}

fn text_only(m: &Message) -> Option<String> {
    m.parts
        .iter()
        .all(|p| matches!(p, Part::Text { .. }))
        .then(|| m.text())
}

fn decode_message(m: Value, i: usize) -> Result<Message, DecodeError> {
    let param = format!("messages[{i}]");
    let Value::Object(mut obj) = m else {
        return Err(DecodeError::param(
            &param,
            format!("{param} must be an object"),
        ));
    };
    let role = match obj.remove("role") {
        Some(Value::String(r)) => r,
        _ => {
            return Err(DecodeError::param(
                &param,
                format!("{param}.role is required and must be a string"),
            ));
        }
    };
    if let Some(Value::Array(items)) = obj.get("content") {
        check::typed_parts(items, &format!("{param}.content"))?;
    }
    let mut parts = decode_content(obj.remove("content"), &param)?;
    if let Some(calls) = obj.get("tool_calls").filter(|v| !v.is_null()) {
        let Value::Array(calls) = calls else {
            return Err(DecodeError::param(
                &param,
                format!("{param}.tool_calls must be an array"),
            ));
        };
        for call in calls {
            let id = call.get("id").and_then(Value::as_str);
            let function = call.get("function");
            let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
            let arguments = function
                .and_then(|f| f.get("arguments"))
                .and_then(Value::as_str);
            match (id, name) {
                (Some(id), Some(name)) => parts.push(Part::ToolCall {
                    id: id.to_string(),
                    name: name.to_string(),
                    arguments: arguments.unwrap_or("").to_string(),
                }),
                _ => {
                    return Err(DecodeError::param(
                        &param,
                        format!("{param}.tool_calls[] needs an id and function.name"),
                    ));
                }
            }
        }
    }
    if role == "tool" {
        let Some(id) = obj.get("tool_call_id").and_then(Value::as_str) else {
            return Err(DecodeError::param(
                &param,
                format!("{param}: a tool message needs a string tool_call_id"),
            ));
        };
        parts = vec![Part::ToolResult {
            id: id.to_string(),
            content: parts,
            is_error: false,
        }];
    }
    let extra = obj
        .into_iter()
        .filter(|(k, v)| !v.is_null() && !matches!(k.as_str(), "tool_calls" | "tool_call_id"))
        .collect();
    Ok(Message { role, parts, extra })
}

/// The parts of a `content` value, its text moved rather than copied.
fn decode_content(content: Option<Value>, param: &str) -> Result<Vec<Part>, DecodeError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![Part::text(s)]),
        Some(Value::Array(items)) => Ok(items
            .into_iter()
            .map(|mut item| match item.get("type").and_then(Value::as_str) {
                Some("text") => match item.get_mut("text") {
                    Some(Value::String(t)) => Part::text(std::mem::take(t)),
                    _ => Part::Other { value: item },
                },
                Some("refusal") => Part::Refusal {
                    text: item
                        .get("refusal")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                },
                _ => Part::Other { value: item },
            })
            .collect()),
        Some(_) => Err(DecodeError::param(
            param,
            format!("{param}.content must be a string, an array of parts, or null"),
        )),
    }
}

/// Builds a chat-completions request body from an exchange of another format (native,
/// Anthropic, Responses): tools and parameters are translated, one `tool` message per tool
/// result. `stream` asks for an SSE reply (with usage).
pub fn encode_request(exchange: &Exchange, model: &str, stream: bool) -> Bytes {
    let mut messages: Vec<Value> = exchange
        .system
        .iter()
        .map(|s| json!({"role": "system", "content": s}))
        .collect();
    for m in &exchange.messages {
        encode_message(m, &mut messages);
    }
    let mut body = Map::new();
    body.insert("model".into(), Value::String(model.to_string()));
    body.insert("messages".into(), Value::Array(messages));
    if let Some(tools) = tools_for(Family::OpenAi, exchange) {
        body.insert("tools".into(), tools);
    }
    if let Some(choice) = tool_choice_for(Family::OpenAi, exchange) {
        body.insert("tool_choice".into(), choice);
    }
    body.extend(params_for(Family::OpenAi, exchange));
    if stream {
        body.insert("stream".into(), Value::Bool(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Bytes::from(Value::Object(body).to_string())
}

/// Appends one canonical turn as chat-completions messages.
fn encode_message(m: &Message, out: &mut Vec<Value>) {
    let mut content = Vec::new();
    let mut calls = Vec::new();
    for part in &m.parts {
        match part {
            Part::ToolCall {
                id,
                name,
                arguments,
            } => calls.push(tool_call_json(id, name, arguments)),
            Part::ToolResult {
                id, content: inner, ..
            } => out.push(
                json!({"role": "tool", "tool_call_id": id, "content": encode_content(inner)}),
            ),
            // Blocks only another family understands (thinking, images in its shape) stay out.
            Part::Other { value } if !is_openai_part(value) => {}
            other => content.push(other.clone()),
        }
    }
    if content.is_empty() && calls.is_empty() && m.role != "assistant" {
        return;
    }
    let mut obj = Map::new();
    obj.insert("role".into(), Value::String(m.role.clone()));
    obj.insert("content".into(), encode_content(&content));
    if !calls.is_empty() {
        obj.insert("tool_calls".into(), Value::Array(calls));
    }
    for (k, v) in &m.extra {
        obj.insert(k.clone(), v.clone());
    }
    out.push(Value::Object(obj));
}

fn is_openai_part(v: &Value) -> bool {
    matches!(
        v.get("type").and_then(Value::as_str),
        Some("text" | "image_url" | "input_audio" | "file" | "refusal")
    )
}

fn encode_content(parts: &[Part]) -> Value {
    match parts {
        [] => Value::Null,
        [Part::Text { text }] => Value::String(text.clone()),
        parts => Value::Array(
            parts
                .iter()
                .map(|p| match p {
                    Part::Text { text } => json!({"type": "text", "text": text}),
                    Part::Refusal { text } => json!({"type": "refusal", "refusal": text}),
                    Part::Other { value } => value.clone(),
                    Part::ToolCall { .. } | Part::ToolResult { .. } => Value::Null,
                })
                .collect(),
        ),
    }
}

fn tool_call_json(id: &str, name: &str, arguments: &str) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
}

pub(crate) fn finish_from(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

fn finish_str(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop | FinishReason::StopSequence => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::Other(s) => s,
    }
}

fn usage_from(v: &Value) -> Usage {
    let n = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("/prompt_tokens"),
        output_tokens: n("/completion_tokens"),
        cache_read_tokens: n("/prompt_tokens_details/cached_tokens"),
        cache_write_tokens: 0,
    }
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total(),
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
    })
}

/// Parses a complete (non-streamed) chat-completions response.
pub fn parse_reply(body: &[u8]) -> Result<Reply, DecodeError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::new(format!("upstream reply is not valid JSON: {e}")))?;
    let Some(raw_choices) = v.get("choices").and_then(Value::as_array) else {
        return Err(DecodeError::new("upstream reply has no choices"));
    };
    let mut choices = Vec::with_capacity(raw_choices.len());
    for (i, c) in raw_choices.iter().enumerate() {
        let mut message = c.get("message").cloned().unwrap_or(Value::Null);
        let content = message.get_mut("content").map(Value::take);
        let mut parts = decode_content(content, "choices[].message")?;
        // `"content": ""` is how an empty answer is written; it is no part.
        parts.retain(|p| !matches!(p, Part::Text { text } if text.is_empty()));
        if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
            parts.push(Part::Refusal {
                text: refusal.to_string(),
            });
        }
        for call in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let f = |p: &str| call.pointer(p).and_then(Value::as_str).unwrap_or("");
            parts.push(Part::ToolCall {
                id: f("/id").to_string(),
                name: f("/function/name").to_string(),
                arguments: f("/function/arguments").to_string(),
            });
        }
        choices.push(Choice {
            index: c.get("index").and_then(Value::as_u64).unwrap_or(i as u64) as u32,
            parts,
            finish: c
                .get("finish_reason")
                .and_then(Value::as_str)
                .map(finish_from),
        });
    }
    Ok(Reply {
        id: v
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        model: v
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        created: v.get("created").and_then(Value::as_u64).unwrap_or(0),
        choices,
        usage: v.get("usage").map(usage_from).unwrap_or_default(),
        system_fingerprint: v
            .get("system_fingerprint")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Reads a `chat.completion.chunk` stream into deltas (every choice, text, refusals, tool
/// calls, usage). Ended by `data: [DONE]`.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    done: bool,
    /// (choice, provider tool index) → our tool index within the choice.
    tools: BTreeMap<(u32, u64), usize>,
}

impl Decoder for StreamDecoder {
    fn event(&mut self, e: &sse::Event, out: &mut Vec<Delta>) {
        if e.data == "[DONE]" {
            self.done = true;
            return;
        }
        let chunk = match stream::event_json(e) {
            Ok(v) => v,
            Err(why) => return out.push(Delta::Error(why)),
        };
        if let Some(err) = chunk.get("error") {
            let message = err["message"].as_str().unwrap_or("error").to_string();
            return out.push(Delta::Error(format!("the provider reported: {message}")));
        }
        let s = |k: &str| chunk.get(k).and_then(Value::as_str);
        if !self.started {
            self.started = true;
            out.push(Delta::Start(StreamHead {
                id: s("id").unwrap_or_default().to_string(),
                model: s("model").unwrap_or_default().to_string(),
                created: chunk.get("created").and_then(Value::as_u64).unwrap_or(0),
                fingerprint: s("system_fingerprint").map(str::to_string),
                usage: Usage::default(),
            }));
        }
        for c in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let choice = c.get("index").and_then(Value::as_u64).unwrap_or(0) as u32;
            let delta = c.get("delta").unwrap_or(&Value::Null);
            if let Some(t) = delta.get("content").and_then(Value::as_str)
                && !t.is_empty()
            {
                out.push(Delta::Text {
                    choice,
                    text: t.to_string(),
                });
            }
            if let Some(t) = delta.get("refusal").and_then(Value::as_str)
                && !t.is_empty()
            {
                out.push(Delta::Refusal {
                    choice,
                    text: t.to_string(),
                });
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let provider_index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                let f = |p: &str| call.pointer(p).and_then(Value::as_str);
                let next = self.tools.keys().filter(|(c, _)| *c == choice).count();
                let index = match self.tools.get(&(choice, provider_index)) {
                    Some(i) => *i,
                    None => {
                        self.tools.insert((choice, provider_index), next);
                        out.push(Delta::ToolStart {
                            choice,
                            index: next,
                            id: f("/id").unwrap_or_default().to_string(),
                            name: f("/function/name").unwrap_or_default().to_string(),
                        });
                        next
                    }
                };
                if let Some(args) = f("/function/arguments")
                    && !args.is_empty()
                {
                    out.push(Delta::ToolArgs {
                        choice,
                        index,
                        text: args.to_string(),
                    });
                }
            }
            if let Some(reason) = c.get("finish_reason").and_then(Value::as_str) {
                out.push(Delta::Finish {
                    choice,
                    reason: finish_from(reason),
                });
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            out.push(Delta::Usage(usage_from(usage)));
        }
    }

    fn ended(&self) -> bool {
        self.done
    }
}

/// The assistant message of one choice as chat-completions JSON.
fn message_json(choice: &Choice) -> Value {
    let mut text = String::new();
    let mut refusal: Option<String> = None;
    let mut calls = Vec::new();
    for part in &choice.parts {
        match part {
            Part::Text { text: t } => text.push_str(t),
            Part::Refusal { text: t } => refusal.get_or_insert_with(String::new).push_str(t),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => calls.push(tool_call_json(id, name, arguments)),
            Part::ToolResult { .. } | Part::Other { .. } => {}
        }
    }
    let mut m = Map::new();
    m.insert("role".into(), json!("assistant"));
    m.insert(
        "content".into(),
        if text.is_empty() && (!calls.is_empty() || refusal.is_some()) {
            Value::Null
        } else {
            Value::String(text)
        },
    );
    m.insert("refusal".into(), refusal.map_or(Value::Null, Value::String));
    if !calls.is_empty() {
        m.insert("tool_calls".into(), Value::Array(calls));
    }
    Value::Object(m)
}

/// Renders a reply as a `chat.completion` JSON body.
pub fn render_json(reply: &Reply) -> Bytes {
    let choices: Vec<Value> = reply
        .choices
        .iter()
        .map(|c| {
            json!({
                "index": c.index,
                "message": message_json(c),
                "logprobs": null,
                "finish_reason": c.finish.as_ref().map(finish_str),
            })
        })
        .collect();
    let body = json!({
        "id": reply.id,
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "choices": choices,
        "usage": usage_json(&reply.usage),
        "system_fingerprint": reply.system_fingerprint,
    });
    Bytes::from(body.to_string())
}

/// What every chunk of one stream repeats.
#[derive(Debug, Default)]
struct ChunkHead {
    id: String,
    model: String,
    created: u64,
    fingerprint: Option<String>,
}

fn chunk_event(head: &ChunkHead, choices: Value, usage: Option<Value>) -> Bytes {
    let mut c = json!({
        "id": head.id,
        "object": "chat.completion.chunk",
        "created": head.created,
        "model": head.model,
        "system_fingerprint": head.fingerprint,
        "choices": choices,
    });
    if let Some(u) = usage {
        c["usage"] = u;
    }
    sse::data_event(&c.to_string())
}

/// Writes deltas as `chat.completion.chunk` events, ending in `[DONE]` (every choice; an
/// opening `role` chunk per choice).
pub struct StreamEncoder {
    head: ChunkHead,
    include_usage: bool,
    /// Choices whose opening chunk was sent.
    opened: Vec<u32>,
}

impl StreamEncoder {
    pub fn new(include_usage: bool) -> StreamEncoder {
        StreamEncoder {
            head: ChunkHead {
                created: super::unix_now(),
                ..ChunkHead::default()
            },
            include_usage,
            opened: Vec::new(),
        }
    }

    fn open(&mut self, choice: u32, out: &mut Vec<Bytes>) {
        if !self.opened.contains(&choice) {
            self.opened.push(choice);
            let role = json!({"role": "assistant", "content": ""});
            out.push(chunk_event(
                &self.head,
                choice_delta(choice, role, None),
                None,
            ));
        }
    }

    fn chunk(&mut self, choice: u32, delta: Value, finish: Option<&str>, out: &mut Vec<Bytes>) {
        self.open(choice, out);
        out.push(chunk_event(
            &self.head,
            choice_delta(choice, delta, finish),
            None,
        ));
    }
}

fn choice_delta(index: u32, delta: Value, finish: Option<&str>) -> Value {
    json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}])
}

impl Encoder for StreamEncoder {
    fn delta(&mut self, d: &Delta, out: &mut Vec<Bytes>) {
        match d {
            Delta::Start(head) => {
                self.head.id = super::styled_id("chatcmpl-", &head.id);
                self.head.model.clone_from(&head.model);
                if head.created != 0 {
                    self.head.created = head.created;
                }
                self.head.fingerprint.clone_from(&head.fingerprint);
                // The first byte goes out at once: the opening chunk of choice 0.
                self.open(0, out);
            }
            Delta::Text { choice, text } => {
                self.chunk(*choice, json!({"content": text}), None, out)
            }
            Delta::Refusal { choice, text } => {
                self.chunk(*choice, json!({"refusal": text}), None, out)
            }
            Delta::ToolStart {
                choice,
                index,
                id,
                name,
            } => {
                let mut call = tool_call_json(id, name, "");
                call["index"] = json!(index);
                self.chunk(*choice, json!({"tool_calls": [call]}), None, out);
            }
            Delta::ToolArgs {
                choice,
                index,
                text,
            } => {
                let call = json!({"index": index, "function": {"arguments": text}});
                self.chunk(*choice, json!({"tool_calls": [call]}), None, out);
            }
            Delta::Finish { choice, reason } => {
                self.chunk(*choice, json!({}), Some(finish_str(reason)), out)
            }
            Delta::Block { .. } | Delta::Usage(_) | Delta::Error(_) => {}
        }
    }

    fn end(&mut self, reply: &Reply, out: &mut Vec<Bytes>) {
        if self.include_usage {
            out.push(chunk_event(
                &self.head,
                json!([]),
                Some(usage_json(&reply.usage)),
            ));
        }
        out.push(sse::data_event("[DONE]"));
    }

    fn fail(&mut self, message: &str, out: &mut Vec<Bytes>) {
        // OpenAI's own mid-stream error: an `error` object, and no `[DONE]`.
        let error = json!({"error": {"message": message, "type": "api_error", "param": null,
            "code": "upstream_stream_broken"}});
        out.push(sse::data_event(&error.to_string()));
    }
}

/// An error body in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
pub fn error_body(status: u16, code: &str, message: &str, param: Option<&str>) -> Bytes {
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    };
    Bytes::from(
        json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
            .to_string(),
    )
}

#[cfg(test)]
#[path = "openai_tests.rs"]
mod tests;
