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

use super::stream::{Delta, Encoder};
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

/// Renders a reply as the Responses event sequence: `response.created`, per output item
/// `output_item.added` / deltas / `output_item.done`, then `response.completed` (or
/// `response.incomplete`).
pub fn render_sse(reply: &Reply) -> Vec<Bytes> {
    let id = response_id(reply);
    let items = output_items(reply, &id);
    let mut seq = 0u64;
    let mut events = Vec::new();
    let mut emit = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        data["sequence_number"] = json!(seq);
        seq += 1;
        events.push(sse::named_event(name, &data.to_string()));
    };
    let started = response_object(reply, &id, "in_progress", Vec::new());
    emit("response.created", json!({"response": started}));
    emit("response.in_progress", json!({"response": started}));
    for (index, item) in items.iter().enumerate() {
        let item_id = &item["id"];
        let mut opened = item.clone();
        opened["status"] = json!("in_progress");
        if item["type"] == "message" {
            opened["content"] = json!([]);
        } else {
            opened["arguments"] = json!("");
        }
        emit(
            "response.output_item.added",
            json!({"output_index": index, "item": opened}),
        );
        if item["type"] == "message" {
            for (ci, part) in item["content"].as_array().into_iter().flatten().enumerate() {
                let text = part["text"].as_str().unwrap_or_default();
                let at = json!({"item_id": item_id, "output_index": index, "content_index": ci});
                let with = |extra: Value| {
                    let mut v = at.clone();
                    v.as_object_mut()
                        .expect("object")
                        .extend(extra.as_object().cloned().unwrap_or_default());
                    v
                };
                emit(
                    "response.content_part.added",
                    with(json!({"part": {"type": part["type"], "text": "", "annotations": []}})),
                );
                if part["type"] == "output_text" {
                    emit("response.output_text.delta", with(json!({"delta": text})));
                    emit("response.output_text.done", with(json!({"text": text})));
                }
                emit("response.content_part.done", with(json!({"part": part})));
            }
        } else {
            let args = &item["arguments"];
            let at = json!({"item_id": item_id, "output_index": index});
            let mut delta = at.clone();
            delta["delta"] = args.clone();
            emit("response.function_call_arguments.delta", delta);
            let mut done = at;
            done["arguments"] = args.clone();
            emit("response.function_call_arguments.done", done);
        }
        emit(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
    }
    let (status, _) = status_of(reply.choices.first());
    let last = if status == "completed" {
        "response.completed"
    } else {
        "response.incomplete"
    };
    emit(
        last,
        json!({"response": response_object(reply, &id, status, items)}),
    );
    events
}

/// The output item a [`StreamEncoder`] has open.
enum OpenItem {
    Message { text: String },
    Call { args: String },
}

/// Writes streamed deltas (from a provider of another family) as Responses events.
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

    fn close(&mut self, out: &mut Vec<Bytes>) {
        let Some((kind, mut item)) = self.open.take() else {
            return;
        };
        match kind {
            OpenItem::Message { text } => {
                let part = json!({"type": "output_text", "text": text, "annotations": []});
                let done = self.at(&item, json!({"content_index": 0, "text": text}));
                self.emit("response.output_text.done", done, out);
                let part_done = self.at(&item, json!({"content_index": 0, "part": part}));
                self.emit("response.content_part.done", part_done, out);
                item["content"] = json!([part]);
            }
            OpenItem::Call { args } => {
                let done = self.at(&item, json!({"arguments": args}));
                self.emit("response.function_call_arguments.done", done, out);
                item["arguments"] = json!(args);
            }
        }
        item["status"] = json!("completed");
        self.emit(
            "response.output_item.done",
            json!({"output_index": self.index, "item": item}),
            out,
        );
        self.index += 1;
    }
}

impl Encoder for StreamEncoder {
    fn delta(&mut self, d: &Delta, out: &mut Vec<Bytes>) {
        match d {
            Delta::Start { id, model } => {
                self.id = super::styled_id("resp_", id);
                self.model.clone_from(model);
                let started = Reply {
                    id: self.id.clone(),
                    model: model.clone(),
                    created: super::unix_now(),
                    choices: Vec::new(),
                    usage: Usage::default(),
                    system_fingerprint: None,
                };
                let r = response_object(&started, &self.id, "in_progress", Vec::new());
                self.emit("response.created", json!({"response": r}), out);
                self.emit("response.in_progress", json!({"response": r}), out);
            }
            Delta::Text(t) => {
                if !matches!(self.open, Some((OpenItem::Message { .. }, _))) {
                    let item = json!({"type": "message", "id": message_item_id(&self.id),
                        "status": "in_progress", "role": "assistant", "content": []});
                    self.open(
                        OpenItem::Message {
                            text: String::new(),
                        },
                        item,
                        out,
                    );
                    let added = self.at_open(json!({"content_index": 0,
                        "part": {"type": "output_text", "text": "", "annotations": []}}));
                    self.emit("response.content_part.added", added, out);
                }
                if let Some((OpenItem::Message { text }, _)) = &mut self.open {
                    text.push_str(t);
                }
                let delta = self.at_open(json!({"content_index": 0, "delta": t}));
                self.emit("response.output_text.delta", delta, out);
            }
            Delta::ToolStart { id, name, .. } => {
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
            Delta::ToolArgs { text, .. } => {
                if let Some((OpenItem::Call { args }, _)) = &mut self.open {
                    args.push_str(text);
                    let delta = self.at_open(json!({"delta": text}));
                    self.emit("response.function_call_arguments.delta", delta, out);
                }
            }
            Delta::Usage(_) => {}
            Delta::Finish(_) => self.close(out),
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

/// The reply carried by a stream's final `response.completed` / `response.incomplete` event.
pub fn reply_from_final_event(event: &sse::Event) -> Option<Reply> {
    let v: Value = serde_json::from_str(&event.data).ok()?;
    matches!(
        v["type"].as_str(),
        Some("response.completed" | "response.incomplete")
    )
    .then(|| reply_from(&v["response"]).ok())
    .flatten()
}

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
