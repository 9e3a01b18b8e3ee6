//! Rebuilds a canonical [`Reply`] from an upstream response body as its bytes pass through, so
//! a pass-through reply can be cached without holding the stream back.

use bytes::BytesMut;

use super::openai::{self, StreamAccumulator};
use super::{Format, Reply, sse};

/// Bodies larger than this are passed through but not cached.
pub const MAX_CACHED_BODY: usize = 8 * 1024 * 1024;

/// The decoder and accumulator of an SSE body.
pub struct SseState {
    decoder: sse::Decoder,
    acc: StreamAccumulator,
    events: Vec<sse::Event>,
}

/// Watches one upstream response body.
pub enum Collector {
    /// An SSE stream, decoded event by event.
    Sse(Box<SseState>),
    /// A JSON body, buffered (up to [`MAX_CACHED_BODY`]) and parsed at the end.
    Json { buf: BytesMut, overflow: bool },
}

impl Collector {
    /// A collector for a response in `format` with the given `Content-Type`.
    pub fn new(format: Format, content_type: &str) -> Collector {
        match format {
            Format::OpenAiChat | Format::Native
                if content_type.starts_with("text/event-stream") =>
            {
                Collector::Sse(Box::new(SseState {
                    decoder: sse::Decoder::new(),
                    acc: StreamAccumulator::new(),
                    events: Vec::new(),
                }))
            }
            Format::OpenAiChat | Format::Native => Collector::Json {
                buf: BytesMut::new(),
                overflow: false,
            },
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
            Collector::Json { buf, overflow } => {
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
            Collector::Json { buf, overflow } => {
                if overflow {
                    return None;
                }
                openai::parse_reply(&buf).ok().filter(Reply::is_complete)
            }
        }
    }
}
