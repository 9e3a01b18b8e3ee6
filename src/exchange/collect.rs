//! Rebuilds a canonical [`Reply`] from an upstream response body as its bytes pass through, so
//! a pass-through reply can be cached without holding the stream back. An SSE body goes through a
//! [`Reader`] (its format's stream decoder and the reply builder, as a translated stream does); a
//! JSON body is buffered and parsed at the end.

use bytes::BytesMut;

use super::stream::Reader;
use super::{Format, Reply};

/// Bodies larger than this are passed through but not cached.
pub const MAX_CACHED_BODY: usize = 8 * 1024 * 1024;

/// Watches one upstream response body.
pub enum Collector {
    /// An SSE stream, decoded event by event.
    Sse(Box<Reader>),
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
            return Collector::Sse(Box::new(Reader::new(super::stream_decoder(format))));
        }
        Collector::Json {
            format,
            buf: BytesMut::new(),
            overflow: false,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        match self {
            Collector::Sse(reader) => reader.feed(bytes, |_| {}),
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

    /// Whether an SSE body's final event has arrived (see [`Reader::settled`]); a JSON body is
    /// whole only when it ends.
    pub fn settled(&self) -> bool {
        match self {
            Collector::Sse(reader) => reader.settled(),
            Collector::Json { .. } => false,
        }
    }

    /// The complete reply, if the body held one.
    pub fn finish(self) -> Option<Reply> {
        match self {
            Collector::Sse(mut reader) => reader.finish(|_| {}).ok(),
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
