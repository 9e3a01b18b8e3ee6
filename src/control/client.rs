//! Client side of the control socket: connect, check the hello, read messages.

use std::path::Path;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedReadHalf;

use super::{Message, PROTOCOL};

pub struct Subscription {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    /// The daemon's gateway address, from its hello.
    pub addr: String,
}

impl Subscription {
    /// Connects and reads the hello; fails clearly when no daemon listens.
    pub async fn connect(path: &Path) -> Result<Subscription> {
        let stream = UnixStream::connect(path).await.with_context(|| {
            format!(
                "cannot reach the daemon at {} (is it running? `isartor up`)",
                path.display()
            )
        })?;
        let (read, _write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let first = lines
            .next_line()
            .await?
            .context("the daemon closed the socket")?;
        match serde_json::from_str(&first)? {
            Message::Hello { protocol, addr, .. } if protocol == PROTOCOL => {
                Ok(Subscription { lines, addr })
            }
            Message::Hello { protocol, .. } => bail!(
                "the daemon speaks control protocol {protocol}, this isartor speaks {PROTOCOL}: restart the daemon"
            ),
            _ => bail!("the daemon did not say hello"),
        }
    }

    /// The next message; `None` when the daemon closed the socket.
    pub async fn next(&mut self) -> Result<Option<Message>> {
        match self.lines.next_line().await? {
            Some(line) => Ok(Some(serde_json::from_str(&line)?)),
            None => Ok(None),
        }
    }
}
