//! The control socket: a subscriber gets a hello, a snapshot, then every request's event and
//! fresh snapshots; the socket is owner-only.

mod common;

use std::time::Duration;

use common::*;
use isartor::control::Message;
use isartor::control::client::Subscription;
use isartor::telemetry::Layer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_get_hello_snapshot_events_and_updated_snapshots() {
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/isartor.sock");
    d.serve_control(&socket, 0.01).unwrap();
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
