//! Seeing into and steering the caches (`isartor cache …` over the control socket, and
//! `/admin/cache/…` over HTTP): listing with metadata, forgetting an answer everywhere it is
//! stored, clearing, explaining a miss, export → import between two daemons, and shadow mode.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use isartor::config::{CacheMode, Config, Secret, SemanticMode};
use isartor::control::client::Subscription;
use isartor::control::{Command, Message};
use isartor::daemon::Daemon;
use isartor::pipeline::manage::{CacheCommand, Forgotten, Imported, Listing, Target};
use isartor::pipeline::misses::Why;
use serde_json::{Value, json};

/// A daemon with its control socket served in a directory of its own.
struct Controlled {
    daemon: Daemon,
    base: String,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

async fn controlled(mock: &Mock, tweak: impl FnOnce(&mut Config)) -> Controlled {
    let (daemon, base) = daemon(mock, tweak).await;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("isartor.sock");
    daemon.serve_control(&socket).unwrap();
    Controlled {
        daemon,
        base,
        socket,
        _dir: dir,
    }
}

/// Runs a cache command over the control socket.
async fn cache(socket: &Path, command: CacheCommand) -> Result<Value, String> {
    let mut sub = Subscription::connect(socket).await.unwrap();
    match sub
        .ask(Command::Cache { command }, Duration::from_secs(30))
        .await
        .unwrap()
    {
        Message::Cache {
            answer: Some(a), ..
        } => Ok(a),
        Message::Cache { error: Some(e), .. } => Err(e),
        other => panic!("not a cache answer: {other:?}"),
    }
}

async fn ls(socket: &Path) -> Vec<Listing> {
    let answer = cache(
        socket,
        CacheCommand::Ls {
            limit: 100,
            client: None,
        },
    )
    .await
    .unwrap();
    serde_json::from_value(answer).unwrap()
}

async fn forget(socket: &Path, target: Target) -> Forgotten {
    serde_json::from_value(
        cache(socket, CacheCommand::Forget { target })
            .await
            .unwrap(),
    )
    .unwrap()
}

async fn clear(socket: &Path, exact: bool, semantic: bool) -> Forgotten {
    let answer = cache(socket, CacheCommand::Clear { exact, semantic }).await;
    serde_json::from_value(answer.unwrap()).unwrap()
}

/// Asks `prompt` as curl would; the layer that answered and the answer.
async fn ask(base: &str, prompt: &str) -> (String, String) {
    ask_with(base, chat(prompt)).await
}

async fn ask_with(base: &str, body: Value) -> (String, String) {
    let (status, h, body) = post_raw(
        base,
        "/v1/chat/completions",
        Bytes::from(body.to_string()),
        &[("user-agent", "curl/8.5.0")],
    )
    .await;
    assert_eq!(status, 200, "{body:?}");
    let answer = as_json(&body)["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (layer(&h).to_string(), answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_shows_what_each_entry_is_and_forget_and_clear_remove_them() {
    let mock = Mock::start().await;
    let c = controlled(&mock, |_| {}).await;
    assert_eq!(ask(&c.base, "first question").await.0, "l3");
    assert_eq!(ask(&c.base, "second question").await.0, "l3");
    assert_eq!(ask(&c.base, "second question").await.0, "l1a");

    let entries = ls(&c.socket).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let second = &entries[0];
    assert_eq!(second.preview, "second question", "newest first");
    assert_eq!(
        (
            second.kind.as_str(),
            second.layer.as_str(),
            second.model.as_str(),
            second.client.as_str(),
            second.hits
        ),
        ("exact", "L3", "gpt-4o-mini", "curl", 1)
    );
    assert!(second.size > 0 && second.ttl_secs > 290 && second.ttl_secs <= 300);
    assert_eq!(
        (entries[1].preview.as_str(), entries[1].hits),
        ("first question", 0)
    );
    let only_curl = cache(
        &c.socket,
        CacheCommand::Ls {
            limit: 1,
            client: Some("curl".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(only_curl.as_array().unwrap().len(), 1);

    // A short or ambiguous prefix is refused; a unique one forgets exactly that entry.
    let refused = cache(
        &c.socket,
        CacheCommand::Forget {
            target: Target::Prefix("ab".into()),
        },
    )
    .await
    .unwrap_err();
    assert!(refused.contains("at least 6 hex characters"), "{refused}");
    let gone = forget(&c.socket, Target::Prefix(second.key[..10].to_string())).await;
    assert_eq!((gone.exact, gone.semantic), (1, 0));
    assert_eq!(ask(&c.base, "second question").await.0, "l3", "forgotten");

    // By the prompt, and the last request's answer.
    let gone = forget(&c.socket, Target::Prompt("first question".into())).await;
    assert_eq!(gone.exact, 1);
    assert_eq!(ask(&c.base, "first question").await.0, "l3");
    assert_eq!(forget(&c.socket, Target::Last).await.exact, 1);
    assert_eq!(ask(&c.base, "first question").await.0, "l3");

    let cleared: Forgotten = clear(&c.socket, false, false).await;
    assert_eq!(cleared.exact, 2);
    assert!(ls(&c.socket).await.is_empty());
    assert_eq!(mock.count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn why_names_the_per_run_line_of_a_system_prompt() {
    let mock = Mock::start().await;
    let c = controlled(&mock, |_| {}).await;
    let run = |id: &str| {
        json!({"model": "gpt-4o-mini", "messages": [
            {"role": "system", "content": format!("You are a coding agent.\nRun id: {id}\nBe brief.")},
            {"role": "user", "content": "list the files"}]})
    };
    assert_eq!(ask_with(&c.base, run("7f3a1")).await.0, "l3");
    assert_eq!(ask(&c.base, "something else entirely").await.0, "l3");
    assert_eq!(ask_with(&c.base, run("9c2e4")).await.0, "l3");

    let why: Why =
        serde_json::from_value(cache(&c.socket, CacheCommand::Why { n: 1 }).await.unwrap())
            .unwrap();
    let first = ls(&c.socket)
        .await
        .into_iter()
        .find(|e| e.preview == "list the files" && e.age_secs < 60 && e.key != why.key)
        .unwrap();
    assert_eq!(why.nearest.as_deref(), Some(first.key.as_str()));
    assert_eq!(why.differences.len(), 1, "{why:?}");
    let d = &why.differences[0];
    assert_eq!(d.part, "system prompt");
    assert_eq!(
        (d.cached.as_slice(), d.this.as_slice()),
        (
            &["Run id: 7f3a1".to_string()][..],
            &["Run id: 9c2e4".to_string()][..]
        )
    );

    // The second miss back has nothing cached before it that resembles it.
    let why: Why =
        serde_json::from_value(cache(&c.socket, CacheCommand::Why { n: 2 }).await.unwrap())
            .unwrap();
    assert_eq!(why.preview, "something else entirely");
    let too_far = cache(&c.socket, CacheCommand::Why { n: 9 })
        .await
        .unwrap_err();
    assert!(too_far.contains("only 3 recent misses"), "{too_far}");
}

async fn semantic(mock: &Mock, tweak: impl FnOnce(&mut Config)) -> Controlled {
    let c = controlled(mock, |c| {
        c.cache_mode = CacheMode::Both;
        tweak(c);
    })
    .await;
    assert_eq!(semantic_ready(&c.base).await["status"], "ready");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_a_semantic_answer_takes_its_exact_copies_with_it() {
    let mock = Mock::start().await;
    let c = semantic(&mock, |_| {}).await;
    let (layer, stored) = ask(&c.base, "What is the capital of France?").await;
    assert_eq!(layer, "l3");
    let (layer, served) = ask(&c.base, "Tell me France's capital city").await;
    assert_eq!((layer.as_str(), served.as_str()), ("l1b", stored.as_str()));
    // The paraphrase now has an exact copy of the semantic answer.
    assert_eq!(ask(&c.base, "Tell me France's capital city").await.0, "l1a");
    let entries = ls(&c.socket).await;
    let kinds: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.kind.as_str(), e.layer.as_str()))
        .collect();
    assert_eq!(kinds.len(), 3, "{entries:?}");
    assert!(kinds.contains(&("exact", "L1b")) && kinds.contains(&("semantic", "L3")));
    let copy = entries.iter().find(|e| e.layer == "L1b").unwrap();
    assert_eq!(copy.hits, 1);

    let gone = forget(
        &c.socket,
        Target::Prompt("What is the capital of France?".into()),
    )
    .await;
    assert_eq!(
        (gone.exact, gone.semantic),
        (2, 1),
        "its exact entry and the copy"
    );
    let (layer, fresh) = ask(&c.base, "Tell me France's capital city").await;
    assert_eq!(layer, "l3", "the copy went with its source");
    assert_ne!(fresh, stored);

    // Clearing the semantic layer alone takes the copies too, and leaves other exact entries.
    assert_eq!(
        ask(&c.base, "Which city is the capital of France?").await.0,
        "l1b"
    );
    let cleared: Forgotten = clear(&c.socket, false, true).await;
    assert_eq!((cleared.exact, cleared.semantic), (1, 1));
    let left = ls(&c.socket).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].preview, "Tell me France's capital city");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_cache_serves_another_daemon_with_no_upstream_call() {
    let mock = Mock::start().await;
    let a = semantic(&mock, |_| {}).await;
    let (_, stored) = ask(&a.base, "What is the capital of France?").await;
    let lines: Vec<String> =
        serde_json::from_value(cache(&a.socket, CacheCommand::Export).await.unwrap()).unwrap();
    assert_eq!(
        lines.len(),
        3,
        "a header, the exact entry and the semantic one"
    );
    let header: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(header["kind"], "header");
    assert!(
        header["embedding_model"]
            .as_str()
            .unwrap()
            .contains("MiniLM")
    );

    let other = Mock::start().await;
    let b = semantic(&other, |_| {}).await;
    let imported: Imported = serde_json::from_value(
        cache(
            &b.socket,
            CacheCommand::Import {
                lines: lines.clone(),
            },
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (imported.taken, imported.skipped.len()),
        (2, 0),
        "{imported:?}"
    );
    assert_eq!(
        ask(&b.base, "What is the capital of France?").await,
        ("l1a".to_string(), stored.clone())
    );
    assert_eq!(
        ask(&b.base, "Tell me France's capital city").await,
        ("l1b".to_string(), stored)
    );
    assert_eq!(other.count(), 0, "no upstream call");

    // Entries of another key version or embedding model are skipped, and counted.
    let mut foreign = lines.clone();
    foreign[0] = foreign[0].replace("isartor-key-v1", "isartor-key-v0");
    let skipped: Imported = serde_json::from_value(
        cache(&b.socket, CacheCommand::Import { lines: foreign })
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(skipped.taken, 0);
    assert_eq!(skipped.skipped["another key version"], 2);
    let mut other_model = lines;
    let mut h: Value = serde_json::from_str(&other_model[0]).unwrap();
    h["embedding_model"] = json!("BAAI/bge-small-en-v1.5");
    other_model[0] = h.to_string();
    let skipped: Imported = serde_json::from_value(
        cache(&b.socket, CacheCommand::Import { lines: other_model })
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        skipped.taken, 1,
        "the exact entry does not depend on the model"
    );
    assert_eq!(skipped.skipped["another embedding model"], 1);
    drop((a.daemon, b.daemon));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_need_the_gateway_key() {
    let mock = Mock::start().await;
    let (_open, base) = daemon(&mock, |_| {}).await;
    let (status, body) = get_json(&base, "/admin/cache/ls", None).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gateway_api_key")
    );

    let (_d, base) = daemon(&mock, |c| c.gateway_api_key = Secret("gw-key".into())).await;
    let key = ("x-api-key", "gw-key");
    let asked = post_raw(
        &base,
        "/v1/chat/completions",
        Bytes::from(chat("admin me").to_string()),
        &[key],
    )
    .await;
    assert_eq!(asked.0, 200);
    let (status, _) = get_json(&base, "/admin/cache/ls", None).await;
    assert_eq!(status, 401, "the key is checked first");
    let (status, listed) = get_json(&base, "/admin/cache/ls?limit=5", Some(key)).await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["preview"], "admin me");
    let (status, _) = get_json(&base, "/admin/cache/ls?limit=many", Some(key)).await;
    assert_eq!(status, 400);

    let export = client()
        .get(format!("{base}/admin/cache/export"))
        .header(key.0, key.1)
        .send()
        .await
        .unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let export = export.bytes().await.unwrap();
    assert_eq!(
        export
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        2
    );

    let (status, _, body) = post_raw(
        &base,
        "/admin/cache/forget",
        Bytes::from(r#"{"prompt":"admin me"}"#),
        &[key],
    )
    .await;
    assert_eq!(
        (status.as_u16(), as_json(&body)["exact"].as_u64()),
        (200, Some(1))
    );
    let (status, _, _) = post_raw(
        &base,
        "/admin/cache/forget",
        Bytes::from(r#"{"last":true,"prompt":"x"}"#),
        &[key],
    )
    .await;
    assert_eq!(status, 400, "exactly one target");
    let (status, _, body) = post_raw(&base, "/admin/cache/import", export, &[key]).await;
    assert_eq!(
        (status.as_u16(), as_json(&body)["taken"].as_u64()),
        (200, Some(1))
    );
    let (status, _, body) =
        post_raw(&base, "/admin/cache/clear?only=exact", Bytes::new(), &[key]).await;
    assert_eq!(
        (status.as_u16(), as_json(&body)["exact"].as_u64()),
        (200, Some(1))
    );
    let (status, _) = get_json(&base, "/admin/cache/clear", Some(key)).await;
    assert_eq!(status, 405);
    let (status, _) = get_json(&base, "/admin/cache/nothing", Some(key)).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_mode_serves_nothing_and_counts_what_it_would_have_served() {
    let mock = Mock::start().await;
    let c = semantic(&mock, |c| c.semantic_mode = SemanticMode::Shadow).await;
    assert_eq!(ask(&c.base, "What is the capital of France?").await.0, "l3");
    assert_eq!(ask(&c.base, "Tell me France's capital city").await.0, "l3");
    assert_eq!(
        ask(&c.base, "Tell me France's capital city").await.0,
        "l1a",
        "exact still serves"
    );
    assert_eq!(mock.count(), 2);
    let judged = async {
        loop {
            let s = c.daemon.bus().snapshot().shadow;
            if s.pending == 0 && s.would_serve > 0 {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let s = tokio::time::timeout(Duration::from_secs(20), judged)
        .await
        .unwrap();
    // The mock's answers number themselves, so they are never the same text.
    assert_eq!((s.would_serve, s.identical), (1, 0));
    let metrics = get_text(&c.base, "/metrics").await;
    let outcome = if s.agreed == 1 { "similar" } else { "differs" };
    assert!(
        metrics.contains(&format!(
            "isartor_semantic_shadow_total{{outcome=\"{outcome}\"}} 1"
        )),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_on_one_replica_forgets_for_every_replica() {
    use crate::redis::{Redis, semantic_entries, shared};
    let redis = Redis::start().await;
    let mock = Mock::start().await;
    let both = |url: String| {
        move |c: &mut Config| {
            shared(url)(c);
            c.cache_mode = CacheMode::Both;
        }
    };
    let a = semantic(&mock, both(redis.url())).await;
    let b = semantic(&mock, both(redis.url())).await;
    let (_, stored) = ask(&a.base, "What is the capital of France?").await;
    semantic_entries(&b.base, 1).await;
    assert_eq!(
        ask(&b.base, "What is the capital of France?").await,
        ("l1a".to_string(), stored.clone())
    );
    let listed = ls(&b.socket).await;
    assert_eq!(
        listed.len(),
        2,
        "B lists the shared exact entry and the semantic one"
    );
    // The hit B served is counted for every replica.
    for socket in [&a.socket, &b.socket] {
        let exact = ls(socket).await.into_iter().find(|e| e.kind == "exact");
        assert_eq!(exact.unwrap().hits, 1);
    }

    let gone = forget(
        &a.socket,
        Target::Prompt("What is the capital of France?".into()),
    )
    .await;
    assert_eq!((gone.exact, gone.semantic), (1, 1));
    // B drops the semantic entry when the tombstone arrives; the exact one was in Redis.
    semantic_entries(&b.base, 0).await;
    let (layer, fresh) = ask(&b.base, "Tell me France's capital city").await;
    assert_eq!(
        layer, "l3",
        "neither the exact nor the semantic entry is left"
    );
    assert_ne!(fresh, stored);

    // Clearing on B empties A's index too.
    semantic_entries(&a.base, 1).await;
    let cleared: Forgotten = clear(&b.socket, false, false).await;
    assert_eq!((cleared.exact, cleared.semantic), (1, 1));
    semantic_entries(&a.base, 0).await;
    assert!(ls(&a.socket).await.is_empty());
    redis.stop().await;
}
