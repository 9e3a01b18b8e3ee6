//! Streaming across protocol families. A provider's SSE events are decoded into canonical
//! [`Delta`]s; a [`ReplyBuilder`] rebuilds the complete reply from them (for the cache) while a
//! client-format encoder turns each delta into the client's own events as it arrives. Only the
//! first choice is translated; provider-specific blocks with no equivalent (thinking) are left
//! out, as in whole-reply translation.

use bytes::Bytes;
use serde_json::Value;

use super::{Choice, Family, FinishReason, Format, Part, Reply, Usage, sse};
use super::{anthropic, gemini, openai, responses};

/// One step of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// The reply began.
    Start {
        id: String,
        model: String,
    },
    Text(String),
    /// A tool call began; `index` counts tool calls from 0.
    ToolStart {
        index: usize,
        id: String,
        name: String,
    },
    ToolArgs {
        index: usize,
        text: String,
    },
    /// Usage so far (providers report input and output at different times; later wins).
    Usage(Usage),
    Finish(FinishReason),
}

/// Decodes a provider's SSE events into deltas.
pub enum DeltaDecoder {
    OpenAi {
        started: bool,
        /// Provider tool-call index → our tool index.
        tools: Vec<u64>,
    },
    Anthropic {
        usage: Usage,
        /// The tool index of each content block that is a tool call.
        blocks: Vec<(u64, usize)>,
        tools: usize,
    },
    /// Gemini sends whole chunks; function calls arrive complete.
    Gemini { started: bool, tools: usize },
}

impl DeltaDecoder {
    pub fn new(provider: Family) -> DeltaDecoder {
        match provider {
            Family::OpenAi => DeltaDecoder::OpenAi {
                started: false,
                tools: Vec::new(),
            },
            Family::Anthropic => DeltaDecoder::Anthropic {
                usage: Usage::default(),
                blocks: Vec::new(),
                tools: 0,
            },
            Family::Gemini => DeltaDecoder::Gemini {
                started: false,
                tools: 0,
            },
        }
    }

    pub fn event(&mut self, e: &sse::Event, out: &mut Vec<Delta>) {
        let Ok(v) = serde_json::from_str::<Value>(&e.data) else {
            return; // `[DONE]`, keep-alives
        };
        let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
        match self {
            DeltaDecoder::OpenAi { started, tools } => {
                if !*started && v.get("id").is_some() {
                    *started = true;
                    out.push(Delta::Start {
                        id: s(&v, "id"),
                        model: s(&v, "model"),
                    });
                }
                if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                    let n = |k: &str| u[k].as_u64().unwrap_or(0);
                    out.push(Delta::Usage(Usage {
                        input_tokens: n("prompt_tokens"),
                        output_tokens: n("completion_tokens"),
                        cache_read_tokens: u
                            .pointer("/prompt_tokens_details/cached_tokens")
                            .and_then(Value::as_u64)
                            .unwrap_or(0),
                        cache_write_tokens: 0,
                    }));
                }
                let Some(c) = v["choices"].as_array().and_then(|c| c.first()) else {
                    return;
                };
                let d = &c["delta"];
                if let Some(t) = d["content"].as_str().filter(|t| !t.is_empty()) {
                    out.push(Delta::Text(t.to_string()));
                }
                for call in d["tool_calls"].as_array().into_iter().flatten() {
                    let provider_index = call["index"].as_u64().unwrap_or(0);
                    let index = match tools.iter().position(|i| *i == provider_index) {
                        Some(i) => i,
                        None => {
                            tools.push(provider_index);
                            out.push(Delta::ToolStart {
                                index: tools.len() - 1,
                                id: s(call, "id"),
                                name: call["function"]["name"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .to_string(),
                            });
                            tools.len() - 1
                        }
                    };
                    if let Some(a) = call["function"]["arguments"]
                        .as_str()
                        .filter(|a| !a.is_empty())
                    {
                        out.push(Delta::ToolArgs {
                            index,
                            text: a.to_string(),
                        });
                    }
                }
                if let Some(r) = c["finish_reason"].as_str() {
                    out.push(Delta::Finish(openai::finish_from(r)));
                }
            }
            DeltaDecoder::Anthropic {
                usage,
                blocks,
                tools,
            } => match v["type"].as_str().unwrap_or_default() {
                "message_start" => {
                    let m = &v["message"];
                    out.push(Delta::Start {
                        id: s(m, "id"),
                        model: s(m, "model"),
                    });
                    *usage = anthropic::usage_from(&m["usage"]);
                    out.push(Delta::Usage(*usage));
                }
                "content_block_start" => {
                    let b = &v["content_block"];
                    match b["type"].as_str() {
                        Some("tool_use") => {
                            blocks.push((v["index"].as_u64().unwrap_or(0), *tools));
                            out.push(Delta::ToolStart {
                                index: *tools,
                                id: s(b, "id"),
                                name: s(b, "name"),
                            });
                            *tools += 1;
                        }
                        Some("text") => {
                            if let Some(t) = b["text"].as_str().filter(|t| !t.is_empty()) {
                                out.push(Delta::Text(t.to_string()));
                            }
                        }
                        _ => {}
                    }
                }
                "content_block_delta" => {
                    let d = &v["delta"];
                    match d["type"].as_str() {
                        Some("text_delta") => out.push(Delta::Text(s(d, "text"))),
                        Some("input_json_delta") => {
                            let block = v["index"].as_u64().unwrap_or(0);
                            if let Some((_, index)) = blocks.iter().find(|(b, _)| *b == block) {
                                out.push(Delta::ToolArgs {
                                    index: *index,
                                    text: s(d, "partial_json"),
                                });
                            }
                        }
                        _ => {}
                    }
                }
                "message_delta" => {
                    if let Some(n) = v["usage"]["output_tokens"].as_u64() {
                        usage.output_tokens = n;
                        out.push(Delta::Usage(*usage));
                    }
                    if let Some(r) = v["delta"]["stop_reason"].as_str() {
                        out.push(Delta::Finish(anthropic::finish_from(r)));
                    }
                }
                _ => {}
            },
            DeltaDecoder::Gemini { started, tools } => {
                if !*started {
                    *started = true;
                    out.push(Delta::Start {
                        id: s(&v, "responseId"),
                        model: s(&v, "modelVersion"),
                    });
                }
                let candidate = &v["candidates"][0];
                for p in candidate["content"]["parts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    if let Some(t) = p["text"].as_str().filter(|t| !t.is_empty()) {
                        out.push(Delta::Text(t.to_string()));
                    } else if let Some(call) = p.get("functionCall") {
                        let name = s(call, "name");
                        out.push(Delta::ToolStart {
                            index: *tools,
                            id: call["id"]
                                .as_str()
                                .map_or_else(|| name.clone(), str::to_string),
                            name,
                        });
                        let args = call.get("args").map(Value::to_string);
                        out.push(Delta::ToolArgs {
                            index: *tools,
                            text: args.unwrap_or_else(|| "{}".into()),
                        });
                        *tools += 1;
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
                if let Some(r) = candidate["finishReason"].as_str() {
                    out.push(Delta::Finish(match gemini::finish_from(r) {
                        FinishReason::Stop if *tools > 0 => FinishReason::ToolCalls,
                        other => other,
                    }));
                }
            }
        }
    }
}

/// Rebuilds the complete reply from deltas.
#[derive(Debug, Default)]
pub struct ReplyBuilder {
    id: String,
    model: String,
    text: String,
    tools: Vec<(String, String, String)>,
    usage: Usage,
    finish: Option<FinishReason>,
}

impl ReplyBuilder {
    pub fn delta(&mut self, d: &Delta) {
        match d {
            Delta::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
            }
            Delta::Text(t) => self.text.push_str(t),
            Delta::ToolStart { id, name, .. } => {
                self.tools.push((id.clone(), name.clone(), String::new()));
            }
            Delta::ToolArgs { index, text } => {
                if let Some(t) = self.tools.get_mut(*index) {
                    t.2.push_str(text);
                }
            }
            Delta::Usage(u) => self.usage = *u,
            Delta::Finish(f) => self.finish = Some(f.clone()),
        }
    }

    /// The reply so far (complete when a finish reason arrived).
    pub fn reply(&self) -> Reply {
        let mut parts = Vec::new();
        if !self.text.is_empty() {
            parts.push(Part::text(self.text.clone()));
        }
        for (id, name, args) in &self.tools {
            parts.push(Part::ToolCall {
                id: id.clone(),
                name: name.clone(),
                arguments: if args.is_empty() {
                    "{}".into()
                } else {
                    args.clone()
                },
            });
        }
        Reply {
            id: self.id.clone(),
            model: self.model.clone(),
            created: super::unix_now(),
            choices: vec![Choice {
                index: 0,
                parts,
                finish: self.finish.clone(),
            }],
            usage: self.usage,
            system_fingerprint: None,
        }
    }
}

/// Writes deltas as a client format's SSE events.
pub trait Encoder: Send {
    fn delta(&mut self, d: &Delta, out: &mut Vec<Bytes>);
    /// Closes the stream; `reply` is everything that was streamed.
    fn end(&mut self, reply: &Reply, out: &mut Vec<Bytes>);
}

/// Translates a provider's SSE body into a client's SSE body, event by event.
pub struct Translator {
    decoder: sse::Decoder,
    events: Vec<sse::Event>,
    deltas: Vec<Delta>,
    provider: DeltaDecoder,
    builder: ReplyBuilder,
    client: Box<dyn Encoder>,
}

/// The encoder of `format`'s stream, built from deltas; `None` when the format has none here
/// (native has no streaming form; Cloud Code streams are passed through, never built).
pub fn encoder(format: Format, include_usage: bool) -> Option<Box<dyn Encoder>> {
    Some(match format {
        Format::OpenAiChat => Box::new(openai::StreamEncoder::new(include_usage)),
        Format::Anthropic => Box::new(anthropic::StreamEncoder::default()),
        Format::Responses => Box::new(responses::StreamEncoder::default()),
        Format::Gemini => Box::new(gemini::StreamEncoder::default()),
        Format::Native | Format::CloudCode => return None,
    })
}

impl Translator {
    /// `None` when the client's format has no streaming form (native).
    pub fn new(provider: Family, client: Format, include_usage: bool) -> Option<Translator> {
        let client = encoder(client, include_usage)?;
        Some(Translator {
            decoder: sse::Decoder::new(),
            events: Vec::new(),
            deltas: Vec::new(),
            provider: DeltaDecoder::new(provider),
            builder: ReplyBuilder::default(),
            client,
        })
    }

    /// Feeds provider bytes; appends whatever client bytes they complete.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Bytes>) {
        self.decoder.feed(bytes, &mut self.events);
        self.drain(out);
    }

    fn drain(&mut self, out: &mut Vec<Bytes>) {
        for e in self.events.drain(..) {
            self.provider.event(&e, &mut self.deltas);
        }
        for d in self.deltas.drain(..) {
            self.builder.delta(&d);
            self.client.delta(&d, out);
        }
    }

    /// Ends the client's stream; returns the reply when it is complete (worth caching).
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> Option<Reply> {
        self.decoder.finish(&mut self.events);
        self.drain(out);
        let reply = self.builder.reply();
        self.client.end(&reply, out);
        reply.is_complete().then_some(reply)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
