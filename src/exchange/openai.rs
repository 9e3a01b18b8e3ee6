//! OpenAI Chat Completions (`/v1/chat/completions`): request decoding, reply parsing (whole and
//! streamed), rendering a canonical [`Reply`] as JSON or SSE chunks, and the error shape.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::stream::{Delta, Encoder};
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
pub fn decode(raw: Bytes, origin: Origin) -> Result<Exchange, DecodeError> {
    let Head { obj, model, stream } = decode_head(&raw)?;
    check::fields(&obj, check::OPENAI_CHAT, "")?;
    let stream_usage = obj
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let raw_messages = match obj.get("messages") {
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
    for (i, m) in raw_messages.iter().enumerate() {
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
        system,
        tools: obj.get("tools").filter(|v| !v.is_null()).cloned(),
        tool_choice: obj.get("tool_choice").filter(|v| !v.is_null()).cloned(),
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

fn decode_message(m: &Value, i: usize) -> Result<Message, DecodeError> {
    let param = format!("messages[{i}]");
    let Value::Object(obj) = m else {
        return Err(DecodeError::param(
            &param,
            format!("{param} must be an object"),
        ));
    };
    let role = match obj.get("role") {
        Some(Value::String(r)) => r.clone(),
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
    let mut parts = decode_content(obj.get("content"), &param)?;
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
        .iter()
        .filter(|(k, v)| {
            !v.is_null()
                && !matches!(
                    k.as_str(),
                    "role" | "content" | "tool_calls" | "tool_call_id"
                )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Message { role, parts, extra })
}

fn decode_content(content: Option<&Value>, param: &str) -> Result<Vec<Part>, DecodeError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![Part::text(s.clone())]),
        Some(Value::Array(items)) => Ok(items
            .iter()
            .map(|item| match item.get("type").and_then(Value::as_str) {
                Some("text") => match item.get("text").and_then(Value::as_str) {
                    Some(t) => Part::text(t),
                    None => Part::Other {
                        value: item.clone(),
                    },
                },
                Some("refusal") => Part::Refusal {
                    text: item
                        .get("refusal")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                },
                _ => Part::Other {
                    value: item.clone(),
                },
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
pub fn encode_request(exchange: &Exchange, stream: bool) -> Bytes {
    let mut messages: Vec<Value> = exchange
        .system
        .iter()
        .map(|s| json!({"role": "system", "content": s}))
        .collect();
    for m in &exchange.messages {
        encode_message(m, &mut messages);
    }
    let mut body = Map::new();
    body.insert("model".into(), Value::String(exchange.model.clone()));
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
        let message = c.get("message").cloned().unwrap_or(Value::Null);
        let mut parts = decode_content(message.get("content"), "choices[].message")?;
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

#[derive(Debug, Default)]
struct ChoiceAcc {
    text: String,
    refusal: String,
    /// Tool calls by their stream index: (id, name, arguments).
    calls: BTreeMap<u64, (String, String, String)>,
    finish: Option<FinishReason>,
}

/// Rebuilds a [`Reply`] from the chunks of a streamed response, event by event.
#[derive(Debug, Default)]
pub struct StreamAccumulator {
    id: String,
    model: String,
    created: u64,
    fingerprint: Option<String>,
    choices: BTreeMap<u64, ChoiceAcc>,
    usage: Usage,
    done: bool,
    failed: bool,
}

impl StreamAccumulator {
    pub fn new() -> StreamAccumulator {
        StreamAccumulator::default()
    }

    /// Takes one SSE event of the upstream stream.
    pub fn event(&mut self, event: &sse::Event) {
        if event.data == "[DONE]" {
            self.done = true;
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else {
            self.failed = true;
            return;
        };
        if chunk.get("error").is_some() {
            self.failed = true;
            return;
        }
        let s = |k: &str| chunk.get(k).and_then(Value::as_str);
        if self.id.is_empty() {
            self.id = s("id").unwrap_or("").to_string();
            self.model = s("model").unwrap_or("").to_string();
            self.created = chunk.get("created").and_then(Value::as_u64).unwrap_or(0);
        }
        if let Some(fp) = s("system_fingerprint") {
            self.fingerprint = Some(fp.to_string());
        }
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = usage_from(usage);
        }
        for c in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            let acc = self.choices.entry(index).or_default();
            let delta = c.get("delta").unwrap_or(&Value::Null);
            if let Some(t) = delta.get("content").and_then(Value::as_str) {
                acc.text.push_str(t);
            }
            if let Some(t) = delta.get("refusal").and_then(Value::as_str) {
                acc.refusal.push_str(t);
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let ci = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                let entry = acc.calls.entry(ci).or_default();
                let f = |p: &str| call.pointer(p).and_then(Value::as_str);
                if let Some(id) = f("/id") {
                    entry.0.push_str(id);
                }
                if let Some(name) = f("/function/name") {
                    entry.1.push_str(name);
                }
                if let Some(args) = f("/function/arguments") {
                    entry.2.push_str(args);
                }
            }
            if let Some(reason) = c.get("finish_reason").and_then(Value::as_str) {
                acc.finish = Some(finish_from(reason));
            }
        }
    }

    /// The reply, if the stream ended cleanly (`[DONE]`, no error event, every choice finished).
    pub fn finish(self) -> Option<Reply> {
        if !self.done || self.failed {
            return None;
        }
        let choices = self
            .choices
            .into_iter()
            .map(|(index, acc)| {
                let mut parts = Vec::new();
                if !acc.text.is_empty() {
                    parts.push(Part::text(acc.text));
                }
                if !acc.refusal.is_empty() {
                    parts.push(Part::Refusal { text: acc.refusal });
                }
                for (_, (id, name, arguments)) in acc.calls {
                    parts.push(Part::ToolCall {
                        id,
                        name,
                        arguments,
                    });
                }
                Choice {
                    index: index as u32,
                    parts,
                    finish: acc.finish,
                }
            })
            .collect();
        let reply = Reply {
            id: self.id,
            model: self.model,
            created: self.created,
            choices,
            usage: self.usage,
            system_fingerprint: self.fingerprint,
        };
        reply.is_complete().then_some(reply)
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

/// Renders a reply as the SSE events of a `chat.completion.chunk` stream, ending in `[DONE]`.
pub fn render_sse(reply: &Reply, include_usage: bool) -> Vec<Bytes> {
    let chunk =
        |choices: Value, usage: Option<Value>| chunk_event(&ChunkHead::of(reply), choices, usage);
    let mut events = Vec::new();
    for c in &reply.choices {
        events.push(chunk(
            delta(c.index, json!({"role": "assistant", "content": ""}), None),
            None,
        ));
        let mut call_index = 0;
        for part in &c.parts {
            let d = match part {
                Part::Text { text } => json!({"content": text}),
                Part::Refusal { text } => json!({"refusal": text}),
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                } => {
                    let mut call = tool_call_json(id, name, arguments);
                    call["index"] = json!(call_index);
                    call_index += 1;
                    json!({"tool_calls": [call]})
                }
                Part::ToolResult { .. } | Part::Other { .. } => continue,
            };
            events.push(chunk(delta(c.index, d, None), None));
        }
        let finish = c.finish.as_ref().map(finish_str).unwrap_or("stop");
        events.push(chunk(delta(c.index, json!({}), Some(finish)), None));
    }
    if include_usage {
        events.push(chunk(json!([]), Some(usage_json(&reply.usage))));
    }
    events.push(sse::data_event("[DONE]"));
    events
}

/// What every chunk of one stream repeats.
struct ChunkHead {
    id: String,
    model: String,
    created: u64,
    fingerprint: Option<String>,
}

impl ChunkHead {
    fn of(reply: &Reply) -> ChunkHead {
        ChunkHead {
            id: reply.id.clone(),
            model: reply.model.clone(),
            created: reply.created,
            fingerprint: reply.system_fingerprint.clone(),
        }
    }
}

fn delta(index: u32, delta: Value, finish: Option<&str>) -> Value {
    json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}])
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

/// Writes streamed deltas (from a provider of another family) as chat-completion chunks.
pub struct StreamEncoder {
    head: ChunkHead,
    include_usage: bool,
}

impl StreamEncoder {
    pub fn new(include_usage: bool) -> StreamEncoder {
        StreamEncoder {
            head: ChunkHead {
                id: String::new(),
                model: String::new(),
                created: super::unix_now(),
                fingerprint: None,
            },
            include_usage,
        }
    }
}

impl Encoder for StreamEncoder {
    fn delta(&mut self, d: &Delta, out: &mut Vec<Bytes>) {
        let body = match d {
            Delta::Start { id, model } => {
                self.head.id = super::styled_id("chatcmpl-", id);
                self.head.model.clone_from(model);
                json!({"role": "assistant", "content": ""})
            }
            Delta::Text(t) => json!({"content": t}),
            Delta::ToolStart { index, id, name } => {
                let mut call = tool_call_json(id, name, "");
                call["index"] = json!(index);
                json!({"tool_calls": [call]})
            }
            Delta::ToolArgs { index, text } => {
                json!({"tool_calls": [{"index": index, "function": {"arguments": text}}]})
            }
            Delta::Finish(f) => {
                out.push(chunk_event(
                    &self.head,
                    delta(0, json!({}), Some(finish_str(f))),
                    None,
                ));
                return;
            }
            Delta::Usage(_) => return,
        };
        out.push(chunk_event(&self.head, delta(0, body, None), None));
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
