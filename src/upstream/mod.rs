//! L3 providers: how a request reaches the cloud. [`client::Upstream`] calls one configured
//! provider (the OpenAI-compatible family, Anthropic, Gemini); [`chain`] tries them in order;
//! [`direct`] sends a proxied request to the client's own upstream; [`credential`] puts the one
//! key on a request. Also: which headers cross the hop in each direction, and the HTTP client.

pub mod chain;
pub mod client;
pub mod credential;
pub mod direct;

use std::time::Duration;

use http::HeaderMap;
use http::header::{self, HeaderName};

/// Why the provider could not be reached or did not answer in time. URLs are shown redacted
/// (no userinfo, no `key=`), because these messages reach clients, `/health` and the log.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot reach the provider at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// No answer within `secs`, the bound that `setting` names (`l3_timeout_secs`, or
    /// `l3_budget_secs` when less of the budget was left).
    #[error("the provider at {url} did not answer within {secs} s ({setting})")]
    Timeout {
        url: String,
        secs: u64,
        setting: &'static str,
    },
}

/// A bound on how long to wait, and the setting that set it (for the message when it runs out).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub wait: Duration,
    pub setting: &'static str,
}

impl Bound {
    pub fn timeout(wait: Duration) -> Bound {
        Bound {
            wait,
            setting: "l3_timeout_secs",
        }
    }

    /// The configured timeout, or what is left of the budget when that is shorter.
    pub fn within(timeout: Duration, left: Duration) -> Bound {
        if left < timeout {
            Bound {
                wait: left,
                setting: "what was left of l3_budget_secs",
            }
        } else {
            Bound::timeout(timeout)
        }
    }

    /// The bound in whole seconds, rounded up (a 2.5 s bound is "3 s", never "2 s").
    pub fn secs(&self) -> u64 {
        self.wait.as_millis().div_ceil(1000) as u64
    }
}

/// Sends `request` and waits for the response headers at most `bound`.
pub async fn send_bounded(
    request: reqwest::RequestBuilder,
    url: &str,
    bound: Bound,
) -> Result<reqwest::Response, UpstreamError> {
    let timed_out = || UpstreamError::Timeout {
        url: crate::display::redacted_url(url),
        secs: bound.secs(),
        setting: bound.setting,
    };
    match tokio::time::timeout(bound.wait, request.send()).await {
        Err(_) => Err(timed_out()),
        Ok(Err(e)) if e.is_timeout() => Err(timed_out()),
        Ok(Err(e)) => Err(UpstreamError::Unreachable {
            url: crate::display::redacted_url(url),
            // The URL is ours to show (redacted); reqwest's copy of it is not.
            reason: error_chain(&e.without_url()),
        }),
        Ok(Ok(response)) => Ok(response),
    }
}

/// An error with its sources, e.g. "error sending request: connection refused".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Request headers never forwarded besides the hop-by-hop ones: the target and framing are the
/// new request's own.
const NOT_FORWARDED: &[HeaderName] = &[
    header::HOST,
    header::CONTENT_LENGTH,
    // Upstream bytes are parsed for the cache tee, so they must arrive uncompressed.
    header::ACCEPT_ENCODING,
    header::EXPECT,
];

/// Whether a header is hop-by-hop (meaningful only on one connection).
pub fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        *name,
        header::CONNECTION
            | header::TE
            | header::TRAILER
            | header::TRANSFER_ENCODING
            | header::UPGRADE
            | header::PROXY_AUTHORIZATION
            | header::PROXY_AUTHENTICATE
    ) || matches!(name.as_str(), "keep-alive" | "proxy-connection")
}

fn dropped(name: &HeaderName) -> bool {
    NOT_FORWARDED.contains(name) || hop_by_hop(name) || name.as_str().starts_with("x-isartor-")
}

/// The client headers worth sending to the configured provider (credentials are replaced by
/// the provider's own).
pub fn forwardable(headers: &HeaderMap) -> HeaderMap {
    filtered(headers, |n| !dropped(n) && !credential::is_carrier(n))
}

/// The client headers for the client's own upstream (a proxied request): its credentials go
/// along; framing, hop-by-hop and compression negotiation do not.
pub fn forwardable_with_credentials(headers: &HeaderMap) -> HeaderMap {
    filtered(headers, |n| !dropped(n))
}

fn filtered(headers: &HeaderMap, keep: impl Fn(&HeaderName) -> bool) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if keep(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Response headers that must not be copied onto our response to the client.
pub fn response_header_passes(name: &HeaderName) -> bool {
    !matches!(
        *name,
        header::CONNECTION
            | header::CONTENT_LENGTH
            | header::TRANSFER_ENCODING
            | header::TRAILER
            | header::UPGRADE
    ) && name.as_str() != "keep-alive"
}

/// An HTTP client for our own outbound calls. A proxy variable that points at a loopback address
/// is ignored: it is most likely our own MITM proxy left in the environment by `connect`.
pub fn http_client(connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90));
    if loopback_proxy_in_env() {
        builder = builder.no_proxy();
    }
    builder.build()
}

fn loopback_proxy_in_env() -> bool {
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .filter_map(|k| std::env::var(k).ok())
    .filter_map(|v| reqwest::Url::parse(&v).ok())
    .any(|u| {
        matches!(
            u.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        ) || u.host_str().is_some_and(|h| h.starts_with("127."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_hop_by_hop_headers_are_not_forwarded() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer client"),
            ("x-api-key", "k"),
            ("x-goog-api-key", "g"),
            ("api-key", "a"),
            ("host", "h"),
            ("content-length", "5"),
            ("accept-encoding", "gzip"),
            ("x-isartor-debug", "1"),
            ("openai-organization", "org"),
            ("user-agent", "curl/8"),
            ("content-type", "application/json"),
        ] {
            h.insert(HeaderName::from_static(k), v.parse().unwrap());
        }
        let f = forwardable(&h);
        let mut names: Vec<&str> = f.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            vec!["content-type", "openai-organization", "user-agent"]
        );
    }
}
