//! Model files through the Hub protocol: the real `isartor up` (a child process, so `HF_ENDPOINT`
//! and the cache directory are its own) against a mock Hub on loopback that serves the embedder's
//! files from the local cache. A missing model is downloaded into the Hugging Face cache layout;
//! a filled cache is used with no Hub at all; a model the Hub does not have leaves L1b off with a
//! message and the daemon serving.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use isartor::inference::models::{EMBEDDER_FILES, hub_cache_dir};
use serde_json::Value;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_isartor");
const REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// A Hub that serves `REPO`'s files from `source` at commit `mock-commit`; records the paths.
async fn mock_hub(source: PathBuf) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let addr = serve(move |path, _| {
        log.lock().unwrap().push(path.clone());
        let file = path
            .strip_prefix(&format!("/{REPO}/resolve/main/"))
            .map(|f| source.join(f));
        let response = match file.and_then(|f| std::fs::read(f).ok()) {
            Some(bytes) => hyper::Response::builder()
                .header("x-repo-commit", "mock-commit")
                .body(Full::new(Bytes::from(bytes))),
            None => hyper::Response::builder()
                .status(404)
                .body(Full::new(Bytes::from_static(b"Entry not found"))),
        };
        std::future::ready(response.unwrap())
    })
    .await;
    (addr, seen)
}

/// `isartor up` in the foreground with its own HOME and model cache; killed on drop.
async fn up(home: &Path, cache: &Path, hub: &str, model: &str, upstream: &Mock) -> (Child, String) {
    let child = Command::new(BIN)
        .arg("up")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("ISARTOR_HF_CACHE_DIR", cache)
        .env("HF_ENDPOINT", hub)
        .env("ISARTOR__HOST_PORT", "127.0.0.1:0")
        .env("ISARTOR__PROXY_PORT", "127.0.0.1:0")
        .env("ISARTOR__EMBEDDING_MODEL", model)
        .env("ISARTOR__EXTERNAL_LLM_URL", upstream.url())
        .env("ISARTOR__EXTERNAL_LLM_API_KEY", "sk-upstream")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("isartor starts");
    let pid_file = home.join(".local/share/isartor/run/isartor.pid");
    let wait = async {
        loop {
            if let Ok(text) = std::fs::read_to_string(&pid_file)
                && let Ok(info) = serde_json::from_str::<Value>(&text)
            {
                return format!("http://{}", info["addr"].as_str().unwrap());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let base = tokio::time::timeout(std::time::Duration::from_secs(30), wait)
        .await
        .expect("the daemon wrote its pid file");
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_model_is_downloaded_into_the_cache_then_used_offline() {
    let source = hub_cache_dir().join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots");
    let snapshot = std::fs::read_dir(&source)
        .expect("scripts/fetch-models.sh filled the Hugging Face cache")
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (hub, seen) = mock_hub(snapshot).await;
    let mock = Mock::start().await;
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("hub");

    let (child, base) = up(
        home.path(),
        &cache,
        &format!("http://{hub}"),
        "all-minilm-l6-v2",
        &mock,
    )
    .await;
    let l1b = semantic_ready(&base).await;
    assert_eq!(l1b["status"], "ready", "{l1b}");
    let mut fetched = seen.lock().unwrap().clone();
    fetched.sort();
    let mut expected: Vec<String> = EMBEDDER_FILES
        .iter()
        .map(|f| format!("/{REPO}/resolve/main/{f}"))
        .collect();
    expected.sort();
    assert_eq!(fetched, expected);
    // The Hub's own layout: refs/main names the commit; snapshot links point at blobs named by
    // their sha256.
    let repo = cache.join("models--sentence-transformers--all-MiniLM-L6-v2");
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        "mock-commit"
    );
    let weights = repo.join("snapshots/mock-commit/model.safetensors");
    assert!(
        std::fs::symlink_metadata(&weights)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let blob = std::fs::canonicalize(&weights).unwrap();
    assert_eq!(
        blob.file_name().unwrap().to_str().unwrap(),
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    );
    for prompt in [
        "What is the capital of France?",
        "Tell me France's capital city",
    ] {
        post(&base, "/v1/chat/completions", &chat(prompt)).await;
    }
    let (_, h, _) = post(
        &base,
        "/v1/chat/completions",
        &chat("Which city is the capital of France?"),
    )
    .await;
    assert_eq!(layer(&h), "l1b");
    let mut child = child;
    child.kill().await.unwrap();
    // SIGKILL left a stale pid file; the next `up` would clean it, but our waiter reads it first.
    std::fs::remove_file(home.path().join(".local/share/isartor/run/isartor.pid")).unwrap();

    // With the cache filled, no Hub is needed (this one refuses connections).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (_child, base) = up(home.path(), &cache, &nowhere, "all-minilm-l6-v2", &mock).await;
    assert_eq!(semantic_ready(&base).await["status"], "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_the_hub_does_not_have_leaves_l1b_off() {
    let empty = tempfile::tempdir().unwrap();
    let (hub, _) = mock_hub(empty.path().to_path_buf()).await;
    let mock = Mock::start().await;
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("hub");
    let (_child, base) = up(
        home.path(),
        &cache,
        &format!("http://{hub}"),
        "no-such-org/no-such-model",
        &mock,
    )
    .await;
    let l1b = semantic_ready(&base).await;
    assert_eq!(l1b["status"], "failed");
    let detail = l1b["detail"].as_str().unwrap();
    assert!(
        detail.contains("no-such-org/no-such-model")
            && detail.contains("download failed")
            && detail.contains("404"),
        "{detail}"
    );
    for expected in ["l3", "l1a"] {
        let (status, h, _) = post(&base, "/v1/chat/completions", &chat("served anyway")).await;
        assert_eq!((status.as_u16(), layer(&h)), (200, expected));
    }
}
