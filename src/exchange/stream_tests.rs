//! Round trips through the streaming translator: a reply rendered as one provider family's SSE,
//! translated event by event into each client format, must read back as the same reply.

use super::*;
use crate::exchange::{Choice, FinishReason, Part, Reply, Usage};
use serde_json::Value;

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
    let events = match family {
        Family::OpenAi => openai::render_sse(reply, true),
        Family::Anthropic => anthropic::render_sse(reply),
        Family::Gemini => gemini::render_sse(reply),
    };
    events.concat()
}

/// Decodes a client stream back into a reply with the client format's own reader.
fn read_back(format: Format, bytes: &[u8]) -> Reply {
    let mut decoder = sse::Decoder::new();
    let mut events = Vec::new();
    decoder.feed(bytes, &mut events);
    decoder.finish(&mut events);
    match format {
        Format::OpenAiChat => {
            let mut acc = openai::StreamAccumulator::new();
            events.iter().for_each(|e| acc.event(e));
            acc.finish().expect("complete chat stream")
        }
        Format::Anthropic => {
            let mut acc = anthropic::StreamAccumulator::new();
            events.iter().for_each(|e| acc.event(e));
            acc.finish().expect("complete messages stream")
        }
        Format::Responses => {
            responses::reply_from_final_event(events.last().unwrap()).expect("final response")
        }
        Format::Gemini => {
            let chunks: Vec<Value> = events
                .iter()
                .map(|e| serde_json::from_str(&e.data).unwrap())
                .collect();
            gemini::parse_chunks(&chunks).expect("gemini chunks")
        }
        Format::Native | Format::CloudCode => unreachable!("no translated stream in this format"),
    }
}

fn same_content(a: &Reply, b: &Reply) {
    assert_eq!(a.choices[0].parts, b.choices[0].parts);
    assert_eq!(a.choices[0].finish, b.choices[0].finish);
}

/// Gemini has no call ids (the name stands in) and one `STOP` for ends and tool calls.
fn same_gemini_content(gemini: &Reply, reply: &Reply) {
    let strip = |parts: &[Part]| -> Vec<Part> {
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
                other => other.clone(),
            })
            .collect()
    };
    assert_eq!(gemini.choices[0].parts, strip(&reply.choices[0].parts));
    assert_eq!(gemini.choices[0].finish, reply.choices[0].finish);
}

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
            for client in [
                Format::OpenAiChat,
                Format::Anthropic,
                Format::Responses,
                Format::Gemini,
            ] {
                let mut t = Translator::new(provider, client, true).unwrap();
                let mut out = Vec::new();
                // Feed in small slices, as a network would.
                for piece in provider_sse(provider, reply).chunks(7) {
                    t.feed(piece, &mut out);
                }
                let cached = t.finish(&mut out).expect("a complete reply for the cache");
                match provider {
                    Family::Gemini => same_gemini_content(&cached, reply),
                    _ => same_content(&cached, reply),
                }
                assert_eq!(cached.usage.output_tokens, 8, "{provider:?} -> {client:?}");
                let back = read_back(client, &out.concat());
                match (provider, client) {
                    (Family::Gemini, _) | (_, Format::Gemini) => same_gemini_content(&back, reply),
                    _ => same_content(&back, reply),
                }
            }
        }
    }
}

#[test]
fn output_arrives_before_the_provider_finishes() {
    let reply = sample(vec![Part::text("streaming text")], FinishReason::Stop);
    let sse = provider_sse(Family::Anthropic, &reply);
    let cut = sse.len() / 2;
    let mut t = Translator::new(Family::Anthropic, Format::OpenAiChat, false).unwrap();
    let mut out = Vec::new();
    t.feed(&sse[..cut], &mut out);
    assert!(
        !out.is_empty(),
        "the first half already produced client events"
    );
    assert!(!out.concat().ends_with(b"data: [DONE]\n\n"));
}

#[test]
fn a_stream_cut_short_is_not_complete() {
    let reply = sample(vec![Part::text("half an answer")], FinishReason::Stop);
    let sse = provider_sse(Family::OpenAi, &reply);
    let mut t = Translator::new(Family::OpenAi, Format::Anthropic, false).unwrap();
    let mut out = Vec::new();
    t.feed(&sse[..sse.len() / 3], &mut out);
    assert!(t.finish(&mut out).is_none());
    assert!(Translator::new(Family::OpenAi, Format::Native, false).is_none());
}
