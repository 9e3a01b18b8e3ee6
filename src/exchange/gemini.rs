//! Gemini (`/v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`):
//! request decoding (the model and streaming come from the path), rendering a canonical
//! [`Reply`] as a `GenerateContentResponse` or as its SSE chunks, and the error shape.
//!
//! For a gemini provider it also builds requests from other formats ([`encode_request`]) and
//! reads replies, whole or streamed. Gemini function calls carry no ids; the function name stands
//! in for one.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Value, json};

use super::stream::{self, Decoder, Delta, Encoder, ReplyBuilder, StreamHead};
use super::translate::{params_for, tool_choice_for, tools_for};
use super::{
    DecodeError, Exchange, Family, FinishReason, Format, Message, Origin, Part, Reply, Usage,
    json_object, other_fields,
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

/// The model and whether it streams, from a Gemini path: `/v1beta/models/{model}:{method}`
/// (or `/v1/models/…`) with `generateContent` or `streamGenerateContent`.
pub fn model_in_path(path: &str) -> Option<(&str, bool)> {
    let tail = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
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
            Part::Other { value } if is_own_part(value) => Some(value.clone()),
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

/// The reply in one `GenerateContentResponse` (a whole reply, or one chunk of a stream), read
/// by the same decoder as a stream.
pub fn reply_of(v: &Value) -> Result<Reply, DecodeError> {
    if v["candidates"].as_array().is_none_or(|c| c.is_empty()) {
        return Err(DecodeError::new("reply has no candidates"));
    }
    let mut deltas = Vec::new();
    StreamDecoder::default().chunk(v, &mut deltas);
    let mut builder = ReplyBuilder::default();
    for d in &deltas {
        builder.delta(d);
    }
    Ok(builder.reply())
}

/// Parses a whole `GenerateContentResponse` body.
pub fn parse_reply(body: &[u8]) -> Result<Reply, DecodeError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::new(format!("upstream reply is not valid JSON: {e}")))?;
    reply_of(&v)
}

/// Reads `alt=sse` chunks into deltas (every candidate; function calls arrive whole). Gemini has
/// no end marker: a stream has ended when every candidate it started has a finish reason.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    /// Per candidate: tool calls so far, and whether it finished.
    candidates: BTreeMap<u32, (usize, bool)>,
}

impl StreamDecoder {
    /// Takes one parsed chunk (Cloud Code unwraps its envelope first).
    pub fn chunk(&mut self, v: &Value, out: &mut Vec<Delta>) {
        if let Some(err) = v.get("error") {
            let message = err["message"].as_str().unwrap_or("error");
            return out.push(Delta::Error(format!("the provider reported: {message}")));
        }
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        if !self.started {
            self.started = true;
            out.push(Delta::Start(StreamHead {
                id: s("responseId"),
                model: s("modelVersion"),
                created: 0,
                fingerprint: None,
                usage: Usage::default(),
            }));
        }
        for (i, candidate) in v["candidates"].as_array().into_iter().flatten().enumerate() {
            let choice = candidate["index"].as_u64().unwrap_or(i as u64) as u32;
            let (tools, finished) = self.candidates.entry(choice).or_default();
            for p in candidate["content"]["parts"]
                .as_array()
                .into_iter()
                .flatten()
            {
                match decode_part(p) {
                    Part::Text { text } if p.get("thought").is_none() => {
                        if !text.is_empty() {
                            out.push(Delta::Text { choice, text });
                        }
                    }
                    Part::ToolCall {
                        id,
                        name,
                        arguments,
                    } => {
                        out.extend(Delta::whole_tool_call(choice, *tools, id, name, arguments));
                        *tools += 1;
                    }
                    _ => out.push(Delta::Block {
                        choice,
                        value: p.clone(),
                    }),
                }
            }
            if let Some(f) = candidate["finishReason"].as_str() {
                *finished = true;
                let reason = match finish_from(f) {
                    // Gemini ends a function-calling turn with STOP too.
                    FinishReason::Stop if *tools > 0 => FinishReason::ToolCalls,
                    other => other,
                };
                out.push(Delta::Finish { choice, reason });
            }
        }
        if let Some(u) = v.get("usageMetadata") {
            let n = |k: &str| u[k].as_u64().unwrap_or(0);
            out.push(Delta::Usage(Usage {
                input_tokens: n("promptTokenCount"),
                output_tokens: n("candidatesTokenCount"),
                cache_read_tokens: n("cachedContentTokenCount"),
                cache_write_tokens: 0,
            }));
        }
    }
}

impl Decoder for StreamDecoder {
    fn event(&mut self, e: &sse::Event, out: &mut Vec<Delta>) {
        match stream::event_json(e) {
            Ok(v) => self.chunk(&v, out),
            Err(why) => out.push(Delta::Error(why)),
        }
    }

    fn ended(&self) -> bool {
        !self.candidates.is_empty() && self.candidates.values().all(|(_, done)| *done)
    }

    fn final_event(&self) -> bool {
        false
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

/// Writes deltas as `alt=sse` chunks: one per text piece, each function call whole (its
/// arguments gathered until the call ends), a last chunk with the finish reason and usage.
/// Refusals are text; blocks of other families are left out.
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
            Delta::Start(head) => {
                self.id.clone_from(&head.id);
                self.model.clone_from(&head.model);
            }
            Delta::Text { choice: 0, text } | Delta::Refusal { choice: 0, text } => {
                self.flush_call(out);
                self.chunk(vec![json!({"text": text})], out);
            }
            Delta::ToolStart {
                choice: 0, name, ..
            } => {
                self.flush_call(out);
                self.call = Some((name.clone(), String::new()));
            }
            Delta::ToolArgs {
                choice: 0, text, ..
            } => {
                if let Some((_, args)) = &mut self.call {
                    args.push_str(text);
                }
            }
            Delta::Block { choice: 0, value } if is_own_part(value) => {
                self.flush_call(out);
                self.chunk(vec![value.clone()], out);
            }
            Delta::Finish { choice: 0, .. } => self.flush_call(out),
            _ => {}
        }
    }

    fn end(&mut self, reply: &Reply, out: &mut Vec<Bytes>) {
        self.flush_call(out);
        let finish = reply.choices.first().and_then(|c| c.finish.as_ref());
        let mut r = response(reply, Vec::new(), finish, true);
        r["responseId"] = json!(self.id);
        out.push(sse::data_event(&r.to_string()));
    }

    fn fail(&mut self, message: &str, out: &mut Vec<Bytes>) {
        out.push(sse::data_event(&String::from_utf8_lossy(&error_body(
            502, message,
        ))));
    }
}

/// Whether an opaque block is a Gemini part (Gemini parts carry no `type`; a thought part is
/// `{"text", "thought": true}`).
fn is_own_part(value: &Value) -> bool {
    value.is_object() && value.get("type").is_none()
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
