//! Google Cloud Code Assist (`cloudcode-pa.googleapis.com/v1internal:generateContent` and
//! `:streamGenerateContent?alt=sse`, used by Antigravity and Gemini CLI): a Gemini request inside
//! an envelope, `{"model", "project", "request": {…}, "requestId"?, "userAgent"?}`, and a Gemini
//! response inside `{"response": {…}, "traceId"?}` (each SSE chunk too). Only the proxy sees it;
//! the envelope's per-user and per-call fields never enter the cache key.

use bytes::Bytes;
use serde_json::{Value, json};

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

pub fn render_sse(reply: &Reply) -> Vec<Bytes> {
    gemini::render_sse(reply)
        .iter()
        .map(|event| {
            let data = event
                .strip_prefix(b"data: ")
                .unwrap_or(event)
                .trim_ascii_end();
            sse::data_event(&wrap(data).to_string())
        })
        .collect()
}

/// Parses a whole `{"response": …}` body.
pub fn parse_reply(body: &[u8]) -> Result<Reply, DecodeError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::new(format!("upstream reply is not valid JSON: {e}")))?;
    gemini::parse_chunks([&v["response"]])
}

/// Rebuilds a reply from the wrapped chunks of a streamed response.
#[derive(Debug, Default)]
pub struct StreamAccumulator(gemini::StreamAccumulator);

impl StreamAccumulator {
    pub fn event(&mut self, e: &sse::Event) {
        let chunk = serde_json::from_str::<Value>(&e.data)
            .ok()
            .and_then(|mut v| v.get_mut("response").map(Value::take));
        self.0.chunk(chunk);
    }

    pub fn finish(self) -> Option<Reply> {
        self.0.finish()
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
        let mut acc = StreamAccumulator::default();
        let mut decoder = sse::Decoder::new();
        let mut events = Vec::new();
        for e in render_sse(&reply) {
            decoder.feed(&e, &mut events);
        }
        for e in &events {
            acc.event(e);
        }
        assert_eq!(acc.finish().unwrap().choices, reply.choices);
    }
}
