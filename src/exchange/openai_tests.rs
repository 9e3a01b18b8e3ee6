//! Unit tests of the OpenAI chat-completions codec.

use super::*;
use crate::exchange::Surface;
use crate::exchange::key::exact_key;

fn origin() -> Origin {
    Origin::new(Surface::Gateway, "t")
}

fn decode_json(v: Value) -> Result<Exchange, DecodeError> {
    decode(Bytes::from(v.to_string()), origin())
}

#[test]
fn decodes_system_messages_tools_and_params() {
    let ex = decode_json(json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": null,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a.txt"}
        ],
        "tools": [{"type": "function", "function": {"name": "ls"}}],
        "temperature": 0.3,
        "stream": true,
        "stream_options": {"include_usage": true},
        "user": "u-1",
        "metadata": {"session": "s"}
    }))
    .unwrap();
    assert_eq!(ex.system, vec!["be brief".to_string()]);
    assert_eq!(ex.messages.len(), 3);
    assert_eq!(ex.messages[0].text(), "hi");
    assert_eq!(
        ex.messages[1].parts,
        vec![Part::ToolCall {
            id: "c1".into(),
            name: "ls".into(),
            arguments: "{}".into()
        }]
    );
    assert!(matches!(&ex.messages[2].parts[0], Part::ToolResult { id, .. } if id == "c1"));
    assert!(ex.stream && ex.stream_usage);
    assert_eq!(ex.params.keys().collect::<Vec<_>>(), vec!["temperature"]);
    assert!(ex.tools.is_some());
}

#[test]
fn rejects_bad_requests_with_the_offending_param() {
    let cases = [
        (json!([1, 2]), None),
        (
            json!({"messages": [{"role": "user", "content": "x"}]}),
            Some("model"),
        ),
        (json!({"model": 5, "messages": []}), Some("model")),
        (json!({"model": "m"}), Some("messages")),
        (json!({"model": "m", "messages": "hi"}), Some("messages")),
        (json!({"model": "m", "messages": []}), Some("messages")),
        (
            json!({"model": "m", "messages": [{"content": "x"}]}),
            Some("messages[0]"),
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
            Some("messages[0]"),
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}),
            Some("stream"),
        ),
        (
            json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}),
            Some("messages[0]"),
        ),
    ];
    for (body, param) in cases {
        let err = decode_json(body.clone()).unwrap_err();
        assert_eq!(err.param.as_deref(), param, "{body}: {err}");
    }
    assert!(decode(Bytes::from_static(b"{not json"), origin()).is_err());
}

#[test]
fn volatile_fields_do_not_change_the_key() {
    let a =
        decode_json(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})).unwrap();
    let b = decode_json(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "user": "someone", "metadata": {"a": 1}, "stream": true, "store": false,
        "prompt_cache_key": "k", "service_tier": "auto"}),
    )
    .unwrap();
    assert_eq!(exact_key(&a), exact_key(&b));
    let c = decode_json(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5}),
    )
    .unwrap();
    assert_ne!(exact_key(&a), exact_key(&c));
}

#[test]
fn native_round_trip_through_encode_request() {
    let ex = decode_json(json!({
        "model": "m",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "q", "name": "bob"},
            {"role": "assistant", "content": null,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"}
        ],
        "temperature": 0
    }))
    .unwrap();
    let again = decode(encode_request(&ex, &ex.model, false), origin()).unwrap();
    assert_eq!(exact_key(&ex), exact_key(&again));
    assert_eq!(again.messages, ex.messages);
}

fn sample_reply() -> Reply {
    Reply {
        id: "chatcmpl-1".into(),
        model: "gpt-4o-mini".into(),
        created: 1_700_000_000,
        choices: vec![Choice {
            index: 0,
            parts: vec![
                Part::text("Hello"),
                Part::ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    arguments: "{\"city\":\"Paris\"}".into(),
                },
            ],
            finish: Some(FinishReason::ToolCalls),
        }],
        usage: Usage {
            input_tokens: 12,
            output_tokens: 5,
            ..Usage::default()
        },
        system_fingerprint: Some("fp_1".into()),
    }
}

#[test]
fn json_render_parses_back_to_the_same_reply() {
    let reply = sample_reply();
    let body = render_json(&reply);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["usage"]["total_tokens"], 17);
    assert_eq!(parse_reply(&body).unwrap(), reply);
}

fn collect(events: &[sse::Event]) -> Option<Reply> {
    crate::exchange::stream::collect_events(Format::OpenAiChat, events)
}

#[test]
fn sse_render_accumulates_back_to_the_same_reply() {
    let reply = sample_reply();
    let events = crate::exchange::render_sse(Format::OpenAiChat, &reply, true);
    assert_eq!(events.last().unwrap().as_ref(), b"data: [DONE]\n\n");
    let mut decoder = sse::Decoder::new();
    let mut out = Vec::new();
    for e in &events {
        decoder.feed(e, &mut out);
    }
    assert_eq!(collect(&out).unwrap(), reply);
}

#[test]
fn accumulator_refuses_incomplete_or_failed_streams() {
    let ev = |d: &str| sse::Event {
        name: None,
        data: d.into(),
    };
    let chunk = r#"{"id":"x","model":"m","created":1,"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}"#;

    assert!(collect(&[ev(chunk)]).is_none(), "no [DONE]");
    let errored = [
        ev(chunk),
        ev(r#"{"error":{"message":"boom"}}"#),
        ev("[DONE]"),
    ];
    assert!(collect(&errored).is_none());
    assert!(collect(&[ev("not json"), ev(chunk), ev("[DONE]")]).is_none());
    assert_eq!(collect(&[ev(chunk), ev("[DONE]")]).unwrap().text(), "hi");
}

#[test]
fn error_body_has_openai_shape() {
    let v: Value =
        serde_json::from_slice(&error_body(401, "invalid_api_key", "nope", None)).unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert_eq!(v["error"]["message"], "nope");
}
