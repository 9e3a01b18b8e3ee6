//! The one streaming path, checked as a whole: every provider family translates into every
//! client format; a broken provider stream ends with the client format's error event; and for
//! every format and any reply, collecting the format's SSE rendering gives the same reply as
//! parsing its JSON rendering (and the reply itself where the format can carry all of it).

use super::*;
use crate::exchange::{Choice, Family, FinishReason, Format, Part, Reply, Usage, render_json};
use crate::exchange::{parse_reply, render_sse};
use proptest::prelude::*;
use serde_json::{Value, json};

fn sample(parts: Vec<Part>, finish: FinishReason) -> Reply {
    Reply {
        id: "src-1".into(),
        model: "m".into(),
        created: 1,
        choices: vec![Choice {
            index: 0,
            parts,
            finish: Some(finish),
        }],
        usage: Usage {
            input_tokens: 21,
            output_tokens: 8,
            ..Usage::default()
        },
        system_fingerprint: None,
    }
}

fn provider_sse(family: Family, reply: &Reply) -> Vec<u8> {
    render_sse(family.format(), reply, true).concat()
}

fn events_of(bytes: &[u8]) -> Vec<sse::Event> {
    let mut decoder = sse::Decoder::new();
    let mut events = Vec::new();
    decoder.feed(bytes, &mut events);
    decoder.finish(&mut events);
    events
}

/// Decodes a client stream back into a reply with the client format's own decoder.
fn read_back(format: Format, bytes: &[u8]) -> Reply {
    collect_events(format, &events_of(bytes)).expect("a complete client stream")
}

fn translator(provider: Family, client: Format) -> Translator {
    Translator::new(
        crate::exchange::stream_decoder(provider.format()),
        crate::exchange::stream_encoder(client, true).unwrap(),
    )
}

/// The parts as Gemini can carry them: no call ids (the name stands in), refusals as text.
fn as_gemini(parts: &[Part]) -> Vec<Part> {
    parts
        .iter()
        .map(|p| match p {
            Part::ToolCall {
                name, arguments, ..
            } => Part::ToolCall {
                id: name.clone(),
                name: name.clone(),
                arguments: arguments.clone(),
            },
            Part::Refusal { text } => Part::text(text.clone()),
            other => other.clone(),
        })
        .collect()
}

const CLIENTS: [Format; 5] = [
    Format::OpenAiChat,
    Format::Anthropic,
    Format::Responses,
    Format::Gemini,
    Format::CloudCode,
];

#[test]
fn every_provider_family_translates_into_every_streaming_client_format() {
    let replies = [
        sample(
            vec![Part::text(
                "Hello there, this is a long enough answer to stream in pieces.",
            )],
            FinishReason::Stop,
        ),
        sample(
            vec![
                Part::text("Let me look."),
                Part::ToolCall {
                    id: "call_1".into(),
                    name: "ls".into(),
                    arguments: "{\"dir\":\".\"}".into(),
                },
                Part::ToolCall {
                    id: "call_2".into(),
                    name: "pwd".into(),
                    arguments: "{}".into(),
                },
            ],
            FinishReason::ToolCalls,
        ),
    ];
    for reply in &replies {
        for provider in [Family::OpenAi, Family::Anthropic, Family::Gemini] {
            for client in CLIENTS {
                let mut t = translator(provider, client);
                let mut out = Vec::new();
                // Feed in small slices, as a network would.
                for piece in provider_sse(provider, reply).chunks(7) {
                    t.feed(piece, &mut out);
                }
                let cached = t.finish(&mut out).expect("a complete reply for the cache");
                let expected = match provider {
                    Family::Gemini => as_gemini(&reply.choices[0].parts),
                    _ => reply.choices[0].parts.clone(),
                };
                assert_eq!(cached.choices[0].parts, expected, "{provider:?}");
                assert_eq!(cached.usage.output_tokens, 8, "{provider:?} -> {client:?}");
                let back = read_back(client, &out.concat());
                let expected = match (provider, client) {
                    (Family::Gemini, _) | (_, Format::Gemini | Format::CloudCode) => {
                        as_gemini(&reply.choices[0].parts)
                    }
                    _ => reply.choices[0].parts.clone(),
                };
                assert_eq!(
                    back.choices[0].parts, expected,
                    "{provider:?} -> {client:?}"
                );
                assert_eq!(back.choices[0].finish, reply.choices[0].finish);
            }
        }
    }
}

#[test]
fn output_arrives_before_the_provider_finishes() {
    let reply = sample(vec![Part::text("streaming text")], FinishReason::Stop);
    let sse = provider_sse(Family::Anthropic, &reply);
    let cut = sse.len() / 2;
    let mut t = translator(Family::Anthropic, Format::OpenAiChat);
    let mut out = Vec::new();
    t.feed(&sse[..cut], &mut out);
    assert!(
        !out.is_empty(),
        "the first half already produced client events"
    );
    assert!(!out.concat().ends_with(b"data: [DONE]\n\n"));
}

/// The client format's error event, if its stream ended with one.
fn error_event(client: Format, out: &[bytes::Bytes]) -> Option<Value> {
    let events = events_of(&out.concat());
    let last = events.last()?;
    let v: Value = serde_json::from_str(&last.data).ok()?;
    match client {
        Format::Anthropic => (last.name.as_deref() == Some("error")).then_some(v),
        Format::Responses => (v["type"] == "error").then_some(v),
        _ => v.get("error").is_some().then_some(v),
    }
}

#[test]
fn a_broken_provider_stream_ends_in_the_clients_error_event_and_is_not_cached() {
    let reply = sample(vec![Part::text("half an answer")], FinishReason::Stop);
    for provider in [Family::OpenAi, Family::Anthropic, Family::Gemini] {
        let sse = provider_sse(provider, &reply);
        // The provider's stream stops cleanly before its end (no finish reason, no terminal
        // event), or sends something that is not JSON.
        let cut = {
            let events = events_of(&sse);
            let keep = events.len() / 2;
            let mut bytes = Vec::new();
            for e in &events[..keep] {
                if let Some(name) = &e.name {
                    bytes.extend_from_slice(format!("event: {name}\n").as_bytes());
                }
                bytes.extend_from_slice(format!("data: {}\n\n", e.data).as_bytes());
            }
            bytes
        };
        let mut garbled = sse.clone();
        garbled.splice(0..0, b"data: {not json\n\n".iter().copied());
        for (what, body) in [("cut", cut), ("garbled", garbled)] {
            for client in CLIENTS {
                let mut t = translator(provider, client);
                let mut out = Vec::new();
                t.feed(&body, &mut out);
                assert!(
                    t.finish(&mut out).is_none(),
                    "{what} {provider:?} -> {client:?} is not cached"
                );
                let error = error_event(client, &out);
                assert!(
                    error.is_some(),
                    "{what} {provider:?} -> {client:?} ends in an error event: {:?}",
                    String::from_utf8_lossy(&out.concat())
                );
                let tail = String::from_utf8_lossy(&out.concat()).into_owned();
                assert!(!tail.contains("[DONE]"), "no normal end: {tail}");
                assert!(!tail.contains("message_stop"), "no normal end: {tail}");
            }
        }
    }
}

#[test]
fn refusals_survive_translation_and_message_start_carries_the_input_tokens() {
    let reply = sample(
        vec![Part::Refusal {
            text: "I can't help with that.".into(),
        }],
        FinishReason::Stop,
    );
    // OpenAI provider → Responses client: the refusal arrives as a refusal.
    let mut t = translator(Family::OpenAi, Format::Responses);
    let mut out = Vec::new();
    t.feed(&provider_sse(Family::OpenAi, &reply), &mut out);
    t.finish(&mut out).unwrap();
    let back = read_back(Format::Responses, &out.concat());
    assert_eq!(back.choices[0].parts, reply.choices[0].parts);
    // Anthropic's message_start says the input tokens, replayed or translated alike.
    let replayed = events_of(&render_sse(Format::Anthropic, &reply, false).concat());
    let mut t = translator(Family::Anthropic, Format::Anthropic);
    let mut out = Vec::new();
    t.feed(&provider_sse(Family::Anthropic, &reply), &mut out);
    t.finish(&mut out).unwrap();
    let translated = events_of(&out.concat());
    for events in [&replayed, &translated] {
        let start: Value = serde_json::from_str(&events[0].data).unwrap();
        assert_eq!(start["message"]["usage"]["input_tokens"], 21);
    }
}

#[test]
fn thinking_blocks_keep_their_signature_through_anthropic_streams() {
    let thinking = json!({"type": "thinking", "thinking": "Let me think.", "signature": "sig=="});
    let reply = sample(
        vec![
            Part::Other {
                value: thinking.clone(),
            },
            Part::text("Answer."),
        ],
        FinishReason::Stop,
    );
    let back = read_back(
        Format::Anthropic,
        &render_sse(Format::Anthropic, &reply, false).concat(),
    );
    assert_eq!(back.choices[0].parts, reply.choices[0].parts);
    // Translated into OpenAI, the block has no equivalent and is left out.
    let back = read_back(
        Format::OpenAiChat,
        &render_sse(Format::OpenAiChat, &reply, false).concat(),
    );
    assert_eq!(back.choices[0].parts, vec![Part::text("Answer.")]);
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{1,120}",
        "[ -~]{1,60}",
        "\\PC{1,40}",
        Just("line one\nline \"two\"\t{}".to_string()),
    ]
}

fn arb_tool() -> impl Strategy<Value = Part> {
    (
        "[a-z_]{1,12}",
        "call_[a-z0-9]{1,8}",
        prop::collection::btree_map("[a-z]{1,6}", 0i64..100, 0..3),
    )
        .prop_map(|(name, id, args)| Part::ToolCall {
            id,
            name,
            arguments: serde_json::to_string(&args).unwrap(),
        })
}

/// The parts of one answer in the order every provider sends them: thinking, text, a refusal,
/// tool calls (each optional).
fn arb_parts() -> impl Strategy<Value = Vec<Part>> {
    (
        prop::option::of(("[a-z ]{1,40}", "[A-Za-z0-9+/]{4,20}")),
        prop::option::of(arb_text()),
        prop::option::weighted(0.2, arb_text()),
        prop::collection::vec(arb_tool(), 0..3),
    )
        .prop_map(|(thinking, text, refusal, tools)| {
            let mut parts = Vec::new();
            if let Some((t, s)) = thinking {
                parts.push(Part::Other {
                    value: json!({"type": "thinking", "thinking": t, "signature": s}),
                });
            }
            parts.extend(text.map(Part::text));
            parts.extend(refusal.map(|text| Part::Refusal { text }));
            parts.extend(tools);
            parts
        })
}

fn arb_finish() -> impl Strategy<Value = FinishReason> {
    prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::ContentFilter),
    ]
}

fn arb_reply(max_choices: usize) -> impl Strategy<Value = Reply> {
    (
        prop::collection::vec((arb_parts(), arb_finish()), 1..=max_choices),
        (0u64..5000, 0u64..5000, 0u64..100),
        "[a-z0-9]{1,10}",
    )
        .prop_map(|(choices, (input, output, read), id)| Reply {
            id: format!("chatcmpl-{id}"),
            model: "model-x".into(),
            created: 1_700_000_000,
            choices: choices
                .into_iter()
                .enumerate()
                .map(|(i, (parts, finish))| Choice {
                    index: i as u32,
                    parts,
                    finish: Some(finish),
                })
                .collect(),
            usage: Usage {
                input_tokens: input + read,
                output_tokens: output,
                cache_read_tokens: read,
                cache_write_tokens: 0,
            },
            system_fingerprint: None,
        })
}

/// What an SSE rendering collects back to, with the time (which not every format carries)
/// taken from `like`.
fn collected(format: Format, reply: &Reply) -> Reply {
    let mut back = read_back(format, &render_sse(format, reply, true).concat());
    back.created = reply.created;
    back
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// OpenAI chat carries everything (choices, refusals, tool calls, usage): both renderings
    /// read back as the reply itself, thinking blocks aside.
    #[test]
    fn openai_sse_and_json_give_back_the_reply(reply in arb_reply(3)) {
        let mut expected = reply.clone();
        for c in &mut expected.choices {
            c.parts.retain(|p| !matches!(p, Part::Other { .. }));
        }
        expected.usage.cache_write_tokens = 0;
        prop_assert_eq!(collected(Format::OpenAiChat, &reply), expected.clone());
        let json = parse_reply(Format::OpenAiChat, &render_json(Format::OpenAiChat, &reply, 3)).unwrap();
        prop_assert_eq!(&json.choices, &expected.choices);
    }

    /// Every streaming format: its SSE rendering collects back to what its JSON rendering
    /// parses back to, so replaying from the cache can never differ from answering whole.
    #[test]
    fn every_format_agrees_between_sse_and_json(reply in arb_reply(1)) {
        for format in CLIENTS {
            let sse = collected(format, &reply);
            let mut json = parse_reply(format, &render_json(format, &reply, 3)).unwrap();
            json.created = reply.created;
            prop_assert_eq!(&sse.choices, &json.choices, "{:?}", format);
            prop_assert_eq!(sse.usage.output_tokens, reply.usage.output_tokens, "{:?}", format);
        }
    }

    /// Anthropic carries thinking with its signature and tool calls with their ids; a reply
    /// without refusals (which Messages shows as text) and with tool input that is a JSON
    /// object reads back whole.
    #[test]
    fn anthropic_keeps_what_it_can_carry(reply in arb_reply(1)) {
        let mut reply = reply;
        for p in &mut reply.choices[0].parts {
            if let Part::Refusal { text } = p {
                *p = Part::text(text.clone());
            }
        }
        let parts = &reply.choices[0].parts;
        // Merge texts that became adjacent.
        let merged = parts.iter().cloned().fold(Vec::new(), |mut acc: Vec<Part>, p| {
            match (acc.last_mut(), p) {
                (Some(Part::Text { text: a }), Part::Text { text: b }) => a.push_str(&b),
                (_, p) => acc.push(p),
            }
            acc
        });
        reply.choices[0].parts = merged;
        let back = collected(Format::Anthropic, &reply);
        prop_assert_eq!(&back.choices[0].parts, &reply.choices[0].parts);
        prop_assert_eq!(back.usage, reply.usage);
    }
}
