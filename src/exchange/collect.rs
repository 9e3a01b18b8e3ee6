//! Rebuilds a canonical [`Reply`] from an upstream response body as its bytes pass through, so
//! a pass-through reply can be cached without holding the stream back. An SSE body goes through
//! its format's stream decoder and a [`ReplyBuilder`] (the same pair a translated stream uses); a
//! JSON body is buffered and parsed at the end.

use bytes::BytesMut;

use super::stream::{Decoder, Delta, ReplyBuilder};
use super::{Format, Reply, sse};

/// Bodies larger than this are passed through but not cached.
pub const MAX_CACHED_BODY: usize = 8 * 1024 * 1024;

/// The SSE side of a collector.
pub struct SseCollect {
    sse: sse::Decoder,
    events: Vec<sse::Event>,
    deltas: Vec<Delta>,
    decoder: Box<dyn Decoder>,
    builder: ReplyBuilder,
}

impl SseCollect {
    fn drain(&mut self) {
        for e in self.events.drain(..) {
            self.decoder.event(&e, &mut self.deltas);
        }
        for d in self.deltas.drain(..) {
            self.builder.delta(&d);
        }
    }
}

/// Watches one upstream response body.
pub enum Collector {
    /// An SSE stream, decoded event by event.
    Sse(Box<SseCollect>),
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
            return Collector::Sse(Box::new(SseCollect {
                sse: sse::Decoder::new(),
                events: Vec::new(),
                deltas: Vec::new(),
                decoder: super::stream_decoder(format),
                builder: ReplyBuilder::default(),
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
                state.sse.feed(bytes, &mut state.events);
                state.drain();
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
            Collector::Sse(mut state) => {
                state.sse.finish(&mut state.events);
                state.drain();
                state.builder.finish(state.decoder.ended()).ok()
            }
            Collector::Json {
                format,
                buf,
                overflow,
            } => {
                if overflow {
                    return None;
                }
                super::parse_reply(format, &buf)
                    .ok()
                    .filter(Reply::is_complete)
            }
        }
    }
}
