//! Unit tests of the OpenAI Responses codec.

use super::*;
use crate::exchange::key::exact_key;
use crate::exchange::{Surface, anthropic, openai};

fn origin() -> Origin {
    Origin::new(Surface::Gateway, "t")
}

fn decode_json(v: Value) -> Result<Exchange, DecodeError> {
    decode(Bytes::from(v.to_string()), origin())
}

fn codex_turn(item_id: &str, cache_key: &str) -> Value {
    json!({
        "model": "gpt-5-codex",
        "instructions": "You are Codex.",
        "input": [
            {"type": "message", "id": item_id, "role": "developer", "content": [{"type": "input_text", "text": "sandbox: read-only"}]},
            {"type": "message", "id": format!("{item_id}-2"), "role": "user", "content": [{"type": "input_text", "text": "list the files"}]}
        ],
        "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object"}, "strict": false}],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": cache_key,
        "client_metadata": {"session": cache_key}
    })
}

#[test]
fn two_codex_runs_of_the_same_prompt_share_a_key() {
    let a = decode_json(codex_turn("msg_a", "k1")).unwrap();
    let b = decode_json(codex_turn("msg_b", "k2")).unwrap();
    assert_eq!(exact_key(&a), exact_key(&b));
    assert_eq!(
        a.system,
        vec![
            "You are Codex.".to_string(),
            "sandbox: read-only".to_string()
        ]
    );
    assert_eq!(a.last_user_text().as_deref(), Some("list the files"));
    let mut other = codex_turn("msg_a", "k1");
    other["input"][1]["content"][0]["text"] = json!("list the hidden files");
    assert_ne!(exact_key(&a), exact_key(&decode_json(other).unwrap()));
}

#[test]
fn decodes_function_calls_outputs_and_reasoning() {
    let ex = decode_json(json!({"model": "m", "input": [
        {"role": "user", "content": "run ls"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "xyz"},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"}
    ]}))
    .unwrap();
    assert_eq!(ex.messages.len(), 3);
    assert!(matches!(&ex.messages[1].parts[0], Part::Other { value } if value.get("id").is_none()));
    assert!(matches!(&ex.messages[1].parts[1], Part::ToolCall { id, .. } if id == "call_1"));
    assert!(matches!(&ex.messages[2].parts[0], Part::ToolResult { id, .. } if id == "call_1"));
    assert_eq!(
        decode_json(json!({"model": "m", "input": "hi"}))
            .unwrap()
            .messages[0]
            .text(),
        "hi"
    );
}

#[test]
fn rejects_bad_requests_with_the_offending_param() {
    for (body, param) in [
        (json!({"input": "x"}), "model"),
        (json!({"model": "m"}), "input"),
        (json!({"model": "m", "input": []}), "input"),
        (json!({"model": "m", "input": 5}), "input"),
        (
            json!({"model": "m", "input": [{"content": "x"}]}),
            "input[0]",
        ),
        (
            json!({"model": "m", "input": [{"type": "message", "content": "x"}]}),
            "input[0]",
        ),
        (
            json!({"model": "m", "input": "x", "instructions": 3}),
            "instructions",
        ),
    ] {
        let err = decode_json(body.clone()).unwrap_err();
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {err}");
    }
}

fn sample_reply() -> Reply {
    Reply {
        id: "resp_1".into(),
        model: "gpt-5-codex".into(),
        created: 1_700_000_000,
        choices: vec![Choice {
            index: 0,
            parts: vec![
                Part::text("Listing files."),
                Part::ToolCall {
                    id: "call_7".into(),
                    name: "shell".into(),
                    arguments: "{\"cmd\":\"ls\"}".into(),
                },
            ],
            finish: Some(FinishReason::ToolCalls),
        }],
        usage: Usage {
            input_tokens: 40,
            output_tokens: 9,
            cache_read_tokens: 32,
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
    assert_eq!(
        (v["object"].as_str(), v["status"].as_str()),
        (Some("response"), Some("completed"))
    );
    assert_eq!(v["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(v["output"][1]["type"], "function_call");
    assert_eq!(v["usage"]["total_tokens"], 49);
    assert_eq!(parse_reply(&body).unwrap(), reply);
}

#[test]
fn sse_render_is_a_numbered_event_sequence_ending_in_the_full_response() {
    let reply = sample_reply();
    let mut decoder = sse::Decoder::new();
    let mut events = Vec::new();
    for e in crate::exchange::render_sse(Format::Responses, &reply, false) {
        decoder.feed(&e, &mut events);
    }
    let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(names[0], "response.created");
    assert!(names.contains(&"response.output_text.delta"));
    assert!(names.contains(&"response.function_call_arguments.done"));
    assert_eq!(*names.last().unwrap(), "response.completed");
    for (i, e) in events.iter().enumerate() {
        let v: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(v["sequence_number"], i as u64);
        assert_eq!(v["type"], names[i]);
    }
    assert_eq!(
        crate::exchange::stream::collect_events(Format::Responses, &events).unwrap(),
        reply
    );
}

#[test]
fn a_truncated_reply_renders_as_incomplete() {
    let mut reply = sample_reply();
    reply.choices[0].finish = Some(FinishReason::Length);
    let v: Value = serde_json::from_slice(&render_json(&reply)).unwrap();
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
}

#[test]
fn responses_requests_translate_to_chat_and_messages() {
    let ex = decode_json(
        json!({"model": "m", "instructions": "sys", "max_output_tokens": 30, "input": [
        {"role": "user", "content": "run ls"},
        {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"}
    ], "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object"}}]}),
    )
    .unwrap();
    let chat: Value =
        serde_json::from_slice(&openai::encode_request(&ex, &ex.model, false)).unwrap();
    assert_eq!(
        chat["messages"][0],
        json!({"role": "system", "content": "sys"})
    );
    assert_eq!(chat["messages"][2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        chat["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "a.txt"})
    );
    assert_eq!(chat["tools"][0]["function"]["name"], "shell");
    assert_eq!(chat["max_tokens"], 30);
    let msgs: Value =
        serde_json::from_slice(&anthropic::encode_request(&ex, &ex.model, false)).unwrap();
    assert_eq!(msgs["system"], "sys");
    assert_eq!(msgs["tools"][0]["input_schema"], json!({"type": "object"}));
    assert_eq!(msgs["messages"][2]["content"][0]["type"], "tool_result");
}
