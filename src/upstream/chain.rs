//! The provider chain: the primary provider, then each `[[fallback_providers]]` entry, tried in
//! order inside one time budget. A transport failure, timeout, 5xx, 408 or 429 is retried with
//! jittered exponential backoff (`l3_retries` times per provider) and then handed to the next
//! provider; a 404 moves on at once (the model may exist elsewhere); any other 4xx is the
//! caller's fault and is answered as it is. Each provider gets the request in its own protocol:
//! byte-faithful when the client speaks it, translated through the canonical model otherwise.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use super::UpstreamError;
use super::client::Upstream;
use crate::config::{Config, ConfigError};
use crate::exchange::{Exchange, Family, Format, anthropic, gemini, openai};

/// First backoff delay; doubled per retry, with ±50 % jitter.
const BACKOFF: Duration = Duration::from_millis(200);

/// A provider's response headers arrived.
pub struct Answer<'a> {
    pub response: reqwest::Response,
    pub upstream: &'a Upstream,
    /// The client's bytes went up unchanged (the response is in the client's protocol).
    pub passthrough: bool,
}

/// No provider produced response headers.
#[derive(Debug)]
pub enum ChainError {
    /// No provider has a key and the client sent none.
    NoKey { provider: &'static str },
    /// The last provider tried failed in transport (or the budget ran out first).
    Transport(UpstreamError),
}

pub struct Chain {
    upstreams: Vec<Upstream>,
    retries: u32,
    budget: Duration,
}

enum Verdict {
    Done,
    Retry,
    NextProvider,
}

fn verdict(status: StatusCode) -> Verdict {
    match status.as_u16() {
        200..=399 => Verdict::Done,
        404 => Verdict::NextProvider,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Done,
    }
}

impl Chain {
    /// The configured providers, sharing `client` (one connection pool).
    pub fn new(config: &Config, client: &reqwest::Client) -> Result<Chain, ConfigError> {
        let timeout = config.l3_timeout();
        let upstreams = config
            .providers()
            .iter()
            .map(|p| Upstream::new(client.clone(), p, timeout))
            .collect::<Result<_, _>>()?;
        Ok(Chain {
            upstreams,
            retries: config.l3_retries,
            budget: config.l3_budget(),
        })
    }

    pub fn primary(&self) -> &Upstream {
        &self.upstreams[0]
    }

    pub fn fallbacks(&self) -> usize {
        self.upstreams.len() - 1
    }

    /// The URL, body and headers this provider gets for `ex`, and whether they are the
    /// client's own.
    fn request_for(&self, up: &Upstream, ex: &Exchange) -> (String, Bytes, HeaderMap, bool) {
        let passthrough = up.speaks(ex.format);
        let model = up.model_override().unwrap_or(&ex.model);
        let url = up.url_for(
            if passthrough {
                ex.format
            } else {
                Format::OpenAiChat
            },
            model,
            ex.stream,
        );
        if passthrough {
            // Gemini names the model in the path; the others in the body.
            let body = match up.model_override() {
                Some(model) if up.family() != Family::Gemini => with_model(&ex.raw, model),
                _ => ex.raw.clone(),
            };
            return (url, body, ex.headers.clone(), true);
        }
        // A translated request carries none of the client's protocol headers.
        let mut headers = HeaderMap::new();
        if let Some(ua) = ex.headers.get(header::USER_AGENT) {
            headers.insert(header::USER_AGENT, ua.clone());
        }
        let renamed;
        let ex = match up.model_override() {
            Some(model) => {
                renamed = Exchange {
                    model: model.to_string(),
                    ..ex.clone()
                };
                &renamed
            }
            None => ex,
        };
        let body = match up.family() {
            Family::OpenAi => openai::encode_request(ex, ex.stream),
            Family::Anthropic => anthropic::encode_request(ex, ex.stream),
            Family::Gemini => gemini::encode_request(ex),
        };
        (url, body, headers, false)
    }

    /// Tries the providers in order until one answers (see the module docs for what counts).
    /// A response that ends the chain is returned even when it is an error status, so the
    /// caller can pass it on or explain it; the last one is returned when all fail.
    pub async fn send(&self, ex: &Exchange) -> Result<Answer<'_>, ChainError> {
        let deadline = Instant::now() + self.budget;
        let mut last: Option<Result<Answer<'_>, ChainError>> = None;
        'providers: for up in &self.upstreams {
            let credential = up.credential(ex.credential.as_deref());
            if !up.can_send(&credential) {
                last.get_or_insert(Err(ChainError::NoKey {
                    provider: up.provider().name(),
                }));
                continue;
            }
            let (url, body, headers, passthrough) = self.request_for(up, ex);
            for attempt in 0..=self.retries {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break 'providers;
                }
                let timeout = up.timeout().min(left);
                let credential = up.credential(ex.credential.as_deref());
                let sent = up.send_to(&url, body.clone(), &headers, credential, timeout);
                let outcome = match sent.await {
                    Ok(response) => {
                        let status = response.status();
                        let answer = Answer {
                            response,
                            upstream: up,
                            passthrough,
                        };
                        match verdict(status) {
                            Verdict::Done => return Ok(answer),
                            Verdict::NextProvider => {
                                last = Some(Ok(answer));
                                continue 'providers;
                            }
                            Verdict::Retry => Ok(answer),
                        }
                    }
                    Err(e) => Err(ChainError::Transport(e)),
                };
                if let Ok(a) = &outcome {
                    tracing::warn!(
                        "{} answered {}; {}",
                        up.provider().name(),
                        a.response.status(),
                        if attempt < self.retries {
                            "retrying"
                        } else {
                            "moving on"
                        }
                    );
                } else if let Err(ChainError::Transport(e)) = &outcome {
                    tracing::warn!(
                        "{e}; {}",
                        if attempt < self.retries {
                            "retrying"
                        } else {
                            "moving on"
                        }
                    );
                }
                last = Some(outcome);
                if attempt < self.retries {
                    let jitter = 0.5 + fastrand::f64();
                    let pause = BACKOFF.mul_f64(jitter * 2f64.powi(attempt as i32));
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(pause.min(left)).await;
                }
            }
        }
        last.unwrap_or_else(|| {
            Err(ChainError::Transport(UpstreamError::Timeout {
                url: self.primary().endpoint().to_string(),
                secs: self.budget.as_secs(),
            }))
        })
    }
}

/// `raw` with its top-level `model` replaced (the one rewrite pass-through allows).
fn with_model(raw: &Bytes, model: &str) -> Bytes {
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(mut obj)) => {
            obj.insert("model".into(), Value::String(model.to_string()));
            Bytes::from(Value::Object(obj).to_string())
        }
        _ => raw.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_docs_say() {
        let kind = |s: u16| match verdict(StatusCode::from_u16(s).unwrap()) {
            Verdict::Done => "done",
            Verdict::Retry => "retry",
            Verdict::NextProvider => "next",
        };
        for (s, k) in [
            (200, "done"),
            (400, "done"),
            (401, "done"),
            (403, "done"),
            (404, "next"),
            (408, "retry"),
            (429, "retry"),
            (500, "retry"),
            (503, "retry"),
        ] {
            assert_eq!(kind(s), k, "{s}");
        }
    }

    #[test]
    fn model_rewrite_touches_only_the_model() {
        let raw = Bytes::from_static(br#"{"model":"a","messages":[],"x":1}"#);
        let v: Value = serde_json::from_slice(&with_model(&raw, "b")).unwrap();
        assert_eq!(v, serde_json::json!({"model": "b", "messages": [], "x": 1}));
        assert_eq!(
            with_model(&Bytes::from_static(b"[1]"), "b"),
            Bytes::from_static(b"[1]")
        );
    }
}
