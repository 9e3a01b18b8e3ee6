//! OpenAI Responses (`/v1/responses`, the only protocol Codex CLI speaks): request decoding,
//! reply parsing (whole, or from a stream's `response.completed`), and rendering a canonical
//! [`Reply`] as a Responses object or as its SSE event sequence. Errors use OpenAI's shape.
//!
//! An `openai` provider gets Responses requests unchanged at its `/v1/responses`; any other
//! provider gets them translated (chat completions, Anthropic Messages, Gemini).
//!
//! Canonical-key notes: item ids (`input[].id`), `prompt_cache_key`, `client_metadata`,
//! `metadata`, `store` and `stream` never enter the key.

use bytes::Bytes;
use serde_json::{Value, json};

use super::stream::{self, Decoder, Delta, Encoder};
use super::{
    Choice, DecodeError, Exchange, FinishReason, Format, Head, Message, Origin, Part, Reply, Usage,
    decode_head, other_fields,
};
use super::{check, sse};

const VOLATILE: &[&str] = &[
    "stream",
    "store",
    "metadata",
    "prompt_cache_key",
    "client_metadata",
    "user",
    "safety_identifier",
    "service_tier",
    "background",
    "include",
];
const SLOTTED: &[&str] = &["model", "input", "instructions", "tools", "tool_choice"];

/// A JSON object without its `id` (item ids change between runs of the same conversation).
fn without_id(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "id")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn content_parts(content: &Value, param: &str) -> Result<Vec<Part>, DecodeError> {
    match content {
        Value::String(s) => Ok(vec![Part::text(s.clone())]),
        Value::Array(items) => Ok(items
            .iter()
            .map(|p| match (p["type"].as_str(), p["text"].as_str()) {
                (Some("input_text" | "output_text" | "text"), Some(t)) => Part::text(t),
                (Some("refusal"), _) => Part::Refusal {
                    text: p["refusal"].as_str().unwrap_or_default().to_string(),
                },
                _ => Part::Other {
                    value: without_id(p),
                },
            })
            .collect()),
        _ => Err(DecodeError::param(
            param,
            format!("{param}.content must be a string or an array of content parts"),
        )),
    }
}

/// Adds a part to the conversation's trailing assistant turn, opening one if needed.
fn push_assistant(messages: &mut Vec<Message>, part: Part) {
    match messages.last_mut() {
        Some(m) if m.role == "assistant" => m.parts.push(part),
        _ => messages.push(Message {
            role: "assistant".into(),
            parts: vec![part],
            extra: Default::default(),
        }),
    }
}

/// Decodes a Responses request body.
pub fn decode(raw: Bytes, origin: Origin) -> Result<Exchange, DecodeError> {
    let Head { obj, model, stream } = decode_head(&raw)?;
    check::fields(&obj, check::RESPONSES, "")?;
    let mut system = match obj.get("instructions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(_) => {
            return Err(DecodeError::param(
                "instructions",
                "'instructions' must be a string",
            ));
        }
    };
    let mut messages: Vec<Message> = Vec::new();
    match obj.get("input") {
        Some(Value::String(s)) => messages.push(Message {
            role: "user".into(),
            parts: vec![Part::text(s.clone())],
            extra: Default::default(),
        }),
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                decode_item(item, i, &mut system, &mut messages)?;
            }
        }
        Some(Value::Array(_)) => {
            return Err(DecodeError::param("input", "'input' must not be empty"));
        }
        None => {
            return Err(DecodeError::param(
                "input",
                "missing required parameter: 'input'",
            ));
        }
        Some(_) => {
            return Err(DecodeError::param(
                "input",
                "'input' must be a string or an array of items",
            ));
        }
    }
    let params = other_fields(&obj, &[VOLATILE, SLOTTED]);
    Ok(Exchange {
        session: obj
            .get("prompt_cache_key")
            .and_then(Value::as_str)
            .map(str::to_string),
        system,
        tools: obj.get("tools").filter(|v| !v.is_null()).cloned(),
        tool_choice: obj.get("tool_choice").filter(|v| !v.is_null()).cloned(),
        params,
        stream,
        ..Exchange::new(origin, Format::Responses, model, messages, raw)
    })
}

fn decode_item(
    item: &Value,
    i: usize,
    system: &mut Vec<String>,
    messages: &mut Vec<Message>,
) -> Result<(), DecodeError> {
    let param = format!("input[{i}]");
    let s = |k: &str| item.get(k).and_then(Value::as_str);
    let kind = s("type").unwrap_or(if item.get("role").is_some() {
        "message"
    } else {
        ""
    });
    match kind {
        "message" => {
            let role = s("role")
                .ok_or_else(|| DecodeError::param(&param, format!("{param}.role is required")))?;
            let parts = content_parts(item.get("content").unwrap_or(&Value::Null), &param)?;
            let text_only = parts.iter().all(|p| matches!(p, Part::Text { .. }));
            let message = Message {
                role: role.to_string(),
                parts,
                extra: Default::default(),
            };
            if messages.is_empty() && (role == "system" || role == "developer") && text_only {
                system.push(message.text());
            } else {
                messages.push(message);
            }
        }
        "function_call" => push_assistant(
            messages,
            Part::ToolCall {
                id: s("call_id").unwrap_or_default().to_string(),
                name: s("name").unwrap_or_default().to_string(),
                arguments: s("arguments").unwrap_or_default().to_string(),
            },
        ),
        "function_call_output" => {
            let content = match item.get("output") {
                Some(Value::String(o)) => vec![Part::text(o.clone())],
                Some(other) => content_parts(other, &param)?,
                None => Vec::new(),
            };
            messages.push(Message {
                role: "tool".into(),
                parts: vec![Part::ToolResult {
                    id: s("call_id").unwrap_or_default().to_string(),
                    content,
                    is_error: false,
                }],
                extra: Default::default(),
            });
        }
        "" => {
            return Err(DecodeError::param(
                &param,
                format!("{param} needs a type or a role"),
            ));
        }
        // Reasoning, built-in tool calls and their outputs: kept (without ids) for the key.
        _ => push_assistant(
            messages,
            Part::Other {
                value: without_id(item),
            },
        ),
    }
    Ok(())
}

fn status_of(choice: Option<&Choice>) -> (&'static str, Value) {
    match choice.and_then(|c| c.finish.as_ref()) {
        Some(FinishReason::Length) => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some(FinishReason::ContentFilter) => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

fn message_item_id(response_id: &str) -> String {
    format!("msg_{response_id}")
}

fn call_item_id(response_id: &str, n: usize) -> String {
    format!("fc_{response_id}_{n}")
}

/// The output items of a reply: one message for its text, one item per tool call.
fn output_items(reply: &Reply, id: &str) -> Vec<Value> {
    let Some(choice) = reply.choices.first() else {
        return Vec::new();
    };
    let mut items = Vec::new();
    let mut content = Vec::new();
    for part in &choice.parts {
        match part {
            Part::Text { text } => {
                content.push(json!({"type": "output_text", "text": text, "annotations": []}))
            }
            Part::Refusal { text } => content.push(json!({"type": "refusal", "refusal": text})),
            _ => {}
        }
    }
    if !content.is_empty() {
        items.push(
            json!({"type": "message", "id": message_item_id(id), "status": "completed",
            "role": "assistant", "content": content}),
        );
    }
    let calls = choice.parts.iter().filter_map(|p| match p {
        Part::ToolCall {
            id,
            name,
            arguments,
        } => Some((id, name, arguments)),
        _ => None,
    });
    for (n, (call_id, name, arguments)) in calls.enumerate() {
        items.push(json!({"type": "function_call", "id": call_item_id(id, n),
            "call_id": call_id, "name": name, "arguments": arguments, "status": "completed"}));
    }
    items
}

fn response_id(reply: &Reply) -> String {
    super::styled_id("resp_", &reply.id)
}

/// The full Responses object for a reply, with the given status.
fn response_object(reply: &Reply, id: &str, status: &str, output: Vec<Value>) -> Value {
    let (_, incomplete) = status_of(reply.choices.first());
    let u = &reply.usage;
    json!({
        "id": id,
        "object": "response",
        "created_at": reply.created,
        "status": status,
        "model": reply.model,
        "output": output,
        "error": null,
        "incomplete_details": if status == "incomplete" { incomplete } else { Value::Null },
        "instructions": null,
        "metadata": {},
        "parallel_tool_calls": true,
        "temperature": null,
        "top_p": null,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": u.input_tokens,
            "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
            "output_tokens": u.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": u.total(),
        },
    })
}

/// Renders a reply as a Responses JSON body.
pub fn render_json(reply: &Reply) -> Bytes {
    let id = response_id(reply);
    let (status, _) = status_of(reply.choices.first());
    let body = response_object(reply, &id, status, output_items(reply, &id));
    Bytes::from(body.to_string())
}

/// The output item a [`StreamEncoder`] has open.
enum OpenItem {
    /// A message, with its content parts so far: (`output_text` or `refusal`, text).
    Message {
        parts: Vec<(&'static str, String)>,
    },
    Call {
        args: String,
    },
}

/// Writes deltas as the Responses event sequence: `response.created`, per output item
/// `output_item.added` / deltas / `output_item.done`, then `response.completed` (or
/// `response.incomplete`). Blocks of other families are left out.
#[derive(Default)]
pub struct StreamEncoder {
    id: String,
    model: String,
    seq: u64,
    /// Output index of the open item (or of the next one when none is open).
    index: usize,
    open: Option<(OpenItem, Value)>,
    calls: usize,
}

impl StreamEncoder {
    fn emit(&mut self, name: &str, mut data: Value, out: &mut Vec<Bytes>) {
        data["type"] = json!(name);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        out.push(sse::named_event(name, &data.to_string()));
    }

    /// Event data addressed to output item `item` at the current index, plus `extra`.
    fn at(&self, item: &Value, extra: Value) -> Value {
        let mut v = json!({"output_index": self.index, "item_id": item["id"]});
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        v
    }

    /// Event data addressed to the open item.
    fn at_open(&self, extra: Value) -> Value {
        let item = self.open.as_ref().map_or(&Value::Null, |(_, item)| item);
        self.at(item, extra)
    }

    fn open(&mut self, kind: OpenItem, item: Value, out: &mut Vec<Bytes>) {
        self.close(out);
        self.emit(
            "response.output_item.added",
            json!({"output_index": self.index, "item": item}),
            out,
        );
        self.open = Some((kind, item));
    }

    /// The done events of a message's last content part.
    fn close_part(&mut self, kind: &str, text: &str, content_index: usize, out: &mut Vec<Bytes>) {
        let (done, field) = match kind {
            "refusal" => ("response.refusal.done", "refusal"),
            _ => ("response.output_text.done", "text"),
        };
        let data = self.at_open(json!({"content_index": content_index, field: text}));
        self.emit(done, data, out);
        let part = content_part(kind, text);
        let data = self.at_open(json!({"content_index": content_index, "part": part}));
        self.emit("response.content_part.done", data, out);
    }

    fn close(&mut self, out: &mut Vec<Bytes>) {
        // The done events go out while the item is still open (they are addressed to it).
        match &self.open {
            None => return,
            Some((OpenItem::Message { parts }, _)) => {
                if let Some((kind, text)) = parts.last().cloned() {
                    self.close_part(kind, &text, parts.len() - 1, out);
                }
            }
            Some((OpenItem::Call { args }, _)) => {
                let done = self.at_open(json!({"arguments": args}));
                self.emit("response.function_call_arguments.done", done, out);
            }
        }
        let Some((kind, mut item)) = self.open.take() else {
            return;
        };
        match kind {
            OpenItem::Message { parts } => {
                item["content"] = parts
                    .iter()
                    .map(|(kind, text)| content_part(kind, text))
                    .collect();
            }
            OpenItem::Call { args } => item["arguments"] = json!(args),
        }
        item["status"] = json!("completed");
        self.emit(
            "response.output_item.done",
            json!({"output_index": self.index, "item": item}),
            out,
        );
        self.index += 1;
    }

    /// Text or a refusal into the open message (opening one, and a new content part when the
    /// kind changes).
    fn content(&mut self, kind: &'static str, text: &str, out: &mut Vec<Bytes>) {
        if !matches!(self.open, Some((OpenItem::Message { .. }, _))) {
            let item = json!({"type": "message", "id": message_item_id(&self.id),
                "status": "in_progress", "role": "assistant", "content": []});
            self.open(OpenItem::Message { parts: Vec::new() }, item, out);
        }
        let Some((OpenItem::Message { parts }, _)) = &self.open else {
            return;
        };
        let (count, last) = (parts.len(), parts.last().map(|(k, t)| (*k, t.clone())));
        if last.as_ref().is_none_or(|(k, _)| *k != kind) {
            if let Some((last_kind, last_text)) = &last {
                self.close_part(last_kind, last_text, count - 1, out);
            }
            let added = self.at_open(json!({"content_index": count,
                "part": content_part(kind, "")}));
            self.emit("response.content_part.added", added, out);
            if let Some((OpenItem::Message { parts }, _)) = &mut self.open {
                parts.push((kind, String::new()));
            }
        }
        let content_index = match &mut self.open {
            Some((OpenItem::Message { parts }, _)) => {
                if let Some((_, t)) = parts.last_mut() {
                    t.push_str(text);
                }
                parts.len() - 1
            }
            _ => return,
        };
        let name = match kind {
            "refusal" => "response.refusal.delta",
            _ => "response.output_text.delta",
        };
        let delta = self.at_open(json!({"content_index": content_index, "delta": text}));
        self.emit(name, delta, out);
    }
}

fn content_part(kind: &str, text: &str) -> Value {
    match kind {
        "refusal" => json!({"type": "refusal", "refusal": text}),
        _ => json!({"type": "output_text", "text": text, "annotations": []}),
    }
}

impl Encoder for StreamEncoder {
    fn delta(&mut self, d: &Delta, out: &mut Vec<Bytes>) {
        match d {
            Delta::Start(head) => {
                self.id = super::styled_id("resp_", &head.id);
                self.model.clone_from(&head.model);
                let started = Reply {
                    id: self.id.clone(),
                    model: head.model.clone(),
                    created: match head.created {
                        0 => super::unix_now(),
                        t => t,
                    },
                    choices: Vec::new(),
                    usage: Usage::default(),
                    system_fingerprint: None,
                };
                let r = response_object(&started, &self.id, "in_progress", Vec::new());
                self.emit("response.created", json!({"response": r}), out);
                self.emit("response.in_progress", json!({"response": r}), out);
            }
            Delta::Text { choice: 0, text } => self.content("output_text", text, out),
            Delta::Refusal { choice: 0, text } => self.content("refusal", text, out),
            Delta::ToolStart {
                choice: 0,
                id,
                name,
                ..
            } => {
                let item = json!({"type": "function_call", "id": call_item_id(&self.id, self.calls),
                    "call_id": id, "name": name, "arguments": "", "status": "in_progress"});
                self.calls += 1;
                self.open(
                    OpenItem::Call {
                        args: String::new(),
                    },
                    item,
                    out,
                );
            }
            Delta::ToolArgs {
                choice: 0, text, ..
            } => {
                if let Some((OpenItem::Call { args }, _)) = &mut self.open {
                    args.push_str(text);
                    let delta = self.at_open(json!({"delta": text}));
                    self.emit("response.function_call_arguments.delta", delta, out);
                }
            }
            Delta::Finish { choice: 0, .. } => self.close(out),
            _ => {}
        }
    }

    fn end(&mut self, reply: &Reply, out: &mut Vec<Bytes>) {
        self.close(out);
        let (status, _) = status_of(reply.choices.first());
        let last = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        let r = response_object(reply, &self.id, status, output_items(reply, &self.id));
        self.emit(last, json!({"response": r}), out);
    }

    fn fail(&mut self, message: &str, out: &mut Vec<Bytes>) {
        let data = json!({"code": "upstream_stream_broken", "message": message, "param": null});
        self.emit("error", data, out);
    }
}

/// Parses a Responses object (a whole reply, or the `response` of `response.completed`).
pub fn parse_reply(body: &[u8]) -> Result<Reply, DecodeError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::new(format!("upstream reply is not valid JSON: {e}")))?;
    reply_from(&v)
}

fn reply_from(v: &Value) -> Result<Reply, DecodeError> {
    let Some(output) = v.get("output").and_then(Value::as_array) else {
        return Err(DecodeError::new("upstream reply has no output"));
    };
    let mut parts = Vec::new();
    for item in output {
        match item["type"].as_str() {
            Some("message") => parts.extend(content_parts(&item["content"], "output")?),
            Some("function_call") => parts.push(Part::ToolCall {
                id: item["call_id"].as_str().unwrap_or_default().to_string(),
                name: item["name"].as_str().unwrap_or_default().to_string(),
                arguments: item["arguments"].as_str().unwrap_or_default().to_string(),
            }),
            _ => parts.push(Part::Other {
                value: item.clone(),
            }),
        }
    }
    let has_calls = parts.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let finish = match (
        v["status"].as_str(),
        v["incomplete_details"]["reason"].as_str(),
    ) {
        (Some("completed"), _) if has_calls => Some(FinishReason::ToolCalls),
        (Some("completed"), _) => Some(FinishReason::Stop),
        (Some("incomplete"), Some("max_output_tokens")) => Some(FinishReason::Length),
        (Some("incomplete"), _) => Some(FinishReason::ContentFilter),
        _ => None,
    };
    let n = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    Ok(Reply {
        id: v["id"].as_str().unwrap_or_default().to_string(),
        model: v["model"].as_str().unwrap_or_default().to_string(),
        created: v["created_at"].as_u64().unwrap_or(0),
        choices: vec![Choice {
            index: 0,
            parts,
            finish,
        }],
        usage: Usage {
            input_tokens: n("/usage/input_tokens"),
            output_tokens: n("/usage/output_tokens"),
            cache_read_tokens: n("/usage/input_tokens_details/cached_tokens"),
            cache_write_tokens: 0,
        },
        system_fingerprint: None,
    })
}

/// Reads a Responses event stream for the cache: the final `response.completed` (or
/// `response.incomplete`) carries the whole reply, which is passed on as deltas; `error` and
/// `response.failed` are errors. (No provider family streams Responses to be translated: only
/// an `openai` provider speaks it, and then the client does too.)
#[derive(Debug, Default)]
pub struct StreamDecoder {
    done: bool,
}

impl Decoder for StreamDecoder {
    fn event(&mut self, e: &sse::Event, out: &mut Vec<Delta>) {
        let v = match stream::event_json(e) {
            Ok(v) => v,
            Err(why) => return out.push(Delta::Error(why)),
        };
        match v["type"].as_str() {
            Some("response.completed" | "response.incomplete") => {
                match reply_from(&v["response"]) {
                    Ok(reply) => {
                        self.done = true;
                        out.extend(reply.deltas());
                    }
                    Err(e) => out.push(Delta::Error(e.message)),
                }
            }
            Some("error" | "response.failed") => {
                let message = v["message"]
                    .as_str()
                    .or(v["response"]["error"]["message"].as_str())
                    .unwrap_or("error");
                out.push(Delta::Error(format!("the provider reported: {message}")));
            }
            _ => {}
        }
    }

    fn ended(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
