//! The proxy's request handler (hudsucker's `HttpHandler` seam, kept thin). A CONNECT to a host on
//! the intercept list is decrypted; any other is tunnelled byte for byte. Inside an intercepted
//! host, inference calls are decoded into an [`Exchange`](crate::exchange::Exchange) and run down
//! the pipeline with the client's own upstream as L3; every other call is forwarded untouched.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::uri::Scheme;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyDataStream, BodyExt};
use hudsucker::{HttpContext, HttpHandler, RequestOrResponse};
use sync_wrapper::SyncWrapper;

use crate::config::{CacheScope, Config, ConfigError, Override, Settings, host_matches};
use crate::exchange::{Destination, Format, Origin, Surface};
use crate::pipeline::Pipeline;
use crate::surface::limits::BodyBudget;
use crate::surface::{self, Intake, auth, respond};
use crate::upstream::{direct, forwardable_with_credentials, hop_by_hop};

/// What every connection's handler shares.
pub struct Shared {
    pipeline: Arc<Pipeline>,
    intercept: Vec<String>,
    overrides: Vec<Override>,
    /// Our own client for intercepted hosts (system roots; a loopback proxy in our own
    /// environment is ignored).
    client: reqwest::Client,
    timeout: Duration,
    max_body_bytes: u64,
    budget: Arc<BodyBudget>,
    body_timeout: Duration,
    cache_scope: CacheScope,
}

impl Shared {
    /// What the proxy's handlers share; `budget` is shared with the gateway.
    pub fn new(
        config: &Config,
        settings: &Settings,
        pipeline: Arc<Pipeline>,
        budget: Arc<BodyBudget>,
    ) -> Result<Shared, ConfigError> {
        let timeout = config.l3_timeout();
        let client = crate::upstream::http_client(timeout.min(Duration::from_secs(10)))
            .map_err(|e| ConfigError(format!("cannot build the proxy's HTTP client: {e}")))?;
        Ok(Shared {
            pipeline,
            intercept: config.proxy.intercept_hosts.clone(),
            overrides: settings.overrides.clone(),
            client,
            timeout,
            max_body_bytes: config.max_body_bytes,
            budget,
            body_timeout: config.server.body_read_timeout(),
            cache_scope: config.cache_scope,
        })
    }

    /// Whether TLS to `host` is decrypted.
    pub fn intercepts(&self, host: &str) -> bool {
        self.intercept.iter().any(|p| host_matches(p, host))
    }

    /// Where an intercepted host's requests go: its override, or the host itself over https.
    fn base_url(&self, host: &str, authority: &str) -> String {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self.overrides.iter().find(|o| o.host == host) {
            Some(o) => o.base.clone(),
            None => format!("https://{authority}"),
        }
    }
}

/// The handler hudsucker clones per connection.
#[derive(Clone)]
pub struct Mitm(pub Arc<Shared>);

impl HttpHandler for Mitm {
    async fn handle_request(
        &mut self,
        _ctx: &HttpContext,
        req: Request<hudsucker::Body>,
    ) -> RequestOrResponse {
        // CONNECT is hudsucker's to answer; a plain-HTTP request in absolute form is forwarded
        // by hudsucker's own client. Only decrypted (https) requests are ours.
        if req.method() == Method::CONNECT {
            return req.into();
        }
        if req.uri().authority().is_none() {
            // Origin-form (`GET /x`): nobody configured us as their proxy; a web page (or a
            // client with the wrong base URL) is talking to the port directly.
            return RequestOrResponse::Response(plain(
                StatusCode::BAD_REQUEST,
                "this is isartor's HTTPS proxy: send CONNECT requests (HTTPS_PROXY), or use the \
                 gateway port for API calls",
            ));
        }
        if req.uri().scheme() != Some(&Scheme::HTTPS) {
            return req.into();
        }
        let response = intercepted(&self.0, req).await;
        RequestOrResponse::Response(response)
    }

    async fn should_intercept_connect(
        &mut self,
        _ctx: &HttpContext,
        req: &Request<hudsucker::Body>,
    ) -> bool {
        req.uri().host().is_some_and(|h| self.0.intercepts(h))
    }

    async fn should_intercept_tls(
        &mut self,
        _ctx: &HttpContext,
        hello: rustls::server::ClientHello<'_>,
    ) -> bool {
        // The name the client verifies must be on the list too, not just the CONNECT target.
        hello.server_name().is_none_or(|sni| self.0.intercepts(sni))
    }
}

/// The pipeline format of an inference call, by method and path (the query is ignored): the
/// formats' one path table, less the native route (ours, not a provider's).
pub fn inference_format(method: &Method, path: &str) -> Option<Format> {
    (method == Method::POST)
        .then(|| Format::from_path(path))
        .flatten()
        .filter(|f| *f != Format::Native)
}

/// A provider name for an intercepted host, for events and metrics.
pub fn provider_for(host: &str) -> &'static str {
    let host = host.to_ascii_lowercase();
    if host.ends_with("anthropic.com") {
        "anthropic"
    } else if host.ends_with("openai.com") {
        "openai"
    } else if host.ends_with("githubcopilot.com") || host.ends_with("githubusercontent.com") {
        "copilot"
    } else if host.ends_with("googleapis.com") {
        "gemini"
    } else {
        "other"
    }
}

async fn intercepted(shared: &Shared, req: Request<hudsucker::Body>) -> Response<hudsucker::Body> {
    let (host, authority) = match req.uri().authority() {
        Some(a) => (a.host().to_string(), a.as_str().to_string()),
        None => return plain(StatusCode::BAD_REQUEST, "the request names no host"),
    };
    let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path_and_query}", shared.base_url(&host, &authority));
    if req.headers().contains_key(header::UPGRADE) {
        // WebSockets to an inference host are not something we deflect; refuse fast rather than
        // leave the client waiting.
        return plain(
            StatusCode::NOT_IMPLEMENTED,
            "isartor's proxy does not carry protocol upgrades (WebSocket) to intercepted hosts",
        );
    }
    match inference_format(req.method(), req.uri().path()) {
        Some(format) => through_pipeline(shared, format, &host, url, req).await,
        None => relay(shared, url, req).await,
    }
}

/// An inference call: decoded, run down the cascade, answered in the client's own format.
async fn through_pipeline(
    shared: &Shared,
    format: Format,
    host: &str,
    url: String,
    req: Request<hudsucker::Body>,
) -> Response<hudsucker::Body> {
    let destination = Arc::new(Destination {
        url,
        provider: provider_for(host),
    });
    let intake = Intake {
        bus: shared.pipeline.bus(),
        max_body_bytes: shared.max_body_bytes,
        budget: &shared.budget,
        body_timeout: shared.body_timeout,
        default_model: "",
    };
    let decoded = surface::decode_request(intake, format, req, |parts, client| Origin {
        surface: Surface::Proxy,
        // Replies are namespaced by host: the same body sent to two providers is two questions.
        tenant: format!(
            "{}/{}",
            host.to_ascii_lowercase(),
            auth::tenant(shared.cache_scope, &parts.uri, &parts.headers)
        ),
        client,
        headers: forwardable_with_credentials(&parts.headers),
        credential: None,
        destination: Some(destination),
    })
    .await;
    let response = match decoded {
        Ok(decoded) => surface::run(&shared.pipeline, decoded).await,
        Err(response) => response,
    };
    response.map(into_proxy_body)
}

/// Any other call to an intercepted host: method, headers, credentials and body sent on as they
/// are, the answer streamed back as it arrives.
async fn relay(
    shared: &Shared,
    url: String,
    req: Request<hudsucker::Body>,
) -> Response<hudsucker::Body> {
    let (parts, body) = req.into_parts();
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) && *name != header::HOST {
            headers.append(name.clone(), value.clone());
        }
    }
    let body = if hyper::body::Body::is_end_stream(&body) {
        reqwest::Body::from(Bytes::new())
    } else {
        reqwest::Body::wrap_stream(SyncStream(SyncWrapper::new(BodyDataStream::new(body))))
    };
    let sent = direct::send(
        &shared.client,
        parts.method.clone(),
        &url,
        headers,
        body,
        shared.timeout,
    )
    .await;
    match sent {
        Ok(upstream) => {
            let mut response = Response::builder().status(upstream.status());
            for (name, value) in upstream.headers() {
                if !hop_by_hop(name) {
                    response = response.header(name, value);
                }
            }
            let stream = upstream.bytes_stream().map_err(std::io::Error::other);
            response
                .body(into_proxy_body(respond::streamed(Box::pin(stream))))
                .unwrap_or_else(|e| plain(StatusCode::BAD_GATEWAY, &e.to_string()))
        }
        Err(e) => {
            tracing::debug!("proxy: {} {url}: {e}", parts.method);
            plain(StatusCode::BAD_GATEWAY, &format!("isartor proxy: {e}"))
        }
    }
}

fn plain(status: StatusCode, message: &str) -> Response<hudsucker::Body> {
    let mut r = Response::new(hudsucker::Body::from(format!("{message}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Our response bodies are `Send` but not `Sync`; hudsucker's must be both. A body is only ever
/// polled through `&mut`, so [`SyncWrapper`] makes it `Sync` soundly.
fn into_proxy_body(body: respond::Body) -> hudsucker::Body {
    let body = SyncBody(SyncWrapper::new(body)).map_err(hudsucker::Error::Io);
    hudsucker::Body::from(BoxBody::new(body))
}

struct SyncBody(SyncWrapper<respond::Body>);

impl hyper::body::Body for SyncBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        std::pin::Pin::new(self.get_mut().0.get_mut()).poll_frame(cx)
    }
}

/// A request body stream made `Sync` for reqwest (same reasoning as [`SyncBody`]).
struct SyncStream(SyncWrapper<BodyDataStream<hudsucker::Body>>);

impl futures_util::Stream for SyncStream {
    type Item = Result<Bytes, hudsucker::Error>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::pin::Pin::new(self.get_mut().0.get_mut()).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_paths_are_recognised_and_nothing_else() {
        let post = Method::POST;
        assert_eq!(
            inference_format(&post, "/v1/messages"),
            Some(Format::Anthropic)
        );
        assert_eq!(
            inference_format(&post, "/chat/completions"),
            Some(Format::OpenAiChat)
        );
        assert_eq!(
            inference_format(&post, "/responses"),
            Some(Format::Responses)
        );
        assert_eq!(
            inference_format(
                &post,
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
            ),
            Some(Format::Gemini)
        );
        assert_eq!(
            inference_format(&post, "/v1internal:streamGenerateContent"),
            Some(Format::CloudCode)
        );
        for (m, p) in [
            (&post, "/v1internal:loadCodeAssist"),
            (&post, "/api/claude_code/metrics"),
            (&post, "/v1/messages/count_tokens"),
            (&Method::GET, "/v1/messages"),
            (&Method::GET, "/models"),
            (&post, "/copilot_internal/v2/token"),
        ] {
            assert_eq!(inference_format(m, p), None, "{m} {p}");
        }
    }

    #[test]
    fn hosts_name_their_provider() {
        assert_eq!(provider_for("api.anthropic.com"), "anthropic");
        assert_eq!(provider_for("api.business.githubcopilot.com"), "copilot");
        assert_eq!(provider_for("cloudcode-pa.googleapis.com"), "gemini");
        assert_eq!(provider_for("example.com"), "other");
    }
}
