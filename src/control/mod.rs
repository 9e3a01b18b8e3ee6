//! The local control socket: a Unix domain socket in the runtime dir (mode 0600) that speaks
//! newline-delimited JSON. A subscriber gets a versioned [`Message::Hello`], a
//! [`Message::Snapshot`], then every request [`Message::Event`] and a fresh snapshot each second.
//! [`server`] is the daemon side; [`client`] is what `isartor stats` and `top` use.

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
}
