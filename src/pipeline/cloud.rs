//! L3: the cloud provider. Requests in the provider's own protocol family go up byte-faithful and
//! stream back as they arrive, teed into the caches when complete and 2xx. Requests of another
//! family (native, Responses, or e.g. Anthropic in with an OpenAI provider) are translated
//! through the canonical model: a streaming client gets the provider's stream translated event by
//! event; otherwise the whole reply is read and rendered in the client's format.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::tee::Tee;
use super::{LayerHealth, LayerStatus, Outcome, PipelineError, Remember};
use crate::config::{Config, ConfigError, Settings, env_name};
use crate::exchange::collect::Collector;
use crate::exchange::stream::Translator;
use crate::exchange::{self, Destination, Exchange, Family, Reply};
use crate::telemetry::{ErrorCode, Layer, LayerOutcome, Tracker};
use crate::upstream::chain::{Answer, Chain, ChainError, Wire};
use crate::upstream::client::Upstream;
use crate::upstream::{UpstreamError, direct, response_header_passes};

/// How much of an upstream error body is quoted back to the client.
const ERROR_SNIPPET: usize = 512;

pub struct Cloud {
    chain: Chain,
    /// For proxied requests, whose upstream is the client's own (shares the chain's pool).
    client: reqwest::Client,
    timeout: Duration,
    offline: bool,
}

/// Where a response came from, for streaming it on.
struct Source {
    provider: &'static str,
    timeout: Duration,
}

impl Source {
    fn of(upstream: &Upstream) -> Source {
        Source {
            provider: upstream.provider().name(),
            timeout: upstream.timeout(),
        }
    }
}

impl Cloud {
    pub fn new(config: &Config, settings: &Settings) -> Result<Cloud, ConfigError> {
        let timeout = config.l3_timeout();
        let client = crate::upstream::http_client(timeout.min(Duration::from_secs(10)))
            .map_err(|e| ConfigError(format!("cannot build the HTTP client: {e}")))?;
        Ok(Cloud {
            chain: Chain::new(config, settings, &client),
            client,
            timeout,
            offline: config.offline_mode,
        })
    }

    pub fn health(&self) -> LayerHealth {
        let primary = self.chain.primary();
        let provider = primary.provider();
        let fallbacks = match self.chain.fallbacks() {
            0 => String::new(),
            n => format!(", then {n} fallback provider(s)"),
        };
        let (status, detail) = if self.offline {
            (
                LayerStatus::Disabled,
                "offline_mode is on: no request leaves this machine".to_string(),
            )
        } else if provider.needs_key() && !primary.has_key() {
            (
                LayerStatus::Degraded,
                format!(
                    "{} at {}: no API key configured; only clients that send their own key reach it{fallbacks}",
                    provider.name(),
                    primary.shown_endpoint()
                ),
            )
        } else {
            (
                LayerStatus::Ready,
                format!(
                    "{} at {}{fallbacks}",
                    provider.name(),
                    primary.shown_endpoint()
                ),
            )
        };
        LayerHealth {
            enabled: !self.offline,
            status,
            detail,
        }
    }

    /// Refuses when `offline_mode` keeps every request on this machine.
    fn online(&self) -> Result<(), PipelineError> {
        if self.offline {
            return Err(PipelineError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::OfflineMode,
                "cache miss and offline_mode is on: the request was not sent to the cloud",
            ));
        }
        Ok(())
    }

    fn fail(mut tracker: Tracker, started: Instant, error: PipelineError) -> Outcome {
        tracker.layer(Layer::L3, started.elapsed(), LayerOutcome::Failed);
        Outcome::Failed {
            layer: Layer::L3,
            error,
            tracker,
        }
    }

    pub async fn answer(&self, ex: Exchange, remember: Remember, mut tracker: Tracker) -> Outcome {
        tracker.enter(Layer::L3);
        let started = Instant::now();
        if let Some(destination) = ex.destination.clone() {
            return self
                .answer_direct(&ex, &destination, remember, tracker, started)
                .await;
        }
        let answer = match self.send(&ex).await {
            Ok(a) => a,
            Err(e) => return Cloud::fail(tracker, started, e),
        };
        let provider = answer.upstream.provider().name();
        tracker.provider(provider);
        tracker.called(
            answer
                .upstream
                .model_for(&ex.model, answer.wire == Wire::Native),
        );
        if answer.wire == Wire::Native {
            let source = Source::of(answer.upstream);
            return self.stream(
                &ex,
                answer.response,
                source,
                remember,
                tracker,
                started,
                true,
            );
        }
        if ex.stream && is_event_stream(answer.response.headers()) {
            let provider = exchange::stream_decoder(answer.upstream.family().format());
            if let Some(client) = exchange::stream_encoder(ex.format, ex.stream_usage) {
                let t = Translator::new(provider, client);
                return self.translated_stream(&ex, answer, t, remember, tracker, started);
            }
        }
        let (family, timeout) = (answer.upstream.family(), answer.upstream.timeout());
        match read_whole(&ex, answer.response, family, timeout).await {
            Ok(reply) => {
                tracker.layer(Layer::L3, started.elapsed(), LayerOutcome::Answered);
                tracker.usage(Layer::L3, reply.usage);
                remember.store(reply.clone()).await;
                Outcome::Reply {
                    layer: Layer::L3,
                    age: None,
                    rendered: None,
                    reply,
                    provider: Some(provider),
                    similarity: None,
                    stale: false,
                    tracker,
                }
            }
            Err(e) => Cloud::fail(tracker, started, e),
        }
    }

    /// Counts the prompt tokens of an Anthropic request at the primary provider's own endpoint
    /// when it is Anthropic (passed through, not cached); otherwise hands the tracker back so
    /// the caller can estimate locally.
    pub async fn count_tokens(
        &self,
        ex: &Exchange,
        mut tracker: Tracker,
    ) -> Result<Outcome, Tracker> {
        let primary = self.chain.primary();
        let credential = primary.credential(ex.credential.as_deref());
        let Some(url) = primary.count_tokens_url() else {
            return Err(tracker);
        };
        if self.offline || !primary.can_send(&credential) {
            return Err(tracker);
        }
        tracker.enter(Layer::L3);
        tracker.provider(primary.provider().name());
        let started = Instant::now();
        let sent = primary
            .send_to(
                &url,
                ex.raw.clone(),
                &ex.headers,
                credential,
                crate::upstream::Bound::timeout(primary.timeout()),
            )
            .await;
        match sent {
            Ok(response) => {
                let source = Source::of(primary);
                Ok(self.stream(
                    ex,
                    response,
                    source,
                    Remember::default(),
                    tracker,
                    started,
                    false,
                ))
            }
            Err(e) => Ok(Cloud::fail(
                tracker,
                started,
                PipelineError::bad_gateway(ErrorCode::UpstreamUnreachable, e.to_string()),
            )),
        }
    }

    /// Gets response headers from the first provider of the chain that answers. Provider 5xx
    /// (and, for translated requests, any non-2xx) become errors; pass-through 4xx go back as
    /// they are.
    async fn send(&self, ex: &Exchange) -> Result<Answer<'_>, PipelineError> {
        self.online()?;
        let answer = self.chain.send(ex).await.map_err(|e| match e {
            ChainError::NoKey { provider } => PipelineError::bad_gateway(
                ErrorCode::NoApiKey,
                format!(
                    "cache miss and no API key is configured for llm_provider \"{provider}\": set {} (or external_llm_api_key in isartor.toml)",
                    env_name("external_llm_api_key"),
                ),
            ),
            ChainError::Transport(e) => transport_error(e),
            ChainError::BadModel { model } => PipelineError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidModel,
                format!(
                    "model {model:?} cannot be sent to a gemini provider: a model name has only \
                     letters, digits, '.', '_' and '-'"
                ),
            ),
        })?;
        let status = answer.response.status();
        if status.is_server_error() || (answer.wire == Wire::Translated && !status.is_success()) {
            let name = answer.upstream.provider().name();
            let snippet = error_snippet(answer.response, answer.upstream.timeout()).await;
            let message = format!("{name} answered {status}: {snippet}");
            return Err(match status.is_server_error() {
                true => PipelineError::bad_gateway(ErrorCode::UpstreamError, message),
                false => PipelineError::new(status, ErrorCode::UpstreamError, message),
            });
        }
        Ok(answer)
    }

    /// A proxied request: the client's own bytes, headers and credentials to its own upstream,
    /// and whatever that answers streamed back (teed into the caches when 2xx).
    async fn answer_direct(
        &self,
        ex: &Exchange,
        destination: &Destination,
        remember: Remember,
        mut tracker: Tracker,
        started: Instant,
    ) -> Outcome {
        if let Err(e) = self.online() {
            return Cloud::fail(tracker, started, e);
        }
        tracker.provider(destination.provider);
        let sent = direct::send(
            &self.client,
            Method::POST,
            &destination.url,
            ex.headers.clone(),
            ex.raw.clone().into(),
            self.timeout,
        )
        .await;
        match sent {
            Ok(response) => {
                let source = Source {
                    provider: destination.provider,
                    timeout: self.timeout,
                };
                self.stream(ex, response, source, remember, tracker, started, true)
            }
            Err(e) => Cloud::fail(tracker, started, transport_error(e)),
        }
    }

    /// Streams the response through, teeing 2xx bodies into the caches.
    #[allow(clippy::too_many_arguments)]
    fn stream(
        &self,
        ex: &Exchange,
        response: reqwest::Response,
        source: Source,
        remember: Remember,
        tracker: Tracker,
        started: Instant,
        cacheable: bool,
    ) -> Outcome {
        let status = response.status();
        let mut headers = HeaderMap::with_capacity(response.headers().len());
        for (name, value) in response.headers() {
            if response_header_passes(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let collector =
            (cacheable && status.is_success()).then(|| Collector::new(ex.format, content_type));
        let body = Tee::new(
            Box::pin(response.bytes_stream()),
            collector,
            remember,
            tracker,
            status,
            source.timeout,
            started,
            ex.estimated_prompt_tokens(),
        );
        Outcome::Stream {
            layer: Layer::L3,
            status,
            headers,
            provider: Some(source.provider),
            body: Box::pin(body),
        }
    }

    /// Streams a provider's SSE reply to the client translated, event by event, into the client's
    /// own protocol; the rebuilt reply goes to the caches at the end.
    fn translated_stream(
        &self,
        ex: &Exchange,
        answer: Answer<'_>,
        translator: Translator,
        remember: Remember,
        tracker: Tracker,
        started: Instant,
    ) -> Outcome {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        let upstream = answer.upstream;
        let body = Tee::new(
            Box::pin(answer.response.bytes_stream()),
            None,
            remember,
            tracker,
            StatusCode::OK,
            upstream.timeout(),
            started,
            ex.estimated_prompt_tokens(),
        )
        .translating(translator);
        Outcome::Stream {
            layer: Layer::L3,
            status: StatusCode::OK,
            headers,
            provider: Some(upstream.provider().name()),
            body: Box::pin(body),
        }
    }
}

/// A transport failure as the client sees it: a 502 naming what went wrong.
fn transport_error(e: UpstreamError) -> PipelineError {
    let code = match e {
        UpstreamError::Timeout { .. } => ErrorCode::UpstreamTimeout,
        UpstreamError::Unreachable { .. } => ErrorCode::UpstreamUnreachable,
    };
    PipelineError::bad_gateway(code, e.to_string())
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Reads a whole reply (for requests that were translated).
async fn read_whole(
    ex: &Exchange,
    response: reqwest::Response,
    family: Family,
    timeout: Duration,
) -> Result<Arc<Reply>, PipelineError> {
    let bytes = match tokio::time::timeout(timeout, response.bytes()).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return Err(PipelineError::bad_gateway(
                ErrorCode::UpstreamUnreachable,
                format!("the provider's reply broke off: {e}"),
            ));
        }
        Err(_) => {
            return Err(PipelineError::bad_gateway(
                ErrorCode::UpstreamTimeout,
                format!(
                    "the provider's reply did not finish within {} s (l3_timeout_secs)",
                    timeout.as_secs()
                ),
            ));
        }
    };
    let invalid =
        |message: String| PipelineError::bad_gateway(ErrorCode::UpstreamReplyInvalid, message);
    let reply =
        exchange::parse_reply(family.format(), &bytes).map_err(|e| invalid(e.to_string()))?;
    if !reply.is_complete() {
        return Err(invalid(
            "the provider's reply had no finished choice".into(),
        ));
    }
    Ok(Arc::new(
        reply.with_usage_estimate(ex.estimated_prompt_tokens()),
    ))
}

async fn error_snippet(response: reqwest::Response, timeout: Duration) -> String {
    match tokio::time::timeout(timeout, response.bytes()).await {
        Ok(Ok(bytes)) => {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(ERROR_SNIPPET)]);
            let text = text.trim();
            if text.is_empty() {
                "(empty body)".into()
            } else {
                text.to_string()
            }
        }
        _ => "(body unreadable)".into(),
    }
}
