//! Unit tests of the Gemini codec.

use super::*;
use crate::exchange::key::exact_key;
use crate::exchange::{Choice, Surface, anthropic, openai};

fn decode_json(v: Value, stream: bool) -> Result<Exchange, DecodeError> {
    decode(
        Bytes::from(v.to_string()),
        Origin::new(Surface::Gateway, "t"),
        "gemini-2.5-flash",
        stream,
    )
}

#[test]
fn routes_model_and_method_from_the_path() {
    assert_eq!(
        model_in_path("/v1beta/models/gemini-2.5-flash:generateContent"),
        Some(("gemini-2.5-flash", false))
    );
    assert_eq!(
        model_in_path("/v1/models/gemini-2.5-flash:streamGenerateContent"),
        Some(("gemini-2.5-flash", true))
    );
    assert_eq!(
        model_in_path("/v1beta/models/gemini-2.5-flash:countTokens"),
        None
    );
    assert_eq!(model_in_path("/v1beta/models/no-method"), None);
    assert_eq!(model_in_path("/v1beta/other/m:generateContent"), None);
}

#[test]
fn decodes_contents_system_tools_and_function_turns() {
    let ex = decode_json(
        json!({
            "systemInstruction": {"parts": [{"text": "be brief"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "weather?"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": 20}}}]}
            ],
            "tools": [{"functionDeclarations": [{"name": "get_weather"}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
            "generationConfig": {"temperature": 0.1}
        }),
        false,
    )
    .unwrap();
    assert_eq!(ex.model, "gemini-2.5-flash");
    assert_eq!(ex.system, vec!["be brief".to_string()]);
    assert_eq!(ex.messages[1].role, "assistant");
    assert!(
        matches!(&ex.messages[1].parts[0], Part::ToolCall { id, name, .. } if id == "get_weather" && name == "get_weather")
    );
    assert!(matches!(&ex.messages[2].parts[0], Part::ToolResult { id, .. } if id == "get_weather"));
    assert_eq!(
        ex.params.keys().collect::<Vec<_>>(),
        vec!["generationConfig"]
    );
    assert!(ex.tool_choice.is_some());

    let chat: Value =
        serde_json::from_slice(&openai::encode_request(&ex, &ex.model, false)).unwrap();
    assert_eq!(
        chat["messages"][2]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(chat["messages"][3]["tool_call_id"], "get_weather");
    assert_eq!(chat["temperature"], 0.1);
    let msgs: Value =
        serde_json::from_slice(&anthropic::encode_request(&ex, &ex.model, true)).unwrap();
    assert_eq!(msgs["tools"][0]["name"], "get_weather");
    assert_eq!(msgs["stream"], true);
}

#[test]
fn the_key_ignores_the_method_but_not_the_content() {
    let body = json!({"contents": [{"parts": [{"text": "hi"}]}]});
    let a = decode_json(body.clone(), false).unwrap();
    let b = decode_json(body, true).unwrap();
    assert_eq!(exact_key(&a), exact_key(&b));
    let c = decode_json(json!({"contents": [{"parts": [{"text": "hi!"}]}]}), false).unwrap();
    assert_ne!(exact_key(&a), exact_key(&c));
}

#[test]
fn rejects_bad_requests_with_the_offending_field() {
    for (body, param) in [
        (json!({}), "contents"),
        (json!({"contents": []}), "contents"),
        (json!({"contents": "hi"}), "contents"),
        (json!({"contents": [{"role": "user"}]}), "contents[0]"),
        (
            json!({"contents": [{"role": "system", "parts": []}]}),
            "contents[0]",
        ),
    ] {
        let err = decode_json(body.clone(), false).unwrap_err();
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {err}");
    }
}

fn sample() -> Reply {
    Reply {
        id: "resp-1".into(),
        model: "gemini-2.5-flash".into(),
        created: 1,
        choices: vec![Choice {
            index: 0,
            parts: vec![
                Part::text("Checking the weather."),
                Part::ToolCall {
                    id: "get_weather".into(),
                    name: "get_weather".into(),
                    arguments: "{\"city\":\"Paris\"}".into(),
                },
            ],
            // Rendered as STOP, read back as ToolCalls because the turn has a function call.
            finish: Some(FinishReason::ToolCalls),
        }],
        usage: Usage {
            input_tokens: 10,
            output_tokens: 4,
            ..Usage::default()
        },
        system_fingerprint: None,
    }
}

#[test]
fn json_and_sse_renders_parse_back() {
    let reply = sample();
    let v: Value = serde_json::from_slice(&render_json(&reply)).unwrap();
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    assert_eq!(v["usageMetadata"]["totalTokenCount"], 14);
    let mut back = reply_of(&v).unwrap();
    back.created = reply.created;
    assert_eq!(back, reply);

    let mut decoder = sse::Decoder::new();
    let mut events = Vec::new();
    for e in crate::exchange::render_sse(Format::Gemini, &reply, false) {
        decoder.feed(&e, &mut events);
    }
    assert!(events.len() >= 2);
    let mut back = crate::exchange::stream::collect_events(Format::Gemini, &events).unwrap();
    back.created = reply.created;
    assert_eq!(back, reply);
}

#[test]
fn error_body_has_gemini_shape() {
    let v: Value = serde_json::from_slice(&error_body(400, "bad")).unwrap();
    assert_eq!(
        v,
        json!({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}})
    );
}
