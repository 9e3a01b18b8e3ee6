//! The exact-cache hot path, piece by piece: decoding and canonicalising a request into its key
//! (a short prompt and a 100 KB agent-style conversation), L1a get/insert, and rendering a
//! cached reply as JSON and as SSE. Run: `cargo bench --bench exact_cache`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use isartor::exchange::key::{CacheKey, exact_key};
use isartor::exchange::{Choice, FinishReason, Origin, Part, Reply, Surface, Usage, openai};
use isartor::store::ReplyStore;
use isartor::store::memory::MemoryStore;
use serde_json::json;

fn origin() -> Origin {
    Origin::new(Surface::Gateway, "bench")
}

fn small_body() -> Bytes {
    Bytes::from(
        json!({"model": "gpt-4o-mini", "temperature": 0.2,
            "messages": [{"role": "system", "content": "You are a helpful coding assistant."},
                         {"role": "user", "content": "How do I undo the last git commit but keep my changes?"}]})
        .to_string(),
    )
}

/// A coding-agent turn: a long system prompt, tools, and many earlier turns (~100 KB).
fn agent_body() -> Bytes {
    let mut messages = vec![json!({"role": "system", "content": "You are an agent. ".repeat(400)})];
    for i in 0..60 {
        messages.push(json!({"role": "user", "content": format!("step {i}: {}", "please edit src/main.rs ".repeat(30))}));
        messages.push(json!({"role": "assistant", "content": null, "tool_calls": [{"id": format!("call_{i}"),
            "type": "function", "function": {"name": "edit", "arguments": "{\"path\":\"src/main.rs\"}"}}]}));
        messages.push(json!({"role": "tool", "tool_call_id": format!("call_{i}"), "content": "ok ".repeat(100)}));
    }
    let tools: Vec<_> = (0..20)
        .map(|i| {
            json!({"type": "function", "function": {"name": format!("tool_{i}"),
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}})
        })
        .collect();
    Bytes::from(
        json!({"model": "gpt-4o", "messages": messages, "tools": tools, "stream": true})
            .to_string(),
    )
}

fn reply() -> Arc<Reply> {
    Arc::new(Reply {
        id: "chatcmpl-bench".into(),
        model: "gpt-4o-mini".into(),
        created: 1_700_000_000,
        choices: vec![Choice {
            index: 0,
            parts: vec![Part::text("Use `git reset --soft HEAD~1`: it undoes the commit and keeps your changes staged. ".repeat(4))],
            finish: Some(FinishReason::Stop),
        }],
        usage: Usage { input_tokens: 30, output_tokens: 80, ..Usage::default() },
        system_fingerprint: None,
    })
}

fn canonicalise(c: &mut Criterion) {
    let mut g = c.benchmark_group("canonicalise");
    for (name, body) in [("small", small_body()), ("agent_100kb", agent_body())] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("decode+key/{name}"), |b| {
            b.iter(|| exact_key(&openai::decode(body.clone(), origin()).unwrap()))
        });
        let ex = openai::decode(body.clone(), origin()).unwrap();
        g.bench_function(format!("key_only/{name}"), |b| b.iter(|| exact_key(&ex)));
        // What a miss adds for `isartor cache why` and the provider-cache sessions.
        g.bench_function(format!("miss_readable/{name}"), |b| {
            b.iter(|| isartor::exchange::key::readable(&ex))
        });
        g.bench_function(format!("prefix_fingerprint/{name}"), |b| {
            b.iter(|| isartor::exchange::key::prefix_fingerprint(&ex))
        });
    }
    g.finish();
}

fn l1a(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryStore::new(Duration::from_secs(300), 10_000);
    let keys: Vec<CacheKey> = (0..10_000u32)
        .map(|i| {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_le_bytes());
            CacheKey(k)
        })
        .collect();
    rt.block_on(async {
        for k in &keys {
            store
                .put(*k, reply(), Default::default(), None)
                .await
                .unwrap();
        }
    });
    let mut g = c.benchmark_group("l1a");
    let mut i = 0usize;
    g.bench_function("get_hit/10k_entries", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 7919) % keys.len();
            let k = keys[i];
            let store = &store;
            async move { store.get(&k).await.unwrap().unwrap() }
        })
    });
    let r = reply();
    let mut n = 0u32;
    g.bench_function("insert", |b| {
        b.to_async(&rt).iter(|| {
            n = n.wrapping_add(1);
            let mut k = [1u8; 32];
            k[..4].copy_from_slice(&n.to_le_bytes());
            let (store, r) = (&store, r.clone());
            async move {
                store
                    .put(CacheKey(k), r, Default::default(), None)
                    .await
                    .unwrap()
            }
        })
    });
    g.finish();
}

fn render(c: &mut Criterion) {
    let r = reply();
    let mut g = c.benchmark_group("render");
    g.bench_function("json", |b| b.iter(|| openai::render_json(&r)));
    g.bench_function("sse", |b| {
        b.iter(|| isartor::exchange::render_sse(isartor::exchange::Format::OpenAiChat, &r, true))
    });
    g.finish();
}

criterion_group!(benches, canonicalise, l1a, render);
criterion_main!(benches);
