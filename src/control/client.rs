//! Client side of the control socket: connect, check the hello, read messages, send commands.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::{Command, Message, PROTOCOL};

pub struct Subscription {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
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
        let (read, write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let first = lines
            .next_line()
            .await?
            .context("the daemon closed the socket")?;
        match serde_json::from_str(&first)? {
            Message::Hello { protocol, addr, .. } if protocol == PROTOCOL => {
                Ok(Subscription { lines, write, addr })
            }
            Message::Hello { protocol, .. } => bail!(
                "the daemon speaks control protocol {protocol}, this isartor speaks {PROTOCOL}: restart the daemon"
            ),
            _ => bail!("the daemon did not say hello"),
        }
    }

    /// Sends `command` without waiting: its answer comes in turn among the other messages.
    pub async fn send(&mut self, command: &Command) -> Result<()> {
        let mut line = serde_json::to_vec(command)?;
        line.push(b'\n');
        self.write.write_all(&line).await?;
        Ok(())
    }

    /// Sends `command` and returns its answer (events and snapshots in between are skipped);
    /// fails when none comes within `timeout`.
    pub async fn ask(&mut self, command: Command, timeout: Duration) -> Result<Message> {
        self.send(&command).await?;
        let answer = async {
            loop {
                match self.next().await? {
                    Some(
                        m @ (Message::Status { .. }
                        | Message::Stopping { .. }
                        | Message::Cache { .. }),
                    ) => return Ok(m),
                    Some(_) => continue,
                    None => bail!("the daemon closed the control socket"),
                }
            }
        };
        tokio::time::timeout(timeout, answer)
            .await
            .context("the daemon did not answer on the control socket")?
    }

    /// The next message; `None` when the daemon closed the socket.
    pub async fn next(&mut self) -> Result<Option<Message>> {
        match self.lines.next_line().await? {
            Some(line) => Ok(Some(serde_json::from_str(&line)?)),
            None => Ok(None),
        }
    }
}
