//! Strict types for the fields each format defines: a request the provider would reject (a
//! `temperature` of `"hot"`, an Anthropic request without `max_tokens`, a Gemini part whose
//! `text` is a number, OpenAI content that is a list of lists) gets a 400 in the client's own
//! format here, without spending a provider call. Fields a format does not define pass unchecked
//! (providers add new ones faster than we could list them).

use serde_json::{Map, Value};

use super::DecodeError;

/// The JSON type a known field must have.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Number,
    /// A whole number of zero or more.
    Count,
    Bool,
    Str,
    Object,
    Array,
    /// A string or a list of strings (`stop`).
    StrOrStrs,
    /// A string or an object (`tool_choice`).
    StrOrObject,
}

impl Kind {
    fn accepts(self, v: &Value) -> bool {
        match self {
            Kind::Number => v.is_number(),
            Kind::Count => v.as_u64().is_some(),
            Kind::Bool => v.is_boolean(),
            Kind::Str => v.is_string(),
            Kind::Object => v.is_object(),
            Kind::Array => v.is_array(),
            Kind::StrOrStrs => {
                v.is_string() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
            }
            Kind::StrOrObject => v.is_string() || v.is_object(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Number => "a number",
            Kind::Count => "a whole number of zero or more",
            Kind::Bool => "true or false",
            Kind::Str => "a string",
            Kind::Object => "an object",
            Kind::Array => "an array",
            Kind::StrOrStrs => "a string or an array of strings",
            Kind::StrOrObject => "a string or an object",
        }
    }
}

/// OpenAI Chat Completions.
pub const OPENAI_CHAT: &[(&str, Kind)] = &[
    ("temperature", Kind::Number),
    ("top_p", Kind::Number),
    ("n", Kind::Count),
    ("max_tokens", Kind::Count),
    ("max_completion_tokens", Kind::Count),
    ("presence_penalty", Kind::Number),
    ("frequency_penalty", Kind::Number),
    ("seed", Kind::Number),
    ("stop", Kind::StrOrStrs),
    ("logprobs", Kind::Bool),
    ("top_logprobs", Kind::Count),
    ("parallel_tool_calls", Kind::Bool),
    ("response_format", Kind::Object),
    ("tools", Kind::Array),
    ("tool_choice", Kind::StrOrObject),
    ("stream_options", Kind::Object),
    ("user", Kind::Str),
];

/// Anthropic Messages (`max_tokens` is also required, see [`require`]).
pub const ANTHROPIC: &[(&str, Kind)] = &[
    ("max_tokens", Kind::Count),
    ("temperature", Kind::Number),
    ("top_p", Kind::Number),
    ("top_k", Kind::Count),
    ("stop_sequences", Kind::StrOrStrs),
    ("tools", Kind::Array),
    ("tool_choice", Kind::Object),
    ("thinking", Kind::Object),
    ("metadata", Kind::Object),
];

/// OpenAI Responses.
pub const RESPONSES: &[(&str, Kind)] = &[
    ("temperature", Kind::Number),
    ("top_p", Kind::Number),
    ("max_output_tokens", Kind::Count),
    ("tools", Kind::Array),
    ("tool_choice", Kind::StrOrObject),
    ("parallel_tool_calls", Kind::Bool),
    ("reasoning", Kind::Object),
    ("text", Kind::Object),
];

/// Gemini's top level.
pub const GEMINI: &[(&str, Kind)] = &[
    ("generationConfig", Kind::Object),
    ("generation_config", Kind::Object),
    ("tools", Kind::Array),
    ("toolConfig", Kind::Object),
    ("safetySettings", Kind::Array),
    ("systemInstruction", Kind::Object),
];

/// Gemini's `generationConfig`.
pub const GEMINI_CONFIG: &[(&str, Kind)] = &[
    ("temperature", Kind::Number),
    ("topP", Kind::Number),
    ("topK", Kind::Number),
    ("candidateCount", Kind::Count),
    ("maxOutputTokens", Kind::Count),
    ("stopSequences", Kind::StrOrStrs),
    ("responseMimeType", Kind::Str),
    ("seed", Kind::Number),
];

/// Checks the known fields of `obj` (`at` prefixes field names in messages). `null` passes: it
/// means "not set" in every format.
pub fn fields(
    obj: &Map<String, Value>,
    known: &[(&str, Kind)],
    at: &str,
) -> Result<(), DecodeError> {
    for (name, kind) in known {
        match obj.get(*name) {
            None | Some(Value::Null) => {}
            Some(v) if kind.accepts(v) => {}
            Some(v) => {
                let param = format!("{at}{name}");
                return Err(DecodeError::param(
                    &param,
                    format!(
                        "'{param}' must be {}, not {}",
                        kind.describe(),
                        crate::display::printable(&short(v))
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Fails when `name` is missing (or null).
pub fn require(obj: &Map<String, Value>, name: &str) -> Result<(), DecodeError> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(DecodeError::param(
            name,
            format!("missing required field: '{name}'"),
        )),
        Some(_) => Ok(()),
    }
}

/// Each item of a content list must be an object with a string `type`.
pub fn typed_parts(items: &[Value], param: &str) -> Result<(), DecodeError> {
    for (i, item) in items.iter().enumerate() {
        if item.get("type").and_then(Value::as_str).is_none() {
            return Err(DecodeError::param(
                param,
                format!("{param}[{i}] must be an object with a string 'type'"),
            ));
        }
    }
    Ok(())
}

/// A short rendering of a bad value for a message.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn known_fields_must_have_their_type() {
        let ok = obj(
            json!({"temperature": 0.2, "stop": ["a"], "n": 1, "tool_choice": "auto",
            "unknown_field": "anything", "seed": null}),
        );
        assert!(fields(&ok, OPENAI_CHAT, "").is_ok());
        let hot = fields(&obj(json!({"temperature": "hot"})), OPENAI_CHAT, "").unwrap_err();
        assert_eq!(hot.param.as_deref(), Some("temperature"));
        assert!(hot.message.contains("must be a number"), "{}", hot.message);
        for bad in [
            json!({"max_tokens": -1}),
            json!({"max_tokens": 1.5}),
            json!({"stop": [1]}),
            json!({"tools": {}}),
            json!({"logprobs": "yes"}),
        ] {
            assert!(fields(&obj(bad.clone()), OPENAI_CHAT, "").is_err(), "{bad}");
        }
        let nested = fields(
            &obj(json!({"maxOutputTokens": "x"})),
            GEMINI_CONFIG,
            "generationConfig.",
        )
        .unwrap_err();
        assert_eq!(
            nested.param.as_deref(),
            Some("generationConfig.maxOutputTokens")
        );
    }

    #[test]
    fn required_fields_and_typed_parts() {
        assert!(require(&obj(json!({"max_tokens": 5})), "max_tokens").is_ok());
        assert!(require(&obj(json!({"max_tokens": null})), "max_tokens").is_err());
        assert!(typed_parts(&[json!({"type": "text", "text": "x"})], "content").is_ok());
        assert!(typed_parts(&[json!([[]])], "content").is_err());
        assert!(typed_parts(&[json!({"text": "x"})], "content").is_err());
    }
}
