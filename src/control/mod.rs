//! The local control socket: a Unix domain socket in the runtime dir (mode 0600) that speaks
//! newline-delimited JSON. A subscriber gets a versioned [`Message::Hello`], a
//! [`Message::Snapshot`], then every request [`Message::Event`] and a fresh snapshot each second.
//! A client may also send a [`Command`] line: `status` (answered with [`Message::Status`]) or
//! `stop` (answered with [`Message::Stopping`], then the daemon drains and exits).
//! [`server`] is the daemon side; [`client`] is what `isartor stats`, `top`, `status` and `stop`
//! use.

pub mod client;
pub mod server;

use serde::{Deserialize, Serialize};

use crate::telemetry::RequestEvent;
use crate::telemetry::stats::Snapshot;

/// Bumped when a message changes incompatibly.
pub const PROTOCOL: u32 = 1;

/// One line on the socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Hello {
        protocol: u32,
        version: String,
        addr: String,
    },
    Snapshot(Box<Snapshot>),
    Event(Box<RequestEvent>),
    /// The answer to [`Command::Status`]: the daemon's pid and per-layer health (as `/health`).
    Status {
        pid: u32,
        health: serde_json::Value,
    },
    /// The answer to [`Command::Stop`]: the daemon has begun to drain.
    Stopping {
        pid: u32,
    },
}

/// What a client asks the daemon, one line after the hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    Status,
    Stop,
}
