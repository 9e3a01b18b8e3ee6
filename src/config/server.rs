//! `[server]`: what both listeners (the gateway and the proxy) enforce on every connection: who
//! may talk to the gateway from a browser (the `Host` and `Origin` checks), how long a client may
//! take to send its request, how long an idle connection is kept (the same clock), how many connections and how
//! many request-body bytes are held at once.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, err};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Host names (besides `localhost`, `*.localhost` and IP addresses, which are always
    /// accepted) that a request's `Host` header may name; `*` accepts any. Anything else is
    /// refused with 403: a DNS-rebinding page reaches the gateway under its own name.
    pub allowed_hosts: Vec<String>,
    /// Browser origins (`scheme://host[:port]`, or `*`) allowed to call the gateway; they get
    /// CORS grants. A request with any other `Origin`, or with `Sec-Fetch-Site: cross-site`, is
    /// refused with 403.
    pub allowed_origins: Vec<String>,
    /// A client must send its whole request head within this time, counted from when the
    /// connection opens or falls idle: so it is also how long an idle HTTP/1.1 keep-alive
    /// connection is kept (slowloris). HTTP/2 peers are pinged at this interval and dropped
    /// when they do not answer within it.
    pub header_read_timeout_secs: u64,
    /// A client must send its whole request body within this time.
    pub body_read_timeout_secs: u64,
    /// Open connections per listener; more are answered 503 and closed at once.
    pub max_connections: u64,
    /// Request-body bytes held across all connections at once; a request that would go over
    /// gets 503 in its client's format.
    pub max_body_bytes_in_flight: u64,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 60,
            max_connections: 4096,
            max_body_bytes_in_flight: 128 * 1024 * 1024,
        }
    }
}

impl ServerConfig {
    pub fn validate(&self, max_body_bytes: u64) -> Result<(), ConfigError> {
        for (key, value) in [
            (
                "server.header_read_timeout_secs",
                self.header_read_timeout_secs,
            ),
            ("server.body_read_timeout_secs", self.body_read_timeout_secs),
            ("server.max_connections", self.max_connections),
        ] {
            if value == 0 {
                return Err(err(format!("{key} = 0: must be at least 1")));
            }
        }
        if self.max_body_bytes_in_flight < max_body_bytes {
            return Err(err(format!(
                "server.max_body_bytes_in_flight = {}: must be at least max_body_bytes ({max_body_bytes}), \
                 or no request of the largest allowed size could ever be read",
                self.max_body_bytes_in_flight
            )));
        }
        for origin in &self.allowed_origins {
            let o = origin.trim();
            if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
                return Err(err(format!(
                    "server.allowed_origins entry {origin:?}: an origin is scheme://host[:port], \
                     such as http://localhost:3000, or *"
                )));
            }
            if o.ends_with('/') {
                return Err(err(format!(
                    "server.allowed_origins entry {origin:?}: an origin has no path (drop the trailing /)"
                )));
            }
        }
        for host in &self.allowed_hosts {
            if host.is_empty() || host.contains(['/', ' ']) {
                return Err(err(format!(
                    "server.allowed_hosts entry {host:?}: expected a host name such as isartor.internal, or *"
                )));
            }
        }
        Ok(())
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs)
    }
}
