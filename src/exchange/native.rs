//! Isartor's native format (`POST /api/chat`): `{"prompt": "...", "model"?: "..."}` in,
//! `{"layer": 1|2|3, "message": "...", "model": "..."}` out.

use bytes::Bytes;
use serde_json::{Value, json};

use super::{DecodeError, Exchange, Format, Message, Origin, Part, Reply, json_object};

/// Decodes a native request; `default_model` fills a missing `model`.
pub fn decode(raw: Bytes, origin: Origin, default_model: &str) -> Result<Exchange, DecodeError> {
    let obj = json_object(&raw)?;
    let prompt = match obj.get("prompt") {
        Some(Value::String(p)) if !p.trim().is_empty() => p.clone(),
        Some(Value::String(_)) => {
            return Err(DecodeError::param("prompt", "'prompt' must not be empty"));
        }
        None => {
            return Err(DecodeError::param(
                "prompt",
                "missing required field: 'prompt'",
            ));
        }
        Some(_) => return Err(DecodeError::param("prompt", "'prompt' must be a string")),
    };
    let model = match obj.get("model") {
        None | Some(Value::Null) => default_model.to_string(),
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(_) => {
            return Err(DecodeError::param(
                "model",
                "'model' must be a non-empty string",
            ));
        }
    };
    let turn = Message {
        role: "user".into(),
        parts: vec![Part::text(prompt)],
        extra: Default::default(),
    };
    Ok(Exchange::new(
        origin,
        Format::Native,
        model,
        vec![turn],
        raw,
    ))
}

/// Renders a reply in the native shape. `layer` is 1 for the caches, 2 local, 3 cloud.
pub fn render_json(reply: &Reply, layer: u8) -> Bytes {
    Bytes::from(json!({"layer": layer, "message": reply.text(), "model": reply.model}).to_string())
}

/// The native error shape: `{"error": {"message", "code"}}`.
pub fn error_body(code: &str, message: &str) -> Bytes {
    Bytes::from(json!({"error": {"message": message, "code": code}}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Surface;

    fn origin() -> Origin {
        Origin::new(Surface::Gateway, "t")
    }

    #[test]
    fn decodes_prompt_and_defaults_model() {
        let ex = decode(Bytes::from_static(br#"{"prompt":"hi"}"#), origin(), "gpt-x").unwrap();
        assert_eq!(ex.model, "gpt-x");
        assert_eq!(ex.last_user_text().as_deref(), Some("hi"));
        let ex = decode(
            Bytes::from_static(br#"{"prompt":"hi","model":"m2"}"#),
            origin(),
            "gpt-x",
        )
        .unwrap();
        assert_eq!(ex.model, "m2");
    }

    #[test]
    fn rejects_missing_empty_and_mistyped_fields() {
        for body in [
            &br#"{}"#[..],
            br#"{"prompt":""}"#,
            br#"{"prompt":5}"#,
            br#"{"prompt":"x","model":7}"#,
            br#"[]"#,
            br#"nope"#,
        ] {
            assert!(
                decode(Bytes::copy_from_slice(body), origin(), "m").is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
