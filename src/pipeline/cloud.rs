//! L3: the cloud provider. Requests in the provider's own protocol family go up byte-faithful and
//! stream back as they arrive, teed into the caches when complete and 2xx. Requests of another
//! family (native, or e.g. Anthropic in with an OpenAI provider) are translated through the
//! canonical model, read whole, and answered as a canonical reply that the surface renders in the
//! client's format (as JSON, or as an SSE sequence for a streaming client).

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, StatusCode, header};

use super::tee::Tee;
use super::{LayerHealth, Outcome, PipelineError, Remember};
use crate::config::{Config, ConfigError, env_name};
use crate::exchange::collect::{self, Collector};
use crate::exchange::{Exchange, Family, Reply, anthropic, openai};
use crate::telemetry::{Layer, LayerOutcome, Tracker};
use crate::upstream::client::Upstream;
use crate::upstream::{UpstreamError, response_header_passes};

/// How much of an upstream error body is quoted back to the client.
const ERROR_SNIPPET: usize = 512;

pub struct Cloud {
    upstream: Upstream,
    offline: bool,
}

impl Cloud {
    pub fn new(config: &Config) -> Result<Cloud, ConfigError> {
        Ok(Cloud {
            upstream: Upstream::from_config(config)?,
            offline: config.offline_mode,
        })
    }

    pub fn health(&self) -> LayerHealth {
        let provider = self.upstream.provider();
        let (status, detail) = if self.offline {
            (
                "disabled",
                "offline_mode is on: no request leaves this machine".to_string(),
            )
        } else if provider.needs_key() && !self.upstream.has_key() {
            (
                "degraded",
                format!(
                    "{} at {}: no API key configured; only clients that send their own key reach it",
                    provider.name(),
                    self.upstream.endpoint()
                ),
            )
        } else {
            (
                "ready",
                format!("{} at {}", provider.name(), self.upstream.endpoint()),
            )
        };
        LayerHealth {
            enabled: !self.offline,
            status,
            detail,
        }
    }

    fn fail(mut tracker: Tracker, started: Instant, error: PipelineError) -> Outcome {
        tracker.layer(Layer::L3, started.elapsed(), LayerOutcome::Failed);
        Outcome::Failed {
            layer: Layer::L3,
            error,
            tracker,
        }
    }

    pub async fn forward(&self, ex: Exchange, remember: Remember, mut tracker: Tracker) -> Outcome {
        tracker.enter(Layer::L3);
        let started = Instant::now();
        let passthrough = ex.format.family() == Some(self.upstream.family());
        let response = match self.send(&ex, passthrough).await {
            Ok(r) => r,
            Err(e) => return Cloud::fail(tracker, started, e),
        };
        if passthrough {
            return self.stream(ex, response, remember, tracker, started);
        }
        match self.read_whole(&ex, response).await {
            Ok(reply) => {
                tracker.layer(Layer::L3, started.elapsed(), LayerOutcome::Answered);
                tracker.usage(Layer::L3, reply.usage);
                remember.store(reply.clone()).await;
                Outcome::Reply {
                    layer: Layer::L3,
                    reply,
                    tracker,
                }
            }
            Err(e) => Cloud::fail(tracker, started, e),
        }
    }

    /// Sends the request and returns the response once its headers arrived. Provider 5xx (and,
    /// for translated formats, any non-2xx) become errors; pass-through 4xx go back as they are.
    async fn send(
        &self,
        ex: &Exchange,
        passthrough: bool,
    ) -> Result<reqwest::Response, PipelineError> {
        if self.offline {
            return Err(PipelineError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "offline_mode",
                message: "cache miss and offline_mode is on: the request was not sent to the cloud"
                    .into(),
            });
        }
        let credential = self.upstream.credential(ex.credential.as_deref());
        if !self.upstream.can_send(&credential) {
            return Err(PipelineError::bad_gateway(
                "no_api_key",
                format!(
                    "cache miss and no API key is configured for llm_provider \"{}\": set {} (or external_llm_api_key in isartor.toml)",
                    self.upstream.provider().name(),
                    env_name("external_llm_api_key"),
                ),
            ));
        }
        let (body, headers) = if passthrough {
            (ex.raw.clone(), ex.headers.clone())
        } else {
            // A translated request carries none of the client's protocol headers.
            let mut headers = HeaderMap::new();
            if let Some(ua) = ex.headers.get(header::USER_AGENT) {
                headers.insert(header::USER_AGENT, ua.clone());
            }
            let body = match self.upstream.family() {
                Family::OpenAi => openai::encode_request(ex),
                Family::Anthropic => anthropic::encode_request(ex),
            };
            (body, headers)
        };
        let response = self
            .upstream
            .send(body, &headers, credential)
            .await
            .map_err(|e| {
                let code = match e {
                    UpstreamError::Timeout { .. } => "upstream_timeout",
                    UpstreamError::Unreachable { .. } => "upstream_unreachable",
                };
                PipelineError::bad_gateway(code, e.to_string())
            })?;
        let status = response.status();
        if status.is_server_error() || (!passthrough && !status.is_success()) {
            let snippet = self.error_snippet(response).await;
            let message = format!("the provider answered {status}: {snippet}");
            return Err(match status.is_server_error() {
                true => PipelineError::bad_gateway("upstream_error", message),
                false => PipelineError {
                    status,
                    code: "upstream_error",
                    message,
                },
            });
        }
        Ok(response)
    }

    /// Streams the response through, teeing 2xx bodies into the caches.
    fn stream(
        &self,
        ex: Exchange,
        response: reqwest::Response,
        remember: Remember,
        tracker: Tracker,
        started: Instant,
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
        let collector = status
            .is_success()
            .then(|| Collector::new(self.upstream.family(), content_type));
        let body = Tee::new(
            Box::pin(response.bytes_stream()),
            collector,
            remember,
            tracker,
            status,
            self.upstream.timeout(),
            started,
            ex.estimated_prompt_tokens(),
        );
        Outcome::Stream {
            layer: Layer::L3,
            status,
            headers,
            body: Box::pin(body),
        }
    }

    /// Reads a whole reply (for formats the provider does not speak).
    async fn read_whole(
        &self,
        ex: &Exchange,
        response: reqwest::Response,
    ) -> Result<Arc<Reply>, PipelineError> {
        let timeout = self.upstream.timeout();
        let bytes = match tokio::time::timeout(timeout, response.bytes()).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                return Err(PipelineError::bad_gateway(
                    "upstream_unreachable",
                    format!("the provider's reply broke off: {e}"),
                ));
            }
            Err(_) => {
                return Err(PipelineError::bad_gateway(
                    "upstream_timeout",
                    format!(
                        "the provider's reply did not finish within {} s (l3_timeout_secs)",
                        timeout.as_secs()
                    ),
                ));
            }
        };
        let invalid =
            |message: String| PipelineError::bad_gateway("upstream_reply_invalid", message);
        let reply = collect::parse_reply(self.upstream.family(), &bytes)
            .map_err(|e| invalid(e.to_string()))?;
        if !reply.is_complete() {
            return Err(invalid(
                "the provider's reply had no finished choice".into(),
            ));
        }
        Ok(Arc::new(
            reply.with_usage_estimate(ex.estimated_prompt_tokens()),
        ))
    }

    async fn error_snippet(&self, response: reqwest::Response) -> String {
        let read = tokio::time::timeout(self.upstream.timeout(), response.bytes()).await;
        match read {
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
}
