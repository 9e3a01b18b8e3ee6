//! Fuzzing on the stable toolchain: proptest-driven loops over every request decoder, the SSE
//! parser and every stream decoder/encoder, reply parsing and rendering, the canonical key and
//! the config loader. Inputs are the seeds in `tests/data/fuzz/` mutated byte by byte, spliced
//! with each other, or JSON built from the formats' own field names. Each target must never
//! panic and must keep its invariants (a key is a pure function of the request; an SSE body
//! decodes the same however it is split; whatever parses renders back as valid JSON or SSE; the
//! semantic guard passes any text against itself).
//!
//! Each target runs `ISARTOR_FUZZ_SECS` seconds (default 2, what `cargo test` spends);
//! `scripts/fuzz.sh SECONDS` runs them long. A failure prints the shrunk input and its seed.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use isartor::config::Config;
use isartor::exchange::collect::Collector;
use isartor::exchange::key::{context_key, exact_key};
use isartor::exchange::stream::Translator;
use isartor::exchange::{
    self, Family, Format, Origin, Surface, anthropic, cloudcode, gemini, native, openai, responses,
    sse,
};
use isartor::pipeline::guard;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

/// Seconds each target runs.
fn budget() -> Duration {
    let secs = std::env::var("ISARTOR_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(2);
    Duration::from_secs(secs)
}

fn seeds(dir: &str) -> Vec<Vec<u8>> {
    let dir = Path::new("tests/data/fuzz").join(dir);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    out
}

/// Tokens worth splicing into any input.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"-1",
    b"1e400",
    b"0.5",
    b"\\u0000",
    b"\\ud800",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"data: ",
    b"event: ",
    b"[DONE]",
    b":",
    b"\xff",
    b"\xe2\x82",
    b"\"type\":",
    b"\"text\":",
    b"\"index\":",
    b"\"content\":",
    b"\"choices\":",
    b"\"delta\":",
    b"\"parts\":",
    b"\"messages\":",
    b"\"role\":",
];

/// One byte-level mutation.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Splice(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        (any::<usize>(), prop::sample::select(TOKENS))
            .prop_map(|(at, t)| Mutation::Insert(at, t.to_vec())),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
        (any::<usize>(), any::<usize>(), 1usize..128)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
}

fn apply(mut input: Vec<u8>, mutations: &[Mutation], other: &[u8]) -> Vec<u8> {
    for m in mutations {
        let len = input.len().max(1);
        match m {
            Mutation::Flip(at, b) if !input.is_empty() => input[at % len] ^= b | 1,
            Mutation::Flip(..) => {}
            Mutation::Insert(at, bytes) => {
                let at = at % (input.len() + 1);
                input.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete(at, n) if !input.is_empty() => {
                let at = at % len;
                let end = (at + n).min(input.len());
                input.drain(at..end);
            }
            Mutation::Duplicate(at, n) if !input.is_empty() => {
                let at = at % len;
                let end = (at + n).min(input.len());
                let piece = input[at..end].to_vec();
                input.splice(at..at, piece);
            }
            Mutation::Splice(at, from, n) if !other.is_empty() => {
                let at = at % (input.len() + 1);
                let from = from % other.len();
                let end = (from + n).min(other.len());
                input.splice(at..at, other[from..end].iter().copied());
            }
            _ => {}
        }
    }
    input
}

/// Field names of the formats, for JSON built from scratch.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "tools",
    "tool_choice",
    "system",
    "input",
    "instructions",
    "contents",
    "parts",
    "functionCall",
    "functionResponse",
    "args",
    "name",
    "id",
    "tool_calls",
    "function",
    "arguments",
    "tool_call_id",
    "tool_use_id",
    "stream",
    "max_tokens",
    "temperature",
    "stop",
    "generationConfig",
    "cache_control",
    "thinking",
    "signature",
    "choices",
    "delta",
    "index",
    "finish_reason",
    "usage",
    "candidates",
    "finishReason",
    "response",
    "request",
    "prompt",
    "output",
    "call_id",
    "refusal",
    "error",
    "message",
    "content_block",
    "stop_reason",
    "status",
    "item",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(FIELDS).prop_map(|s| Value::String(s.to_string())),
        "\\PC{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(FIELDS), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// Inputs for a target: a mutated seed, or JSON built from field names.
fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    let mutated = (0..n, 0..n, prop::collection::vec(mutation(), 0..8))
        .prop_map(move |(a, b, ms)| apply(seeds[a].clone(), &ms, &seeds[b]));
    prop_oneof![
        3 => mutated,
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// Runs `target` on generated inputs until the time budget is spent.
fn fuzz(name: &str, seeds_dir: &str, target: impl Fn(&[u8])) {
    let deadline = Instant::now() + budget();
    let strategy = inputs(seeds(seeds_dir));
    let mut rounds = 0u64;
    let seed: u64 = std::env::var("ISARTOR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    while Instant::now() < deadline || rounds == 0 {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&rounds.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key);
        let config = RunConfig {
            cases: 256,
            failure_persistence: None,
            ..RunConfig::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng);
        let result = runner.run(&strategy, |input| {
            target(&input);
            Ok(())
        });
        if let Err(e) = result {
            panic!("fuzz target {name} failed (ISARTOR_FUZZ_SEED={seed}, round {rounds}): {e}");
        }
        rounds += 1;
    }
    eprintln!("fuzz {name}: {} inputs", rounds * 256);
}

fn origin() -> Origin {
    Origin::new(Surface::Gateway, "t")
}

fn request_target(input: &[u8]) {
    let raw = Bytes::copy_from_slice(input);
    let decoded = [
        native::decode(raw.clone(), origin(), "m"),
        openai::decode(raw.clone(), origin()),
        anthropic::decode(raw.clone(), origin(), false),
        anthropic::decode(raw.clone(), origin(), true),
        responses::decode(raw.clone(), origin()),
        gemini::decode(raw.clone(), origin(), "gemini-2.5-flash", true),
        cloudcode::decode(raw, origin(), false),
    ];
    for exchange in decoded.into_iter().flatten() {
        // The key is a pure function of the request.
        let key = exact_key(&exchange);
        assert_eq!(key, exact_key(&exchange.clone()));
        let _ = context_key(&exchange);
        let _ = exchange.estimated_prompt_tokens();
        let _ = exchange.last_user_text();
        // Translation to every provider family must not panic either.
        let _ = openai::encode_request(&exchange, &exchange.model, true);
        let _ = anthropic::encode_request(&exchange, &exchange.model, true);
        let _ = gemini::encode_request(&exchange);
    }
}

const STREAM_FORMATS: [Format; 5] = [
    Format::OpenAiChat,
    Format::Anthropic,
    Format::Responses,
    Format::Gemini,
    Format::CloudCode,
];

fn events(input: &[u8], pieces: usize) -> Vec<sse::Event> {
    let mut decoder = sse::Decoder::new();
    let mut out = Vec::new();
    for chunk in input.chunks(pieces.max(1)) {
        decoder.feed(chunk, &mut out);
    }
    decoder.finish(&mut out);
    out
}

fn stream_target(input: &[u8]) {
    // An SSE body decodes the same however the network splits it.
    let whole = events(input, input.len());
    assert_eq!(whole, events(input, 1));
    assert_eq!(whole, events(input, 7));
    for format in STREAM_FORMATS {
        let mut collector = Collector::new(format, "text/event-stream");
        collector.feed(input);
        let _ = collector.finish();
    }
    for provider in [Family::OpenAi, Family::Anthropic, Family::Gemini] {
        for client in STREAM_FORMATS {
            let mut t = Translator::new(
                exchange::stream_decoder(provider.format()),
                exchange::stream_encoder(client, true).unwrap(),
            );
            let mut out = Vec::new();
            t.feed(input, &mut out);
            let reply = t.finish(&mut out);
            // Whatever went out is well-formed SSE whose data is JSON (or `[DONE]`).
            for e in events(&out.concat(), usize::MAX) {
                assert!(
                    e.data == "[DONE]" || serde_json::from_str::<Value>(&e.data).is_ok(),
                    "{provider:?} -> {client:?}: {:?}",
                    e.data
                );
            }
            if let Some(reply) = reply {
                assert!(reply.is_complete());
            }
        }
    }
}

fn reply_target(input: &[u8]) {
    for format in STREAM_FORMATS {
        if let Ok(reply) = exchange::parse_reply(format, input) {
            for out in STREAM_FORMATS {
                let json = exchange::render_json(out, &reply, 3);
                assert!(serde_json::from_slice::<Value>(&json).is_ok());
                let _ = exchange::render_sse(out, &reply, true);
            }
            let _ = exchange::render_json(Format::Native, &reply, 3);
        }
    }
}

/// Keys that would make the loader touch the machine (resolve a host name, read a file).
const WORLDLY: &[&str] = &["host_port", "proxy_port", "external_llm_api_key_file"];

fn config_target(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let text = match text.parse::<toml::Table>() {
        Ok(mut table) => {
            for key in WORLDLY {
                table.remove(*key);
            }
            if let Some(toml::Value::Array(providers)) = table.get_mut("fallback_providers") {
                for p in providers {
                    if let toml::Value::Table(p) = p {
                        p.remove("external_llm_api_key_file");
                    }
                }
            }
            table.to_string()
        }
        // Not TOML: the loader must say so, not panic.
        Err(_) => text.to_string(),
    };
    let _ = Config::parse(Some(&text), "fuzz.toml", Vec::new());
    // The same values as environment variables (the first line of the input as one).
    if let Some((k, v)) = text.lines().next().and_then(|l| l.split_once('=')) {
        let var = format!(
            "ISARTOR__{}",
            k.trim().to_ascii_uppercase().replace('.', "__")
        );
        if !WORLDLY
            .iter()
            .any(|w| var.contains(&w.to_ascii_uppercase()))
        {
            let _ = Config::parse(
                None,
                "",
                vec![(var, v.trim().trim_matches('"').to_string())],
            );
        }
    }
}

#[test]
fn fuzz_request_decoders_and_the_key() {
    fuzz("requests", "requests", request_target);
}

#[test]
fn fuzz_sse_and_stream_codecs() {
    fuzz("streams", "streams", stream_target);
}

#[test]
fn fuzz_reply_parsing_and_rendering() {
    fuzz("replies", "replies", reply_target);
}

/// The semantic guard on any two texts, in any script: never panics, and passes a text against
/// itself.
fn guard_target(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let half = text.chars().count() / 2;
    let cut = text.char_indices().nth(half).map_or(0, |(i, _)| i);
    let (a, b) = text.split_at(cut);
    let _ = guard::verify(a, b);
    let _ = guard::unmatched_words(a, b);
    let _ = guard::shared::differing_spans(a, b);
    assert_eq!(guard::verify(a, a), Ok(()), "{a:?}");
}

#[test]
fn fuzz_the_semantic_guard() {
    fuzz("prompts", "prompts", guard_target);
}

#[test]
fn fuzz_config_loader() {
    fuzz("config", "config", config_target);
}
