//! Server-Sent Events: an incremental decoder that is fed bytes as they pass through (so the
//! stream to the client is never held back), and the encoder for replies rendered from cache.

use bytes::{Bytes, BytesMut};

/// One decoded event: its `event:` name (if any) and its `data:` lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

/// Push decoder: `feed` any byte slices (split anywhere, even mid-UTF-8), get whole events out.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    name: Option<String>,
    data: Option<String>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Feeds bytes and appends every event they complete to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) {
        self.buf.extend_from_slice(bytes);
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line = self.buf.split_to(pos + 1);
            let mut line = &line[..pos];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            self.line(line, out);
        }
    }

    /// Flushes a final event that was not followed by a blank line.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        if !self.buf.is_empty() {
            let rest = self.buf.split();
            self.line(&rest, out);
        }
        self.dispatch(out);
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            "event" => self.name = Some(value.to_string()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Event>) {
        let name = self.name.take();
        if let Some(data) = self.data.take() {
            out.push(Event { name, data });
        }
    }
}

/// Encodes one `data:` event (`data` must not contain newlines: JSON from serde never does).
pub fn data_event(data: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(data.len() + 8);
    b.extend_from_slice(b"data: ");
    b.extend_from_slice(data.as_bytes());
    b.extend_from_slice(b"\n\n");
    b.freeze()
}

/// Encodes one named event with a `data:` payload.
pub fn named_event(name: &str, data: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(name.len() + data.len() + 16);
    b.extend_from_slice(b"event: ");
    b.extend_from_slice(name.as_bytes());
    b.extend_from_slice(b"\ndata: ");
    b.extend_from_slice(data.as_bytes());
    b.extend_from_slice(b"\n\n");
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Vec<Event> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            d.feed(chunk, &mut out);
        }
        d.finish(&mut out);
        out
    }

    #[test]
    fn decodes_events_split_at_any_byte() {
        let input = "event: a\ndata: {\"x\":\"é\"}\n\n: keep-alive\n\ndata: one\r\ndata: two\r\n\r\ndata: [DONE]";
        let expected = vec![
            Event {
                name: Some("a".into()),
                data: "{\"x\":\"é\"}".into(),
            },
            Event {
                name: None,
                data: "one\ntwo".into(),
            },
            Event {
                name: None,
                data: "[DONE]".into(),
            },
        ];
        for piece in 1..=input.len() {
            assert_eq!(
                decode_in_pieces(input.as_bytes(), piece),
                expected,
                "piece {piece}"
            );
        }
    }

    #[test]
    fn encoder_round_trips() {
        let mut bytes = data_event("{\"a\":1}").to_vec();
        bytes.extend_from_slice(&named_event("ping", "{}"));
        assert_eq!(
            decode_in_pieces(&bytes, 3),
            vec![
                Event {
                    name: None,
                    data: "{\"a\":1}".into()
                },
                Event {
                    name: Some("ping".into()),
                    data: "{}".into()
                }
            ]
        );
    }
}
