//! Gemini (`/v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`):
//! request decoding (the model and streaming come from the path), rendering a canonical
//! [`Reply`] as a `GenerateContentResponse` or as its SSE chunks, and the error shape.
//!
//! For a gemini provider it also builds requests from other formats ([`encode_request`]) and
//! reads replies, whole or streamed. Gemini function calls carry no ids; the function name stands
//! in for one.

use bytes::Bytes;
use serde_json::{Value, json};

use super::stream::{Delta, Encoder};
use super::translate::{params_for, tool_choice_for, tools_for};
use super::{
    Choice, DecodeError, Exchange, Family, FinishReason, Format, Message, Origin, Part, Reply,
    Usage, json_object, other_fields,
};
use super::{check, sse};

/// Fields with a slot of their own in the exchange.
const SLOTTED: &[&str] = &[
    "contents",
    "systemInstruction",
    "system_instruction",
    "tools",
];
/// Tool choice, in Gemini's place for it.
const TOOL_CONFIG: &[&str] = &["toolConfig", "tool_config"];

/// Decodes a `generateContent` body for `model`; `stream` from the method.
pub fn decode(
    raw: Bytes,
    origin: Origin,
    model: &str,
    stream: bool,
) -> Result<Exchange, DecodeError> {
    if !super::is_path_segment(model) {
        return Err(DecodeError::param(
            "model",
            format!(
                "model {:?} in the path is not a model name (letters, digits, '.', '_' and '-')",
                crate::display::printable(model)
            ),
        ));
    }
    let obj = json_object(&raw)?;
    check::fields(&obj, check::GEMINI, "")?;
    for key in ["generationConfig", "generation_config"] {
        if let Some(Value::Object(config)) = obj.get(key) {
            check::fields(config, check::GEMINI_CONFIG, &format!("{key}."))?;
        }
    }
    let contents = match obj.get("contents") {
        Some(Value::Array(c)) if !c.is_empty() => c,
        Some(Value::Array(_)) => {
            return Err(DecodeError::param("contents", "contents must not be empty"));
        }
        None => return Err(DecodeError::param("contents", "contents is required")),
        Some(_) => return Err(DecodeError::param("contents", "contents must be a list")),
    };
    let mut messages = Vec::with_capacity(contents.len());
    for (i, c) in contents.iter().enumerate() {
        let param = format!("contents[{i}]");
        let Some(parts) = c.get("parts").and_then(Value::as_array) else {
            return Err(DecodeError::param(
                &param,
                format!("{param}.parts must be a list"),
            ));
        };
        for (j, p) in parts.iter().enumerate() {
            let text_ok = p.get("text").is_none_or(Value::is_string);
            if !p.is_object() || !text_ok {
                return Err(DecodeError::param(
                    &param,
                    format!(
                        "{param}.parts[{j}] must be an object whose 'text', if any, is a string"
                    ),
                ));
            }
        }
        let role = match c.get("role").and_then(Value::as_str) {
            Some("model") => "assistant",
            None | Some("user") => "user",
            Some(other) => {
                return Err(DecodeError::param(
                    &param,
                    format!("{param}.role must be user or model, not {other:?}"),
                ));
            }
        };
        messages.push(Message {
            role: role.into(),
            parts: parts.iter().map(decode_part).collect(),
            extra: Default::default(),
        });
    }
    let system = obj
        .get("systemInstruction")
        .or_else(|| obj.get("system_instruction"))
        .and_then(|s| s.get("parts"))
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let params = other_fields(&obj, &[SLOTTED, TOOL_CONFIG]);
    Ok(Exchange {
        system,
        tools: obj.get("tools").filter(|v| !v.is_null()).cloned(),
        tool_choice: TOOL_CONFIG.iter().find_map(|k| obj.get(*k)).cloned(),
        params,
        stream,
        ..Exchange::new(origin, Format::Gemini, model.to_string(), messages, raw)
    })
}

fn decode_part(p: &Value) -> Part {
    if let Some(t) = p.get("text").and_then(Value::as_str) {
        return Part::text(t);
    }
    if let Some(call) = p.get("functionCall") {
        let name = call["name"].as_str().unwrap_or_default().to_string();
        return Part::ToolCall {
            id: call["id"]
                .as_str()
                .map_or_else(|| name.clone(), str::to_string),
            arguments: call
                .get("args")
                .map(Value::to_string)
                .unwrap_or_else(|| "{}".into()),
            name,
        };
    }
    if let Some(resp) = p.get("functionResponse") {
        let name = resp["name"].as_str().unwrap_or_default();
        return Part::ToolResult {
            id: resp["id"].as_str().unwrap_or(name).to_string(),
            content: vec![Part::text(
                resp.get("response")
                    .map(Value::to_string)
                    .unwrap_or_default(),
            )],
            is_error: false,
        };
    }
    Part::Other { value: p.clone() }
}

/// The model and whether it streams, from a `models/{model}:{method}` path tail.
pub fn route(tail: &str) -> Option<(&str, bool)> {
    let (model, method) = tail.rsplit_once(':')?;
    match method {
        "generateContent" => Some((model, false)),
        "streamGenerateContent" => Some((model, true)),
        _ => None,
    }
}

fn finish_str(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop | FinishReason::StopSequence | FinishReason::ToolCalls => "STOP",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "SAFETY",
        FinishReason::Other(s) => s,
    }
}

pub(crate) fn finish_from(s: &str) -> FinishReason {
    match s {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

fn usage_json(u: &Usage) -> Value {
    json!({"promptTokenCount": u.input_tokens, "candidatesTokenCount": u.output_tokens,
        "totalTokenCount": u.total(), "cachedContentTokenCount": u.cache_read_tokens})
}

pub(crate) fn call_part(name: &str, arguments: &str) -> Value {
    let args: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
    json!({"functionCall": {"name": name, "args": args}})
}

fn parts_json(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text } | Part::Refusal { text } => Some(json!({"text": text})),
            Part::ToolCall {
                name, arguments, ..
            } => Some(call_part(name, arguments)),
            Part::Other { value } if value.get("thought").is_some() => Some(value.clone()),
            _ => None,
        })
        .collect()
}

fn response(reply: &Reply, parts: Vec<Value>, finish: Option<&FinishReason>, usage: bool) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(finish_str(f));
    }
    let mut r =
        json!({"candidates": [candidate], "modelVersion": reply.model, "responseId": reply.id});
    if usage {
        r["usageMetadata"] = usage_json(&reply.usage);
    }
    r
}

/// Renders a reply as a `GenerateContentResponse`.
pub fn render_json(reply: &Reply) -> Bytes {
    let choice = reply.choices.first();
    let parts = choice.map(|c| parts_json(&c.parts)).unwrap_or_default();
    let finish = choice.and_then(|c| c.finish.as_ref());
    Bytes::from(response(reply, parts, finish, true).to_string())
}

/// Renders a reply as `alt=sse` chunks: one per part, the last with the finish reason and usage.
pub fn render_sse(reply: &Reply) -> Vec<Bytes> {
    let choice = reply.choices.first();
    let parts = choice.map(|c| parts_json(&c.parts)).unwrap_or_default();
    let finish = choice.and_then(|c| c.finish.as_ref());
    let last = parts.len().saturating_sub(1);
    let mut events: Vec<Bytes> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let done = i == last;
            let r = response(reply, vec![p], finish.filter(|_| done), done);
            sse::data_event(&r.to_string())
        })
        .collect();
    if events.is_empty() {
        events.push(sse::data_event(
            &response(reply, Vec::new(), finish, true).to_string(),
        ));
    }
    events
}

/// Parses a `GenerateContentResponse`, or (for a stream) the chunks of one, into a reply.
pub fn parse_chunks<'a>(chunks: impl IntoIterator<Item = &'a Value>) -> Result<Reply, DecodeError> {
    let mut reply = Reply {
        id: String::new(),
        model: String::new(),
        created: super::unix_now(),
        choices: vec![Choice {
            index: 0,
            parts: Vec::new(),
            finish: None,
        }],
        usage: Usage::default(),
        system_fingerprint: None,
    };
    for v in chunks {
        let Some(candidate) = v["candidates"].as_array().and_then(|c| c.first()) else {
            return Err(DecodeError::new("reply has no candidates"));
        };
        reply.id = v["responseId"].as_str().unwrap_or_default().to_string();
        reply.model = v["modelVersion"].as_str().unwrap_or_default().to_string();
        let choice = &mut reply.choices[0];
        for p in candidate["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            match (decode_part(p), choice.parts.last_mut()) {
                (Part::Text { text }, Some(Part::Text { text: prev })) => prev.push_str(&text),
                (part, _) => choice.parts.push(part),
            }
        }
        if let Some(f) = candidate["finishReason"].as_str() {
            let calls = choice
                .parts
                .iter()
                .any(|p| matches!(p, Part::ToolCall { .. }));
            choice.finish = Some(match finish_from(f) {
                // Gemini ends a function-calling turn with STOP too.
                FinishReason::Stop if calls => FinishReason::ToolCalls,
                other => other,
            });
        }
        if let Some(u) = v.get("usageMetadata") {
            let n = |k: &str| u[k].as_u64().unwrap_or(0);
            reply.usage = Usage {
                input_tokens: n("promptTokenCount"),
                output_tokens: n("candidatesTokenCount"),
                cache_read_tokens: n("cachedContentTokenCount"),
                cache_write_tokens: 0,
            };
        }
    }
    Ok(reply)
}

/// Parses a whole `GenerateContentResponse` body.
pub fn parse_reply(body: &[u8]) -> Result<Reply, DecodeError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::new(format!("upstream reply is not valid JSON: {e}")))?;
    parse_chunks([&v])
}

/// Rebuilds a reply from the `alt=sse` chunks of a streamed response.
#[derive(Debug, Default)]
pub struct StreamAccumulator {
    chunks: Vec<Value>,
    failed: bool,
}

impl StreamAccumulator {
    pub fn event(&mut self, e: &sse::Event) {
        self.chunk(serde_json::from_str::<Value>(&e.data).ok());
    }

    /// One parsed chunk (`None`: it was not JSON).
    pub fn chunk(&mut self, v: Option<Value>) {
        match v {
            Some(v) if v.get("error").is_none() => self.chunks.push(v),
            _ => self.failed = true,
        }
    }

    /// The reply, if the stream ended with a finish reason and no error.
    pub fn finish(self) -> Option<Reply> {
        if self.failed {
            return None;
        }
        parse_chunks(&self.chunks).ok().filter(Reply::is_complete)
    }
}

/// Builds a `generateContent` body from an exchange of another format.
pub fn encode_request(ex: &Exchange) -> Bytes {
    let mut system: Vec<String> = ex.system.clone();
    let mut names: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    let mut contents: Vec<Value> = Vec::new();
    for m in &ex.messages {
        if m.role == "system" || m.role == "developer" {
            system.push(m.text());
            continue;
        }
        let role = if m.role == "assistant" {
            "model"
        } else {
            "user"
        };
        let mut parts = Vec::new();
        for p in &m.parts {
            match p {
                Part::Text { text } | Part::Refusal { text } => parts.push(json!({"text": text})),
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                } => {
                    names.insert(id, name);
                    parts.push(call_part(name, arguments));
                }
                Part::ToolResult { id, content, .. } => {
                    let name = names.get(id.as_str()).copied().unwrap_or(id);
                    let output: String = content
                        .iter()
                        .filter_map(|c| match c {
                            Part::Text { text } => Some(text.as_str()),
                            _ => None,
                        })
                        .collect();
                    parts.push(json!({"functionResponse": {"name": name, "response": {"content": output}}}));
                }
                Part::Other { .. } => {}
            }
        }
        match contents.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(prev) = last["parts"].as_array_mut() {
                    prev.extend(parts);
                }
            }
            _ if parts.is_empty() => {}
            _ => contents.push(json!({"role": role, "parts": parts})),
        }
    }
    let mut body = serde_json::Map::new();
    body.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        body.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system.join("\n\n")}]}),
        );
    }
    if let Some(tools) = tools_for(Family::Gemini, ex) {
        body.insert("tools".into(), tools);
    }
    if let Some(choice) = tool_choice_for(Family::Gemini, ex) {
        body.insert("toolConfig".into(), choice);
    }
    let config = params_for(Family::Gemini, ex);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Bytes::from(Value::Object(body).to_string())
}

/// Writes streamed deltas (from a provider of another family) as `alt=sse` chunks. Gemini
/// sends function calls whole, so arguments are gathered until the call ends.
#[derive(Default)]
pub struct StreamEncoder {
    id: String,
    model: String,
    call: Option<(String, String)>,
}

impl StreamEncoder {
    fn chunk(&self, parts: Vec<Value>, out: &mut Vec<Bytes>) {
        let r = json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
            "modelVersion": self.model, "responseId": self.id});
        out.push(sse::data_event(&r.to_string()));
    }

    fn flush_call(&mut self, out: &mut Vec<Bytes>) {
        if let Some((name, args)) = self.call.take() {
            self.chunk(vec![call_part(&name, &args)], out);
        }
    }
}

impl Encoder for StreamEncoder {
    fn delta(&mut self, d: &Delta, out: &mut Vec<Bytes>) {
        match d {
            Delta::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
            }
            Delta::Text(t) => {
                self.flush_call(out);
                self.chunk(vec![json!({"text": t})], out);
            }
            Delta::ToolStart { name, .. } => {
                self.flush_call(out);
                self.call = Some((name.clone(), String::new()));
            }
            Delta::ToolArgs { text, .. } => {
                if let Some((_, args)) = &mut self.call {
                    args.push_str(text);
                }
            }
            Delta::Usage(_) => {}
            Delta::Finish(_) => self.flush_call(out),
        }
    }

    fn end(&mut self, reply: &Reply, out: &mut Vec<Bytes>) {
        self.flush_call(out);
        let finish = reply.choices.first().and_then(|c| c.finish.as_ref());
        let mut r = response(reply, Vec::new(), finish, true);
        r["responseId"] = json!(self.id);
        out.push(sse::data_event(&r.to_string()));
    }
}

/// An error body in Gemini's shape: `{"error": {"code", "message", "status"}}`.
pub fn error_body(status: u16, message: &str) -> Bytes {
    let kind = match status {
        400 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 | 405 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    };
    Bytes::from(json!({"error": {"code": status, "message": message, "status": kind}}).to_string())
}

#[cfg(test)]
#[path = "gemini_tests.rs"]
mod tests;
