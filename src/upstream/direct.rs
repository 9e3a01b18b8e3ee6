//! Requests to the client's own upstream (proxy mode): the host it was talking to, or that host's
//! `proxy.upstream_overrides` entry, with the client's own method, headers and credentials. No
//! retries and no fallback providers: the client sees its provider's answer as it would without
//! us, and retries on its own terms.

use std::time::Duration;

use http::{HeaderMap, Method};

use super::UpstreamError;

/// Sends one request and returns once the response headers arrived (bounded by `timeout`); the
/// body streams on.
pub async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    headers: HeaderMap,
    body: reqwest::Body,
    timeout: Duration,
) -> Result<reqwest::Response, UpstreamError> {
    let request = client.request(method, url).headers(headers).body(body);
    super::send_bounded(request, url, super::Bound::timeout(timeout)).await
}
