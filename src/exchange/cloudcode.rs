//! Google Cloud Code Assist (`cloudcode-pa.googleapis.com/v1internal:generateContent` and
//! `:streamGenerateContent?alt=sse`, used by Antigravity and Gemini CLI): a Gemini request inside
//! an envelope, `{"model", "project", "request": {…}, "requestId"?, "userAgent"?}`, and a Gemini
//! response inside `{"response": {…}, "traceId"?}` (each SSE chunk too). Only the proxy sees it;
//! the envelope's per-user and per-call fields never enter the cache key.

use bytes::Bytes;
use serde_json::{Value, json};

use super::stream::{self, Decoder, Delta, Encoder};
use super::{DecodeError, Exchange, Format, Origin, Reply, gemini, json_object, sse};

/// Fields of the inner request that change per session and never change the answer.
const VOLATILE: &[&str] = &["session_id"];

/// Whether a Cloud Code path is the streaming method.
pub fn route(path: &str) -> Option<bool> {
    match path.strip_prefix("/v1internal:")? {
        "generateContent" => Some(false),
        "streamGenerateContent" => Some(true),
        _ => None,
    }
}

/// Decodes an envelope: the inner request as Gemini, with the model from the envelope; `raw` stays
/// the whole envelope for pass-through.
pub fn decode(raw: Bytes, origin: Origin, stream: bool) -> Result<Exchange, DecodeError> {
    let obj = json_object(&raw)?;
    let Some(model) = obj.get("model").and_then(Value::as_str) else {
        return Err(DecodeError::param("model", "model is required"));
    };
    let mut inner = match obj.get("request") {
        Some(Value::Object(r)) => r.clone(),
        _ => return Err(DecodeError::param("request", "request must be an object")),
    };
    for k in VOLATILE {
        inner.remove(*k);
    }
    let inner = Bytes::from(Value::Object(inner).to_string());
    let ex = gemini::decode(inner, origin, model, stream)?;
    Ok(Exchange {
        format: Format::CloudCode,
        raw,
        ..ex
    })
}

fn wrap(response: &[u8]) -> Value {
    let inner: Value = serde_json::from_slice(response).unwrap_or(Value::Null);
    json!({ "response": inner })
}

pub fn render_json(reply: &Reply) -> Bytes {
    Bytes::from(wrap(&gemini::render_json(reply)).to_string())
}

/// Parses a whole `{"response": …}` body.
pub fn parse_reply(body: &[u8]) -> Result<Reply, DecodeError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::new(format!("upstream reply is not valid JSON: {e}")))?;
    gemini::reply_of(&v["response"])
}

/// Gemini's stream decoder, inside the envelope.
#[derive(Debug, Default)]
pub struct StreamDecoder(gemini::StreamDecoder);

impl Decoder for StreamDecoder {
    fn event(&mut self, e: &sse::Event, out: &mut Vec<Delta>) {
        match stream::event_json(e) {
            Ok(v) if v.get("error").is_some() => self.0.chunk(&v, out),
            Ok(v) => self.0.chunk(&v["response"], out),
            Err(why) => out.push(Delta::Error(why)),
        }
    }

    fn ended(&self) -> bool {
        self.0.ended()
    }

    fn final_event(&self) -> bool {
        self.0.final_event()
    }
}

/// Gemini's stream encoder, each chunk wrapped as `{"response": …}` (errors are not wrapped, as
/// Cloud Code sends them).
#[derive(Default)]
pub struct StreamEncoder(gemini::StreamEncoder);

fn wrapped(events: Vec<Bytes>, out: &mut Vec<Bytes>) {
    for event in events {
        let data = event
            .strip_prefix(b"data: ")
            .unwrap_or(&event)
            .trim_ascii_end();
        out.push(sse::data_event(&wrap(data).to_string()));
    }
}

impl Encoder for StreamEncoder {
    fn delta(&mut self, d: &Delta, out: &mut Vec<Bytes>) {
        let mut inner = Vec::new();
        self.0.delta(d, &mut inner);
        wrapped(inner, out);
    }

    fn end(&mut self, reply: &Reply, out: &mut Vec<Bytes>) {
        let mut inner = Vec::new();
        self.0.end(reply, &mut inner);
        wrapped(inner, out);
    }

    fn fail(&mut self, message: &str, out: &mut Vec<Bytes>) {
        self.0.fail(message, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::key::exact_key;
    use crate::exchange::{Choice, FinishReason, Part, Surface, Usage};

    fn envelope(prompt: &str, request_id: &str, session: &str) -> Bytes {
        Bytes::from(
            json!({"model": "gemini-2.5-pro", "project": "p-1", "requestId": request_id,
                "userAgent": "antigravity",
                "request": {"contents": [{"role": "user", "parts": [{"text": prompt}]}],
                    "generationConfig": {"temperature": 0.2}, "session_id": session}})
            .to_string(),
        )
    }

    #[test]
    fn the_envelope_is_unwrapped_and_its_per_call_fields_stay_out_of_the_key() {
        let origin = || Origin::new(Surface::Proxy, "t");
        let a = decode(envelope("hi", "r1", "s1"), origin(), true).unwrap();
        let b = decode(envelope("hi", "r2", "s2"), origin(), true).unwrap();
        let c = decode(envelope("bye", "r1", "s1"), origin(), true).unwrap();
        assert_eq!(a.format, Format::CloudCode);
        assert_eq!(a.model, "gemini-2.5-pro");
        assert!(a.stream);
        assert_eq!(
            a.raw,
            envelope("hi", "r1", "s1"),
            "the envelope goes upstream as sent"
        );
        assert_eq!(exact_key(&a), exact_key(&b));
        assert_ne!(exact_key(&a), exact_key(&c));
        assert!(decode(Bytes::from_static(b"{\"model\":\"m\"}"), origin(), false).is_err());
        assert_eq!(route("/v1internal:streamGenerateContent"), Some(true));
        assert_eq!(route("/v1internal:loadCodeAssist"), None);
    }

    #[test]
    fn replies_round_trip_through_the_wrapper() {
        let reply = Reply {
            id: "r".into(),
            model: "gemini-2.5-pro".into(),
            created: 1,
            choices: vec![Choice {
                index: 0,
                parts: vec![Part::text("Paris.")],
                finish: Some(FinishReason::Stop),
            }],
            usage: Usage {
                input_tokens: 3,
                output_tokens: 2,
                ..Usage::default()
            },
            system_fingerprint: None,
        };
        let json = render_json(&reply);
        assert!(json.starts_with(b"{\"response\":"));
        assert_eq!(parse_reply(&json).unwrap().choices, reply.choices);
        let sse = crate::exchange::render_sse(Format::CloudCode, &reply, false).concat();
        assert!(sse.starts_with(b"data: {\"response\":"));
        let mut collector =
            crate::exchange::collect::Collector::new(Format::CloudCode, "text/event-stream");
        collector.feed(&sse);
        assert_eq!(collector.finish().unwrap().choices, reply.choices);
    }
}
