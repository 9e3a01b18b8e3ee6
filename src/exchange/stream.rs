//! The one streaming path. A provider's SSE events are turned into canonical [`Delta`]s by that
//! format's [`Decoder`] (one per codec file); a [`ReplyBuilder`] rebuilds the complete reply
//! from deltas; a client format's [`Encoder`] (one per codec file) turns deltas into that
//! client's events. Everything streamed is a composition of these:
//!
//! * collecting a pass-through reply for the cache ([`super::collect::Collector`]) = decoder +
//!   builder;
//! * translating a provider's stream for a client of another family ([`Translator`]) = decoder +
//!   builder + encoder;
//! * replaying a cached reply as SSE ([`super::render_sse`]) = [`Reply::deltas`] + encoder.
//!
//! So the three cannot drift apart. Format dispatch (which decoder, which encoder) lives in
//! [`super`] as exhaustive matches.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::Value;

use super::{Choice, FinishReason, Part, Reply, Usage, sse};

/// What a stream says about itself before its content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamHead {
    pub id: String,
    pub model: String,
    /// Unix seconds; 0 when the format does not say.
    pub created: u64,
    pub fingerprint: Option<String>,
    /// Usage known at the start (Anthropic reports input tokens in `message_start`).
    pub usage: Usage,
}

/// One step of a streamed reply. `choice` is OpenAI's choice index (0 for every other format);
/// `index` counts a choice's tool calls from 0.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    Start(StreamHead),
    Text {
        choice: u32,
        text: String,
    },
    Refusal {
        choice: u32,
        text: String,
    },
    ToolStart {
        choice: u32,
        index: usize,
        id: String,
        name: String,
    },
    ToolArgs {
        choice: u32,
        index: usize,
        text: String,
    },
    /// A whole block only some formats understand, kept opaque: Anthropic thinking (with its
    /// signature), Gemini thought parts, server tool blocks.
    Block {
        choice: u32,
        value: Value,
    },
    /// Usage so far (providers report input and output at different times; later wins).
    Usage(Usage),
    Finish {
        choice: u32,
        reason: FinishReason,
    },
    /// The provider reported an error in the stream, or sent an event that does not parse.
    Error(String),
}

impl Delta {
    /// A tool call that arrived whole (Gemini sends them so, and a replay does): its start
    /// and all of its arguments.
    pub fn whole_tool_call(
        choice: u32,
        index: usize,
        id: String,
        name: String,
        arguments: String,
    ) -> [Delta; 2] {
        [
            Delta::ToolStart {
                choice,
                index,
                id,
                name,
            },
            Delta::ToolArgs {
                choice,
                index,
                text: arguments,
            },
        ]
    }
}

/// Turns one provider format's SSE events into deltas.
pub trait Decoder: Send {
    fn event(&mut self, e: &sse::Event, out: &mut Vec<Delta>);
    /// Whether the format's terminal event arrived (`[DONE]`, `message_stop`, a final
    /// `response.completed`, Gemini's finish reason).
    fn ended(&self) -> bool;
    /// Whether that terminal event is the last one the format sends, so that a reply is whole
    /// as soon as it arrives, before the body ends. Clients stop reading there (the OpenAI SDK
    /// at `[DONE]`, Codex at `response.completed`) and the provider may end its body later.
    /// Gemini has no such event: its stream is whole when its body ends.
    fn final_event(&self) -> bool {
        true
    }
}

/// Writes deltas as one client format's SSE events.
pub trait Encoder: Send {
    fn delta(&mut self, d: &Delta, out: &mut Vec<Bytes>);
    /// Closes a stream that ended well; `reply` is everything that was streamed.
    fn end(&mut self, reply: &Reply, out: &mut Vec<Bytes>);
    /// Ends a stream that broke: the format's own error event, never its normal end.
    fn fail(&mut self, message: &str, out: &mut Vec<Bytes>);
}

#[derive(Debug, Default)]
struct ChoiceBuild {
    parts: Vec<Part>,
    /// Where each tool call (by its index) sits in `parts`.
    tools: BTreeMap<usize, usize>,
    finish: Option<FinishReason>,
}

/// Rebuilds the complete reply from deltas.
#[derive(Debug, Default)]
pub struct ReplyBuilder {
    head: StreamHead,
    choices: BTreeMap<u32, ChoiceBuild>,
    usage: Usage,
    error: Option<String>,
}

impl ReplyBuilder {
    pub fn delta(&mut self, d: &Delta) {
        match d {
            Delta::Start(head) => {
                self.head = head.clone();
                self.usage = head.usage;
            }
            Delta::Text { choice, text } => {
                let parts = &mut self.choice(*choice).parts;
                match parts.last_mut() {
                    Some(Part::Text { text: last }) => last.push_str(text),
                    _ => parts.push(Part::text(text.clone())),
                }
            }
            Delta::Refusal { choice, text } => {
                let parts = &mut self.choice(*choice).parts;
                match parts.last_mut() {
                    Some(Part::Refusal { text: last }) => last.push_str(text),
                    _ => parts.push(Part::Refusal { text: text.clone() }),
                }
            }
            Delta::ToolStart {
                choice,
                index,
                id,
                name,
            } => {
                let c = self.choice(*choice);
                c.tools.insert(*index, c.parts.len());
                c.parts.push(Part::ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                });
            }
            Delta::ToolArgs {
                choice,
                index,
                text,
            } => {
                let c = self.choice(*choice);
                if let Some(at) = c.tools.get(index)
                    && let Some(Part::ToolCall { arguments, .. }) = c.parts.get_mut(*at)
                {
                    arguments.push_str(text);
                }
            }
            Delta::Block { choice, value } => {
                self.choice(*choice).parts.push(Part::Other {
                    value: value.clone(),
                });
            }
            Delta::Usage(u) => self.usage = *u,
            Delta::Finish { choice, reason } => self.choice(*choice).finish = Some(reason.clone()),
            Delta::Error(why) => {
                self.error.get_or_insert_with(|| why.clone());
            }
        }
    }

    fn choice(&mut self, index: u32) -> &mut ChoiceBuild {
        self.choices.entry(index).or_default()
    }

    /// The reply so far.
    pub fn reply(&self) -> Reply {
        Reply {
            id: self.head.id.clone(),
            model: self.head.model.clone(),
            created: match self.head.created {
                0 => super::unix_now(),
                t => t,
            },
            choices: self
                .choices
                .iter()
                .map(|(index, c)| Choice {
                    index: *index,
                    parts: c.parts.clone(),
                    finish: c.finish.clone(),
                })
                .collect(),
            usage: self.usage,
            system_fingerprint: self.head.fingerprint.clone(),
        }
    }

    /// The complete reply, or why there is none: an error arrived, the terminal event did not
    /// (`ended` is the decoder's word on that), or a choice never finished.
    pub fn finish(&self, ended: bool) -> Result<Reply, String> {
        if let Some(why) = &self.error {
            return Err(why.clone());
        }
        if !ended {
            return Err("the provider's stream ended before its final event".into());
        }
        let reply = self.reply();
        if !reply.is_complete() {
            return Err("the provider's stream ended without a finish reason".into());
        }
        Ok(reply)
    }
}

/// Text deltas of about this many bytes, split at spaces, so a replay streams like the original.
const PIECE_BYTES: usize = 48;

fn text_pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + PIECE_BYTES).min(text.len());
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

impl Reply {
    /// This reply as the deltas a provider could have streamed it in (text in pieces, each tool
    /// call whole), for replaying it in any client format.
    pub fn deltas(&self) -> Vec<Delta> {
        let mut out = vec![Delta::Start(StreamHead {
            id: self.id.clone(),
            model: self.model.clone(),
            created: self.created,
            fingerprint: self.system_fingerprint.clone(),
            usage: self.usage,
        })];
        for c in &self.choices {
            let choice = c.index;
            let mut tools = 0;
            for part in &c.parts {
                match part {
                    Part::Text { text } => {
                        out.extend(text_pieces(text).into_iter().map(|t| Delta::Text {
                            choice,
                            text: t.to_string(),
                        }))
                    }
                    Part::Refusal { text } => out.push(Delta::Refusal {
                        choice,
                        text: text.clone(),
                    }),
                    Part::ToolCall {
                        id,
                        name,
                        arguments,
                    } => {
                        out.extend(Delta::whole_tool_call(
                            choice,
                            tools,
                            id.clone(),
                            name.clone(),
                            arguments.clone(),
                        ));
                        tools += 1;
                    }
                    Part::Other { value } => out.push(Delta::Block {
                        choice,
                        value: value.clone(),
                    }),
                    Part::ToolResult { .. } => {}
                }
            }
            if let Some(reason) = &c.finish {
                out.push(Delta::Finish {
                    choice,
                    reason: reason.clone(),
                });
            }
        }
        out.push(Delta::Usage(self.usage));
        out
    }
}

/// A reply replayed through a client format's encoder: its whole SSE body.
pub fn replay(mut encoder: Box<dyn Encoder>, reply: &Reply) -> Vec<Bytes> {
    let mut out = Vec::new();
    for d in reply.deltas() {
        encoder.delta(&d, &mut out);
    }
    encoder.end(reply, &mut out);
    out
}

/// A provider's SSE body read as it passes: the SSE parser, the format's decoder and the builder
/// of the reply. What collecting for the cache and translating have in common.
pub struct Reader {
    sse: sse::Decoder,
    events: Vec<sse::Event>,
    deltas: Vec<Delta>,
    decoder: Box<dyn Decoder>,
    builder: ReplyBuilder,
}

impl Reader {
    pub fn new(decoder: Box<dyn Decoder>) -> Reader {
        Reader {
            sse: sse::Decoder::new(),
            events: Vec::new(),
            deltas: Vec::new(),
            decoder,
            builder: ReplyBuilder::default(),
        }
    }

    /// Feeds body bytes; `each` sees every delta they complete.
    pub fn feed(&mut self, bytes: &[u8], each: impl FnMut(&Delta)) {
        self.sse.feed(bytes, &mut self.events);
        self.drain(each);
    }

    fn drain(&mut self, mut each: impl FnMut(&Delta)) {
        for e in self.events.drain(..) {
            self.decoder.event(&e, &mut self.deltas);
        }
        for d in self.deltas.drain(..) {
            self.builder.delta(&d);
            each(&d);
        }
    }

    /// Whether the format's final event has arrived: the reply is whole (or never will be), and
    /// whatever the body still holds is not part of it.
    pub fn settled(&self) -> bool {
        self.decoder.final_event() && self.decoder.ended()
    }

    /// The body ended: the last deltas to `each`, then the complete reply or why there is none.
    pub fn finish(&mut self, each: impl FnMut(&Delta)) -> Result<Reply, String> {
        self.sse.finish(&mut self.events);
        self.drain(each);
        self.builder.finish(self.decoder.ended())
    }
}

/// Translates a provider's SSE body into a client's SSE body, event by event.
pub struct Translator {
    reader: Reader,
    client: Box<dyn Encoder>,
}

impl Translator {
    pub fn new(provider: Box<dyn Decoder>, client: Box<dyn Encoder>) -> Translator {
        Translator {
            reader: Reader::new(provider),
            client,
        }
    }

    /// Feeds provider bytes; appends whatever client bytes they complete.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Bytes>) {
        let client = &mut self.client;
        self.reader.feed(bytes, |d| client.delta(d, out));
    }

    /// See [`Reader::settled`].
    pub fn settled(&self) -> bool {
        self.reader.settled()
    }

    /// Ends the client's stream: normally when the provider's stream was complete (the reply is
    /// returned, worth caching), or with the client format's error event when it was not.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> Option<Reply> {
        let client = &mut self.client;
        match self.reader.finish(|d| client.delta(d, out)) {
            Ok(reply) => {
                self.client.end(&reply, out);
                Some(reply)
            }
            Err(why) => {
                self.client.fail(&why, out);
                None
            }
        }
    }

    /// Ends the client's stream with an error (the provider's body broke off or fell silent).
    pub fn abort(&mut self, why: &str, out: &mut Vec<Bytes>) {
        self.client.fail(why, out);
    }
}

/// Parses an SSE event's data as a JSON object, or says why it is not one (for [`Delta::Error`]).
pub fn event_json(e: &sse::Event) -> Result<Value, String> {
    match serde_json::from_str::<Value>(&e.data) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(format!(
            "the provider sent an event that is not JSON: {:?}",
            crate::display::printable(e.data.get(..80).unwrap_or(&e.data))
        )),
    }
}

/// Collects decoded events of a `format` stream into its reply, if complete (for tests of the
/// codecs).
#[cfg(test)]
pub(crate) fn collect_events(format: super::Format, events: &[sse::Event]) -> Option<Reply> {
    let mut reader = Reader::new(super::stream_decoder(format));
    reader.events.extend(events.iter().cloned());
    reader.drain(|_| {});
    reader.builder.finish(reader.decoder.ended()).ok()
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
