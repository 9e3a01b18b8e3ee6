//! The local control socket: a Unix domain socket in the runtime dir (mode 0600) that speaks
//! newline-delimited JSON. A subscriber gets a versioned [`Message::Hello`], a
//! [`Message::Snapshot`], then every request [`Message::Event`] and a fresh snapshot each second.
//! A client may also send a [`Command`] line: `status` (answered with [`Message::Status`]),
//! `stop` (answered with [`Message::Stopping`], then the daemon drains and exits), or `cache`
//! with a [`CacheCommand`] (answered with [`Message::Cache`]).
//! [`server`] is the daemon side; [`client`] is what `isartor stats`, `top`, `status` and `stop`
//! use.

pub mod client;
pub mod server;

use serde::{Deserialize, Serialize};

use crate::pipeline::manage::CacheCommand;
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
    /// The answer to [`Command::Cache`]: its result, or why it could not be done.
    Cache {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// What a client asks the daemon, one line after the hello.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    Status,
    Stop,
    Cache { command: CacheCommand },
}
