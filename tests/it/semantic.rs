//! The semantic cache (L1b) with the real MiniLM embedder (fetched by scripts/fetch-models.sh
//! into the Hugging Face cache) in the real daemon against a mock upstream: paraphrases hit,
//! near-misses of every kind go upstream, contexts and tenants are kept apart, entries expire and
//! are evicted, and a missing model leaves the daemon serving without L1b.

use crate::common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use isartor::config::{CacheMode, Config, Secret};
use serde_json::{Value, json};

async fn semantic(
    mock: &Mock,
    tweak: impl FnOnce(&mut Config),
) -> (isartor::daemon::Daemon, String) {
    let (d, base) = daemon(mock, |c| {
        c.cache_mode = CacheMode::Both;
        tweak(c);
    })
    .await;
    let l1b = semantic_ready(&base).await;
    assert_eq!(l1b["status"], "ready", "{l1b}");
    (d, base)
}

fn answer(body: &Bytes) -> String {
    as_json(body)["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn similarity(h: &http::HeaderMap) -> f32 {
    h["x-isartor-similarity"].to_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paraphrase_is_served_the_stored_answer() {
    let mock = Mock::start().await;
    let (d, base) = semantic(&mock, |_| {}).await;
    let mut events = d.bus().subscribe();
    let (_, h, first) = post(
        &base,
        "/v1/chat/completions",
        &chat("What is the capital of France?"),
    )
    .await;
    assert_eq!(layer(&h), "l3");
    let (status, h, body) = post(
        &base,
        "/v1/chat/completions",
        &chat("Tell me France's capital city"),
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l1b"));
    assert_eq!(h["x-isartor-deflected"], "true");
    let score = similarity(&h);
    assert!((0.85..1.0).contains(&score), "{score}");
    assert_eq!(answer(&body), answer(&first));
    assert_eq!(answer(&body), "echo #1: What is the capital of France?");
    assert_eq!(mock.count(), 1);
    // The hit was promoted into the exact cache: the same words again are an L1a hit.
    let (_, h, body) = post(
        &base,
        "/v1/chat/completions",
        &chat("Tell me France's capital city"),
    )
    .await;
    assert_eq!(layer(&h), "l1a");
    assert_eq!(answer(&body), "echo #1: What is the capital of France?");

    // The event records the layer and the score; the tokens of the reused answer were saved.
    let _ = events.recv().await.unwrap();
    let hit = events.recv().await.unwrap();
    let _ = events.recv().await.unwrap();
    assert_eq!(hit.layer, Some(isartor::telemetry::Layer::L1b));
    let l1b = hit
        .layers
        .iter()
        .find(|t| t.layer == isartor::telemetry::Layer::L1b)
        .unwrap();
    assert!((l1b.score.unwrap() - score).abs() < 1e-4, "{l1b:?}");
    assert_eq!(hit.tokens_saved, 18);

    // Streamed, the same hit comes as SSE.
    let mut req = chat("Tell me France's capital city, please");
    req["stream"] = json!(true);
    let (_, h, body) = post(&base, "/v1/chat/completions", &req).await;
    assert_eq!(layer(&h), "l1b");
    let (text, done) = sse_text(&body);
    assert_eq!(
        (text.as_str(), done),
        ("echo #1: What is the capital of France?", true)
    );

    // An unrelated question goes upstream.
    let (_, h, _) = post(
        &base,
        "/v1/chat/completions",
        &chat("How do I reverse a list in Python?"),
    )
    .await;
    assert_eq!(layer(&h), "l3");
    let (_, health) = get_json(&base, "/health", None).await;
    assert_eq!(health["layers"]["l1b"]["status"], "ready");
    assert!(
        health["layers"]["l1b"]["detail"]
            .as_str()
            .unwrap()
            .contains("2 entries"),
        "{health}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_misses_of_every_kind_go_upstream() {
    let mock = Mock::start().await;
    let (_d, base) = semantic(&mock, |_| {}).await;
    let traps = [
        (
            "negation",
            "How do I make curl follow redirects?",
            "How do I make curl not follow redirects?",
        ),
        (
            "number",
            "Set Postgres max_connections to 500",
            "Set Postgres max_connections to 200",
        ),
        (
            "date unit",
            "git log: show commits from the last 2 weeks",
            "git log: show commits from the last 2 days",
        ),
        (
            "technology",
            "Build a React app for production with Vite",
            "Build a React app for production with webpack",
        ),
        (
            "identifier",
            "Add a --verbose flag to my argparse script",
            "Add a --dry-run flag to my argparse script",
        ),
        (
            "code",
            "git: what does `HEAD^2` refer to?",
            "git: what does `HEAD~2` refer to?",
        ),
        (
            "direction",
            "sort a list of numbers in ascending order in Python",
            "sort a list of numbers in descending order in Python",
        ),
        (
            "reversed",
            "vim: convert tabs to spaces",
            "vim: convert spaces to tabs",
        ),
        (
            "scope",
            "Write an Alembic migration that adds a `last_login` column to users",
            "Write an Alembic migration that adds a `last_login` column to users and backfills it from the sessions table",
        ),
    ];
    for (kind, stored, new) in traps {
        let (_, h, _) = post(&base, "/v1/chat/completions", &chat(stored)).await;
        assert_eq!(layer(&h), "l3", "{kind}: {stored}");
        let before = mock.count();
        let (_, h, body) = post(&base, "/v1/chat/completions", &chat(new)).await;
        assert_eq!(
            layer(&h),
            "l3",
            "{kind}: {new:?} was served {stored:?}'s answer"
        );
        assert_eq!(mock.count(), before + 1);
        assert!(answer(&body).ends_with(new));
    }
    // The candidates that reached the guard are counted by the rule that refused them.
    let metrics = get_text(&base, "/metrics").await;
    let refused: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("isartor_semantic_guard_refusals_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(refused >= 5, "{metrics}");
    assert!(
        metrics.contains(r#"isartor_semantic_guard_refusals_total{rule="negation"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_system_prompt_model_format_or_tenant_is_another_context() {
    let mock = Mock::start().await;
    let (_d, base) = semantic(&mock, |c| c.external_llm_api_key = Secret::default()).await;
    let ask = |system: &str, model: &str, prompt: &str| {
        json!({"model": model, "messages": [
            {"role": "system", "content": system}, {"role": "user", "content": prompt}]})
    };
    let key_a = [("authorization", "Bearer sk-tenant-a")];
    let key_b = [("authorization", "Bearer sk-tenant-b")];
    let send = |body: Value, key: [(&'static str, &'static str); 1]| {
        let base = base.clone();
        async move {
            let (_, h, _) = post_raw(
                &base,
                "/v1/chat/completions",
                Bytes::from(body.to_string()),
                &key,
            )
            .await;
            layer(&h).to_string()
        }
    };
    let stored = ask(
        "You are terse.",
        "gpt-4o-mini",
        "What is the capital of France?",
    );
    let paraphrase = |system, model| ask(system, model, "Tell me France's capital city");
    assert_eq!(send(stored, key_a).await, "l3");
    assert_eq!(
        send(paraphrase("You are terse.", "gpt-4o-mini"), key_a).await,
        "l1b"
    );
    assert_eq!(
        send(paraphrase("You are verbose.", "gpt-4o-mini"), key_a).await,
        "l3"
    );
    assert_eq!(
        send(paraphrase("You are terse.", "gpt-4o"), key_a).await,
        "l3"
    );
    assert_eq!(
        send(paraphrase("You are terse.", "gpt-4o-mini"), key_b).await,
        "l3"
    );
    // The same question in the Anthropic format is another namespace.
    let (_, h, _) = post_raw(
        &base,
        "/v1/messages",
        Bytes::from(
            json!({"model": "gpt-4o-mini", "max_tokens": 64, "system": "You are terse.",
                "messages": [{"role": "user", "content": "Tell me France's capital city"}]})
            .to_string(),
        ),
        &key_a,
    )
    .await;
    assert_eq!(layer(&h), "l3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_expire_and_the_least_recently_used_is_evicted() {
    let mock = Mock::start().await;
    // Semantic only, so the exact cache cannot answer the repeats.
    let (_d, base) = semantic(&mock, |c| {
        c.cache_mode = CacheMode::Semantic;
        c.cache_ttl_secs = 2;
        c.cache_max_capacity = 2;
    })
    .await;
    let ask = |prompt: &'static str| {
        let base = base.clone();
        async move { layer(&post(&base, "/v1/chat/completions", &chat(prompt)).await.1).to_string() }
    };
    assert_eq!(ask("What is the capital of France?").await, "l3");
    assert_eq!(ask("How do I reverse a list in Python?").await, "l3");
    // Use France, so the list entry is the least recently used when a third one arrives.
    assert_eq!(ask("What is the capital of France?").await, "l1b");
    assert_eq!(ask("Explain the event loop in Node.js").await, "l3");
    assert_eq!(
        ask("How do I reverse a list in Python?").await,
        "l3",
        "evicted"
    );
    assert_eq!(ask("Explain the event loop in Node.js").await, "l1b");

    let expired = Instant::now() + Duration::from_millis(2100);
    while Instant::now() < expired {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        ask("Explain the event loop in Node.js").await,
        "l3",
        "expired"
    );
    let (_, health) = get_json(&base, "/health", None).await;
    assert_eq!(health["layers"]["l1a"]["status"], "disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_model_leaves_the_daemon_serving_without_l1b() {
    let mock = Mock::start().await;
    // A directory without the model's files, and one whose weights are not a model.
    let empty = tempfile::tempdir().unwrap();
    let corrupt = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(corrupt.path().join(f), b"{not a model").unwrap();
    }
    for (dir, needle) in [
        (&empty, "config.json is missing"),
        (&corrupt, "not a BERT config"),
    ] {
        let (_d, base) = daemon(&mock, |c| {
            c.cache_mode = CacheMode::Both;
            c.embedding_model = dir.path().to_str().unwrap().to_string();
        })
        .await;
        let l1b = semantic_ready(&base).await;
        assert_eq!(l1b["status"], "failed", "{l1b}");
        assert!(l1b["detail"].as_str().unwrap().contains(needle), "{l1b}");
        for expected in ["l3", "l1a"] {
            let (status, h, _) = post(&base, "/v1/chat/completions", &chat("still works")).await;
            assert_eq!((status.as_u16(), layer(&h)), (200, expected));
        }
    }
}

/// A stand-in OpenAI-compatible embeddings server: bag-of-words vectors (32 dims). With `slow`
/// set it answers after 3 s. Returns its URL and the models it was asked for.
async fn embeddings_server(
    slow: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::sync::atomic::Ordering;
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    let addr = serve(move |_path, body| {
        let (slow, seen) = (slow.clone(), seen.clone());
        async move {
            if slow.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            seen.lock()
                .unwrap()
                .push(request["model"].as_str().unwrap_or("").to_string());
            let mut v = vec![0.0f32; 32];
            for word in request["input"].as_str().unwrap_or("").split_whitespace() {
                let h = word
                    .to_lowercase()
                    .bytes()
                    .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
                v[(h % 32) as usize] += 1.0;
            }
            let body = json!({"object": "list", "model": "mock-embed",
                "data": [{"object": "embedding", "index": 0, "embedding": v}]});
            http::Response::new(http_body_util::Full::new(Bytes::from(body.to_string())))
        }
    })
    .await;
    (format!("http://{addr}/v1/embeddings"), asked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedding_sidecar_serves_l1b_and_its_failures_fail_open() {
    use std::sync::atomic::Ordering;
    let slow = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (url, asked) = embeddings_server(slow.clone()).await;
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.cache_mode = CacheMode::Semantic;
        c.embedding_sidecar.sidecar_url = url;
        c.embedding_sidecar.model_name = "mock-embed".into();
        c.embedding_sidecar.timeout_seconds = 1;
    })
    .await;
    let l1b = semantic_ready(&base).await;
    assert_eq!(l1b["status"], "ready", "{l1b}");
    assert!(
        l1b["detail"]
            .as_str()
            .unwrap()
            .starts_with("sidecar:mock-embed"),
        "{l1b}"
    );
    let prompt = "How do I sort a list in Python by a key?";
    let (_, h, first) = post(&base, "/v1/chat/completions", &chat(prompt)).await;
    assert_eq!(layer(&h), "l3");
    let (_, h, again) = post(&base, "/v1/chat/completions", &chat(prompt)).await;
    assert_eq!(layer(&h), "l1b", "embedded by the sidecar and found");
    assert!(similarity(&h) > 0.99);
    assert_eq!(answer(&again), answer(&first));
    assert!(asked.lock().unwrap().iter().all(|m| m == "mock-embed"));
    // A sidecar slower than its timeout: the request skips L1b and is answered by the cloud.
    slow.store(true, Ordering::Relaxed);
    let (status, h, _) = post(&base, "/v1/chat/completions", &chat("a new question")).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let metrics = get_text(&base, "/metrics").await;
    assert!(
        metrics.contains(r#"isartor_cache_events_total{cache_layer="L1b",outcome="degraded"} 1"#),
        "{metrics}"
    );
    assert_eq!(mock.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_that_is_down_leaves_l1b_waiting_and_requests_served() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, move |c| {
        c.cache_mode = CacheMode::Semantic;
        c.embedding_sidecar.sidecar_url = format!("http://127.0.0.1:{port}/v1/embeddings");
        c.embedding_sidecar.timeout_seconds = 1;
    })
    .await;
    let (_, health) = get_json(&base, "/health", None).await;
    assert_eq!(health["layers"]["l1b"]["status"], "loading", "{health}");
    assert!(
        health["layers"]["l1b"]["detail"]
            .as_str()
            .unwrap()
            .contains("waiting for the embedding sidecar"),
        "{health}"
    );
    for expected in ["l3", "l3"] {
        let (status, h, _) = post(&base, "/v1/chat/completions", &chat("still served")).await;
        assert_eq!((status.as_u16(), layer(&h)), (200, expected));
    }
}

/// MiniLM's files in the model cache.
async fn minilm_files() -> Vec<std::path::PathBuf> {
    use isartor::inference::models::{self, EMBEDDER_FILES, Source};
    models::resolve(
        &Source::parse("all-minilm-l6-v2"),
        &EMBEDDER_FILES,
        &models::hub_cache_dir(),
        true,
    )
    .await
    .expect("MiniLM is in the cache (scripts/fetch-models.sh)")
}

/// The 8-bit encoder against the same model with f32 weights: each text's two vectors point the
/// same way, and the similarities the threshold is compared with move by at most 0.02.
#[tokio::test]
async fn eight_bit_weights_keep_the_embeddings_of_the_f32_model() {
    use isartor::inference::embedder::Bert;
    use isartor::store::vectors::dot;
    let files = minilm_files().await;
    let (q8, f32) = tokio::task::spawn_blocking(move || {
        (
            Bert::load_with(&files, true).unwrap(),
            Bert::load_with(&files, false).unwrap(),
        )
    })
    .await
    .unwrap();
    let texts = [
        "What is the capital of France?",
        "Tell me France's capital city",
        "sort a list of numbers in ascending order in Python",
        "sort a list of numbers in descending order in Python",
        "My CI pipeline fails on the integration step because the Postgres container is not \
         ready when the tests start; the logs show connection refused on port 5432.",
        "git: what does `HEAD~2` refer to?",
    ];
    let a = q8.embed(&texts).unwrap();
    let b = f32.embed(&texts).unwrap();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(dot(x, y) > 0.995, "{}: {}", texts[i], dot(x, y));
    }
    for i in 0..texts.len() {
        for j in i + 1..texts.len() {
            let moved = (dot(&a[i], &a[j]) - dot(&b[i], &b[j])).abs();
            assert!(moved < 0.02, "{} / {}: {moved}", texts[i], texts[j]);
        }
    }
}

/// A text longer than `MAX_TOKENS` is embedded by its head and tail: two long texts that differ
/// only in the middle get the same vector (the guard, which reads whole texts, tells them apart),
/// and a different tail moves it.
#[tokio::test]
async fn a_long_text_is_embedded_by_its_head_and_tail() {
    use isartor::inference::embedder::{Bert, MAX_TOKENS};
    use isartor::store::vectors::dot;
    let files = minilm_files().await;
    let bert = tokio::task::spawn_blocking(move || Bert::load(&files).unwrap())
        .await
        .unwrap();
    let words = |w: &str| vec![w; MAX_TOKENS].join(" ");
    let (head, tail) = (words("pipeline"), words("container"));
    let text = |middle: &str, tail: &str| format!("{head} {middle} {tail}");
    let cats = text("the middle is about cats", &tail);
    let databases = text("the middle is about databases", &tail);
    let other_tail = text("the middle is about cats", &words("kernel"));
    let v = bert.embed(&[&cats, &databases, &other_tail]).unwrap();
    assert!(dot(&v[0], &v[1]) > 0.9999, "{}", dot(&v[0], &v[1]));
    assert!(dot(&v[0], &v[2]) < 0.99, "{}", dot(&v[0], &v[2]));
}

/// A model directory laid out by sentence-transformers with CLS pooling (as the BGE family is):
/// its `1_Pooling/config.json` is read, and the vector is the first token's state, not the mean.
#[tokio::test]
async fn the_pooling_a_sentence_transformer_names_is_used() {
    use isartor::inference::bert::Pooling;
    use isartor::inference::embedder::Bert;
    use isartor::store::vectors::dot;
    let files = minilm_files().await;
    let dir = tempfile::tempdir().unwrap();
    for f in &files {
        std::os::unix::fs::symlink(f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
    std::fs::write(
        dir.path().join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
    )
    .unwrap();
    let cls_files: Vec<_> = files
        .iter()
        .map(|f| dir.path().join(f.file_name().unwrap()))
        .collect();
    let (mean, cls) = tokio::task::spawn_blocking(move || {
        (Bert::load(&files).unwrap(), Bert::load(&cls_files).unwrap())
    })
    .await
    .unwrap();
    assert_eq!(
        (mean.pooling(), cls.pooling()),
        (Pooling::Mean, Pooling::Cls)
    );
    let text = ["How do I undo the last git commit but keep my changes?"];
    let (m, c) = (mean.embed(&text).unwrap(), cls.embed(&text).unwrap());
    assert!((dot(&c[0], &c[0]) - 1.0).abs() < 1e-4, "a unit vector");
    assert!(
        dot(&m[0], &c[0]) < 0.99,
        "the first token's state is not the mean"
    );
}

/// Two long prompts around one pasted document embed alike whatever their question: the guard
/// judges the questions on their own (rule `shared_text`), so another question goes to the
/// cloud and the same question in other casing and punctuation is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_document_does_not_make_different_questions_alike() {
    let mock = Mock::start().await;
    let (_d, base) = semantic(&mock, |_| {}).await;
    let doc = "Isartor configuration, excerpt. cache_mode chooses the caches: exact (a hash of \
        the canonical request), semantic (an embedding of the last user turn) or both (the \
        default). similarity_threshold is the cosine similarity a semantic candidate needs; a \
        guard then refuses candidates that differ in a number or a negation. cache_ttl_secs is \
        how long an answer is served; cache_max_capacity bounds the exact cache.";
    let ask = |q: &str| chat(&format!("{doc}\n\nQuestion: {q}"));
    let (_, h, _) = post(
        &base,
        "/v1/chat/completions",
        &ask("What does cache_mode both mean?"),
    )
    .await;
    assert_eq!(layer(&h), "l3");
    let other = ask("How long is a cached answer served?");
    let (_, h, _) = post(&base, "/v1/chat/completions", &other).await;
    assert_eq!(layer(&h), "l3", "another question about the same document");
    let (_, h, body) = post(
        &base,
        "/v1/chat/completions",
        &ask("what does cache_mode both mean"),
    )
    .await;
    assert_eq!(layer(&h), "l1b", "the same question, other casing");
    assert!(answer(&body).contains("What does cache_mode both mean?"));
    let metrics = get_text(&base, "/metrics").await;
    assert!(
        metrics.contains(r#"isartor_semantic_guard_refusals_total{rule="shared_text"} 1"#),
        "{metrics}"
    );
}
