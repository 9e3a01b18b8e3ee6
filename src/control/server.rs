//! Daemon side of the control socket. Each subscriber has its own task; it is dropped when it
//! falls behind the event bus or stops reading, so no subscriber ever slows the request path.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{Command, Message, PROTOCOL};
use crate::telemetry::Bus;

/// How long one write may take before the subscriber counts as dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a fresh snapshot is pushed.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// What a subscriber needs from the daemon.
#[derive(Clone)]
pub struct Feed {
    pub bus: Bus,
    pub addr: String,
    /// Cancelled by a `stop` command: the daemon drains and exits.
    pub stop: CancellationToken,
    /// The layers' health (what `/health` says) and the caches (`isartor cache …`).
    pub pipeline: Arc<crate::pipeline::Pipeline>,
}

/// Binds the socket (replacing a stale one), owner-only, and serves until `shutdown`.
pub fn spawn(path: &Path, feed: Feed, shutdown: CancellationToken) -> Result<()> {
    if let Some(dir) = path.parent() {
        crate::paths::Paths::ensure_private_dir(dir)?;
    }
    // A socket file left by a daemon that died; the pid lock says no other daemon runs.
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    let path: PathBuf = path.to_path_buf();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(subscriber(stream, feed.clone(), shutdown.clone()));
                    }
                    Err(e) => {
                        tracing::warn!("control socket accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = shutdown.cancelled() => break,
            }
        }
        let _ = std::fs::remove_file(&path);
    });
    Ok(())
}

async fn send(stream: &mut OwnedWriteHalf, message: &Message) -> bool {
    let Ok(mut line) = serde_json::to_vec(message) else {
        return false;
    };
    line.push(b'\n');
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&line)).await,
        Ok(Ok(()))
    )
}

async fn subscriber(stream: UnixStream, feed: Feed, shutdown: CancellationToken) {
    let (read, mut stream) = stream.into_split();
    let mut commands = BufReader::new(read).lines();
    // Clients that only listen close their side at once; stop reading then.
    let mut reading = true;
    let mut events = feed.bus.subscribe();
    let hello = Message::Hello {
        protocol: PROTOCOL,
        version: env!("CARGO_PKG_VERSION").to_string(),
        addr: feed.addr.clone(),
    };
    let snapshot = || Message::Snapshot(Box::new(feed.bus.snapshot()));
    if !send(&mut stream, &hello).await || !send(&mut stream, &snapshot()).await {
        return;
    }
    let mut tick = tokio::time::interval(SNAPSHOT_EVERY);
    tick.tick().await;
    loop {
        let message = tokio::select! {
            event = events.recv() => match event {
                Ok(e) => Message::Event(Box::new((*e).clone())),
                // Too slow to keep up, or the daemon is going away: drop this subscriber.
                Err(RecvError::Lagged(_) | RecvError::Closed) => return,
            },
            _ = tick.tick() => snapshot(),
            line = commands.next_line(), if reading => match line {
                Ok(Some(line)) => match serde_json::from_str::<Command>(&line) {
                    Ok(Command::Status) => Message::Status {
                        pid: std::process::id(),
                        health: serde_json::to_value(feed.pipeline.health())
                            .unwrap_or_default(),
                    },
                    Ok(Command::Stop) => {
                        tracing::info!("stop requested over the control socket");
                        feed.stop.cancel();
                        Message::Stopping { pid: std::process::id() }
                    }
                    // Answered in turn: a subscriber's own events wait while its cache
                    // command runs (a listing or an export of the whole cache).
                    Ok(Command::Cache { command }) => match feed.pipeline.cache(command).await {
                        Ok(answer) => Message::Cache { answer: Some(answer), error: None },
                        Err(error) => Message::Cache { answer: None, error: Some(error) },
                    },
                    Err(e) => {
                        tracing::debug!("control socket: ignoring {line:?}: {e}");
                        continue;
                    }
                },
                Ok(None) | Err(_) => {
                    reading = false;
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        if !send(&mut stream, &message).await {
            return;
        }
    }
}
