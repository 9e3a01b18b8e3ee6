//! Rebuilds a canonical [`Reply`] from an upstream response body as its bytes pass through, so
//! a pass-through reply can be cached without holding the stream back.

use bytes::BytesMut;

use super::{Family, Format, Reply, anthropic, cloudcode, gemini, openai, responses, sse};

/// Bodies larger than this are passed through but not cached.
pub const MAX_CACHED_BODY: usize = 8 * 1024 * 1024;

/// Rebuilds a reply from stream events, in the provider family's event shapes.
enum Accumulator {
    OpenAi(openai::StreamAccumulator),
    Anthropic(anthropic::StreamAccumulator),
    Gemini(gemini::StreamAccumulator),
    CloudCode(cloudcode::StreamAccumulator),
    /// The final `response.completed` event carries the whole reply.
    Responses(Option<Reply>),
}

impl Accumulator {
    fn event(&mut self, e: &sse::Event) {
        match self {
            Accumulator::OpenAi(a) => a.event(e),
            Accumulator::Anthropic(a) => a.event(e),
            Accumulator::Gemini(a) => a.event(e),
            Accumulator::CloudCode(a) => a.event(e),
            Accumulator::Responses(done) => {
                if let Some(reply) = responses::reply_from_final_event(e) {
                    *done = Some(reply);
                }
            }
        }
    }

    fn finish(self) -> Option<Reply> {
        match self {
            Accumulator::OpenAi(a) => a.finish(),
            Accumulator::Anthropic(a) => a.finish(),
            Accumulator::Gemini(a) => a.finish(),
            Accumulator::CloudCode(a) => a.finish(),
            Accumulator::Responses(done) => done.filter(Reply::is_complete),
        }
    }
}

/// The decoder and accumulator of an SSE body.
pub struct SseState {
    decoder: sse::Decoder,
    acc: Accumulator,
    events: Vec<sse::Event>,
}

/// Watches one upstream response body.
pub enum Collector {
    /// An SSE stream, decoded event by event.
    Sse(Box<SseState>),
    /// A JSON body, buffered (up to [`MAX_CACHED_BODY`]) and parsed at the end.
    Json {
        format: Format,
        buf: BytesMut,
        overflow: bool,
    },
}

impl Collector {
    /// A collector for a pass-through response, which is in the client's `format`, with the
    /// given `Content-Type`.
    pub fn new(format: Format, content_type: &str) -> Collector {
        if content_type.starts_with("text/event-stream") {
            let acc = match format {
                Format::OpenAiChat | Format::Native => {
                    Accumulator::OpenAi(openai::StreamAccumulator::new())
                }
                Format::Anthropic => Accumulator::Anthropic(anthropic::StreamAccumulator::new()),
                Format::Gemini => Accumulator::Gemini(gemini::StreamAccumulator::default()),
                Format::CloudCode => {
                    Accumulator::CloudCode(cloudcode::StreamAccumulator::default())
                }
                Format::Responses => Accumulator::Responses(None),
            };
            return Collector::Sse(Box::new(SseState {
                decoder: sse::Decoder::new(),
                acc,
                events: Vec::new(),
            }));
        }
        Collector::Json {
            format,
            buf: BytesMut::new(),
            overflow: false,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        match self {
            Collector::Sse(state) => {
                let SseState {
                    decoder,
                    acc,
                    events,
                } = &mut **state;
                decoder.feed(bytes, events);
                for e in events.drain(..) {
                    acc.event(&e);
                }
            }
            Collector::Json { buf, overflow, .. } => {
                if *overflow || buf.len() + bytes.len() > MAX_CACHED_BODY {
                    *overflow = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(bytes);
                }
            }
        }
    }

    /// The complete reply, if the body held one.
    pub fn finish(self) -> Option<Reply> {
        match self {
            Collector::Sse(state) => {
                let SseState {
                    mut decoder,
                    mut acc,
                    mut events,
                } = *state;
                decoder.finish(&mut events);
                for e in &events {
                    acc.event(e);
                }
                acc.finish()
            }
            Collector::Json {
                format,
                buf,
                overflow,
            } => {
                if overflow {
                    return None;
                }
                let parsed = match format {
                    Format::Responses => responses::parse_reply(&buf),
                    Format::Anthropic => anthropic::parse_reply(&buf),
                    Format::Gemini => gemini::parse_reply(&buf),
                    Format::CloudCode => cloudcode::parse_reply(&buf),
                    Format::OpenAiChat | Format::Native => openai::parse_reply(&buf),
                };
                parsed.ok().filter(Reply::is_complete)
            }
        }
    }
}

/// Parses a complete (non-streamed) reply body of a provider in `family`.
pub fn parse_reply(family: Family, body: &[u8]) -> Result<Reply, super::DecodeError> {
    match family {
        Family::OpenAi => openai::parse_reply(body),
        Family::Anthropic => anthropic::parse_reply(body),
        Family::Gemini => gemini::parse_reply(body),
    }
}
