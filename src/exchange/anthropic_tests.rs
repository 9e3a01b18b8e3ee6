//! Unit tests of the Anthropic Messages codec.

use super::*;
use crate::exchange::key::exact_key;
use crate::exchange::{Surface, openai};

fn origin() -> Origin {
    Origin::new(Surface::Gateway, "t")
}

fn decode_json(v: Value) -> Result<Exchange, DecodeError> {
    decode(Bytes::from(v.to_string()), origin(), false)
}

fn claude_code_request(session: &str, cch: &str, marker_on_first: bool) -> Value {
    let marker = json!({"type": "ephemeral"});
    let mut first = json!({"type": "text", "text": "Fix the bug"});
    let mut second = json!({"type": "text", "text": "in src/main.rs"});
    if marker_on_first {
        first["cache_control"] = marker;
    } else {
        second["cache_control"] = marker;
    }
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": true,
        "metadata": {"user_id": format!("{{\"session_id\":\"{session}\"}}")},
        "system": [
            {"type": "text", "text": format!("x-anthropic-billing-header: cc_version=2.0.14; cch={cch}; cc_entrypoint=cli")},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [{"role": "user", "content": [first, second]}],
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}]
    })
}

#[test]
fn two_claude_code_runs_of_the_same_prompt_share_a_key() {
    let a = decode_json(claude_code_request("s-1", "9f3a1c", true)).unwrap();
    let b = decode_json(claude_code_request("s-2", "04bd77", false)).unwrap();
    assert_eq!(exact_key(&a), exact_key(&b));
    // Blanked for the key only: the exchange (and so a translated request) keeps the original.
    assert!(a.system[0].contains("cch=9f3a1c;"), "{:?}", a.system);
    let mut other = claude_code_request("s-1", "9f3a1c", true);
    other["messages"][0]["content"][1]["text"] = json!("in src/lib.rs");
    assert_ne!(exact_key(&a), exact_key(&decode_json(other).unwrap()));
}

#[test]
fn decodes_system_forms_tools_results_and_other_blocks() {
    let ex = decode_json(json!({
        "model": "claude-x", "max_tokens": 10, "system": "be brief",
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny", "is_error": false},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}
        ]
    }))
    .unwrap();
    assert_eq!(ex.system, vec!["be brief".to_string()]);
    assert_eq!(ex.params.keys().collect::<Vec<_>>(), vec!["max_tokens"]);
    assert!(
        matches!(&ex.messages[1].parts[0], Part::Other { value } if value["type"] == "thinking")
    );
    assert_eq!(
        ex.messages[1].parts[1],
        Part::ToolCall {
            id: "toolu_1".into(),
            name: "get_weather".into(),
            arguments: "{\"city\":\"Paris\"}".into()
        }
    );
    assert!(
        matches!(&ex.messages[2].parts[0], Part::ToolResult { id, is_error: false, .. } if id == "toolu_1")
    );
    assert!(matches!(&ex.messages[2].parts[1], Part::Other { value } if value["type"] == "image"));

    let leading_system = decode_json(json!({"model": "m", "max_tokens": 9, "messages": [
        {"role": "system", "content": "rules"}, {"role": "user", "content": "hi"}]}))
    .unwrap();
    assert_eq!(leading_system.system, vec!["rules".to_string()]);
    assert_eq!(leading_system.messages.len(), 1);
}

#[test]
fn rejects_bad_requests_with_the_offending_field() {
    for (body, param) in [
        (
            json!({"messages": [{"role": "user", "content": "x"}]}),
            "model",
        ),
        (json!({"model": "m"}), "messages"),
        (json!({"model": "m", "messages": []}), "messages"),
        (
            json!({"model": "m", "messages": [{"content": "x"}]}),
            "messages.0",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": 3}]}),
            "messages.0",
        ),
        (
            json!({"model": "m", "system": 5, "messages": [{"role": "user", "content": "x"}]}),
            "system",
        ),
        (
            json!({"model": "m", "stream": "y", "messages": [{"role": "user", "content": "x"}]}),
            "stream",
        ),
    ] {
        let err = decode_json(body.clone()).unwrap_err();
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {err}");
    }
    // Strict types and the required max_tokens (the provider would refuse these anyway).
    for (body, param) in [
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
            "max_tokens",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "temperature": "hot",
                "messages": [{"role": "user", "content": "x"}]}),
            "temperature",
        ),
        (
            json!({"model": "m", "max_tokens": 5,
                "messages": [{"role": "user", "content": [[[]]]}]}),
            "messages.0.content",
        ),
    ] {
        let err = decode_json(body.clone()).unwrap_err();
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {err}");
    }
    let counted = decode(
        Bytes::from(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}).to_string(),
        ),
        origin(),
        true,
    );
    assert!(counted.is_ok(), "count_tokens needs no max_tokens");
}

fn sample_reply() -> Reply {
    Reply {
        id: "msg_01".into(),
        model: "claude-x".into(),
        created: 1,
        choices: vec![Choice {
            index: 0,
            parts: vec![
                Part::Other {
                    value: json!({"type": "thinking", "thinking": "let me see", "signature": "sig=="}),
                },
                Part::text(
                    "The capital of France is Paris, a city on the Seine with a long history.",
                ),
                Part::ToolCall {
                    id: "toolu_9".into(),
                    name: "lookup".into(),
                    arguments: "{\"q\":\"Paris\"}".into(),
                },
            ],
            finish: Some(FinishReason::ToolCalls),
        }],
        usage: Usage {
            input_tokens: 120,
            output_tokens: 30,
            cache_read_tokens: 100,
            cache_write_tokens: 0,
        },
        system_fingerprint: None,
    }
}

#[test]
fn json_render_parses_back_to_the_same_reply() {
    let reply = sample_reply();
    let body = render_json(&reply);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["usage"]["input_tokens"], 20);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 100);
    assert_eq!(v["content"][2]["input"], json!({"q": "Paris"}));
    let mut back = parse_reply(&body).unwrap();
    back.created = reply.created;
    assert_eq!(back, reply);
}

#[test]
fn sse_render_is_a_full_event_sequence_that_accumulates_back() {
    let reply = sample_reply();
    let events = crate::exchange::render_sse(Format::Anthropic, &reply, false);
    let mut decoder = sse::Decoder::new();
    let mut out = Vec::new();
    for e in &events {
        decoder.feed(e, &mut out);
    }
    let names: Vec<&str> = out.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(
        &names[names.len() - 2..],
        &["message_delta", "message_stop"]
    );
    let text_deltas = out
        .iter()
        .filter(|e| e.data.contains("\"text_delta\""))
        .count();
    assert!(text_deltas >= 2, "long text streams in several deltas");
    let mut back = collect(&out).unwrap();
    back.created = reply.created;
    assert_eq!(back, reply);
}

#[test]
fn accumulator_refuses_streams_without_message_stop_or_with_errors() {
    let ev = |name: &str, data: Value| sse::Event {
        name: Some(name.into()),
        data: data.to_string(),
    };
    let start = ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {}}}),
    );
    let stop_reason = ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
    );
    assert!(collect(&[start.clone(), stop_reason.clone()]).is_none());
    let failed = [
        start,
        ev(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error"}}),
        ),
        stop_reason,
        ev("message_stop", json!({"type": "message_stop"})),
    ];
    assert!(collect(&failed).is_none());
}

fn collect(events: &[sse::Event]) -> Option<Reply> {
    crate::exchange::stream::collect_events(Format::Anthropic, events)
}

#[test]
fn openai_and_anthropic_requests_translate_both_ways() {
    let from_openai = openai::decode(
        Bytes::from(
            json!({"model": "m", "max_tokens": 20, "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}},
                    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "r1"},
                {"role": "tool", "tool_call_id": "c2", "content": "r2"}]})
            .to_string(),
        ),
        origin(),
    )
    .unwrap();
    let body: Value =
        serde_json::from_slice(&encode_request(&from_openai, &from_openai.model, false)).unwrap();
    assert_eq!(body["system"], "sys");
    assert_eq!(body["max_tokens"], 20);
    assert_eq!(body["messages"][1]["content"][0]["input"], json!({"a": 1}));
    // Two OpenAI tool messages become one user turn with two tool_result blocks.
    assert_eq!(body["messages"].as_array().unwrap().len(), 3);
    assert_eq!(body["messages"][2]["content"][1]["tool_use_id"], "c2");

    let from_anthropic = decode(Bytes::from(body.to_string()), origin(), false).unwrap();
    let back: Value = serde_json::from_slice(&openai::encode_request(
        &from_anthropic,
        &from_anthropic.model,
        false,
    ))
    .unwrap();
    assert_eq!(
        back["messages"][0],
        json!({"role": "system", "content": "sys"})
    );
    assert_eq!(
        back["messages"][2]["tool_calls"][0]["function"]["arguments"],
        "{\"a\":1}"
    );
    assert_eq!(
        back["messages"][3],
        json!({"role": "tool", "tool_call_id": "c1", "content": "r1"})
    );
    assert_eq!(back["messages"][4]["tool_call_id"], "c2");
    assert_eq!(back["max_tokens"], 20);
}

#[test]
fn error_body_has_anthropic_shape() {
    let v: Value = serde_json::from_slice(&error_body(401, "nope")).unwrap();
    assert_eq!(
        v,
        json!({"type": "error", "error": {"type": "authentication_error", "message": "nope"}})
    );
}
