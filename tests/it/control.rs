//! The control socket: a subscriber gets a hello, a snapshot, then every request's event and
//! fresh snapshots; the socket is owner-only.

use crate::common;

use std::time::Duration;

use common::*;
use isartor::control::client::Subscription;
use isartor::control::{Command, Message};
use isartor::telemetry::Layer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_get_hello_snapshot_events_and_updated_snapshots() {
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/isartor.sock");
    d.serve_control(&socket).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let mut sub = Subscription::connect(&socket).await.unwrap();
    assert_eq!(sub.addr, d.addr().to_string());
    let Some(Message::Snapshot(first)) = sub.next().await.unwrap() else {
        panic!("a snapshot follows the hello");
    };
    assert_eq!(first.requests, 0);

    post(&base, "/v1/chat/completions", &chat("watch me")).await;
    post(&base, "/v1/chat/completions", &chat("watch me")).await;
    let guard = Duration::from_secs(20);
    let mut layers = Vec::new();
    let snapshot = tokio::time::timeout(guard, async {
        loop {
            match sub.next().await.unwrap().expect("socket open") {
                Message::Event(e) => {
                    assert_eq!(e.preview, "watch me");
                    layers.push(e.layer);
                }
                Message::Snapshot(s) if s.requests == 2 => return s,
                _ => {}
            }
        }
    })
    .await
    .expect("events and an updated snapshot arrive");
    assert_eq!(layers, vec![Some(Layer::L3), Some(Layer::L1a)]);
    assert_eq!(
        (snapshot.deflected, snapshot.layers["l1a"].requests),
        (1, 1)
    );
    assert_eq!(snapshot.tokens_saved, 18);
    assert_eq!(snapshot.recent[0].preview, "watch me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_stop_commands() {
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("isartor.sock");
    d.serve_control(&socket).unwrap();
    post(&base, "/v1/chat/completions", &chat("count me")).await;
    let guard = Duration::from_secs(5);

    let mut sub = Subscription::connect(&socket).await.unwrap();
    let Message::Status { pid, health } = sub.ask(Command::Status, guard).await.unwrap() else {
        panic!("status answers with a status");
    };
    assert_eq!(pid, std::process::id());
    assert_eq!(health["l1a"]["status"], "ready");
    assert!(
        health["l1a"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("memory store")
    );
    assert_eq!(health["l3"]["status"], "ready");

    // Garbage is ignored, and the same connection still answers.
    let mut raw = tokio::net::UnixStream::connect(&socket).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut raw, b"not a command\n")
        .await
        .unwrap();
    assert!(matches!(
        sub.ask(Command::Status, guard).await.unwrap(),
        Message::Status { .. }
    ));

    let stopping = sub.ask(Command::Stop, guard).await.unwrap();
    assert_eq!(
        stopping,
        Message::Stopping {
            pid: std::process::id()
        }
    );
    // The stop request cancels the daemon's token: it drains and stops.
    tokio::time::timeout(Duration::from_secs(20), d.shutdown_token().cancelled())
        .await
        .expect("stop cancels the daemon");
    d.wait().await;
    assert!(
        client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err()
    );
}
