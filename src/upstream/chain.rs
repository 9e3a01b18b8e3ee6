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

use super::client::Upstream;
use super::{Bound, UpstreamError};
use crate::config::{Config, Settings};
use crate::exchange::{Exchange, Family, Format, anthropic, gemini, is_path_segment, openai};

/// First backoff delay; doubled per retry, with ±50 % jitter.
const BACKOFF: Duration = Duration::from_millis(200);

/// A provider's response headers arrived.
pub struct Answer<'a> {
    pub response: reqwest::Response,
    pub upstream: &'a Upstream,
    /// What went up, and so what protocol the response is in.
    pub wire: Wire,
}

/// How a request went to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// The client's own bytes (model alias rewrites aside): the provider speaks the client's
    /// protocol, and its response is passed back as it comes.
    Native,
    /// Translated through the canonical model: the response must be translated back.
    Translated,
}

/// No provider produced response headers.
#[derive(Debug)]
pub enum ChainError {
    /// No provider has a key and the client sent none.
    NoKey { provider: &'static str },
    /// The last provider tried failed in transport (or the budget ran out first).
    Transport(UpstreamError),
    /// The model cannot be named in the provider's URL (Gemini): the client's request is bad.
    BadModel { model: String },
}

pub struct Chain {
    upstreams: Vec<Upstream>,
    retries: u32,
    budget: Duration,
    /// `anthropic_prompt_cache`: breakpoints in requests translated into Anthropic Messages.
    anthropic_cache: bool,
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
    pub fn new(config: &Config, settings: &Settings, client: &reqwest::Client) -> Chain {
        let timeout = config.l3_timeout();
        let upstreams = settings
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let own = (i == 0).then_some(config.external_llm_model.as_str());
                Upstream::new(client.clone(), p, own, timeout)
            })
            .collect();
        Chain {
            upstreams,
            retries: config.l3_retries,
            budget: config.l3_budget(),
            anthropic_cache: config.anthropic_prompt_cache,
        }
    }

    pub fn primary(&self) -> &Upstream {
        &self.upstreams[0]
    }

    pub fn fallbacks(&self) -> usize {
        self.upstreams.len() - 1
    }

    /// The URL, body and headers this provider gets for `ex`, and whether they are the
    /// client's own.
    fn request_for(&self, up: &Upstream, ex: &Exchange) -> (String, Bytes, HeaderMap, Wire) {
        let native = up.speaks(ex.format);
        let model = up.model_for(&ex.model, native);
        let url = up.url_for(
            if native {
                ex.format
            } else {
                Format::OpenAiChat
            },
            model,
            ex.stream,
        );
        if native {
            // Gemini names the model in the path; the others in the body.
            let body = match up.model_override() {
                Some(over) if up.family() != Family::Gemini => with_model(&ex.raw, over),
                _ => ex.raw.clone(),
            };
            return (url, body, ex.headers.clone(), Wire::Native);
        }
        // A translated request carries none of the client's protocol headers.
        let mut headers = HeaderMap::new();
        if let Some(ua) = ex.headers.get(header::USER_AGENT) {
            headers.insert(header::USER_AGENT, ua.clone());
        }
        let body = match up.family() {
            Family::OpenAi => openai::encode_request(ex, model, ex.stream),
            Family::Anthropic => {
                anthropic::encode_request_cached(ex, model, ex.stream, self.anthropic_cache)
            }
            Family::Gemini => gemini::encode_request(ex),
        };
        (url, body, headers, Wire::Translated)
    }

    /// Tries the providers in order until one answers (see the module docs for what counts).
    /// A response that ends the chain is returned even when it is an error status, so the
    /// caller can pass it on or explain it; the last one is returned when all fail.
    ///
    /// A 429 or 503 with `Retry-After` is retried after the wait the provider asked for when
    /// that fits in the budget; when it does not, the chain moves on to the next provider at
    /// once (or returns that answer, when it was the last).
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
            let model = up.model_for(&ex.model, up.speaks(ex.format));
            if up.family() == Family::Gemini && !is_path_segment(model) {
                // Gemini puts the model in the URL path: a name like `../x` would move a request
                // that carries our key elsewhere on the provider.
                last = Some(Err(ChainError::BadModel {
                    model: crate::display::printable(model).into_owned(),
                }));
                continue;
            }
            let (url, body, headers, wire) = self.request_for(up, ex);
            for attempt in 0..=self.retries {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break 'providers;
                }
                let bound = Bound::within(up.timeout(), left);
                let credential = up.credential(ex.credential.as_deref());
                let sent = up.send_to(&url, body.clone(), &headers, credential, bound);
                let more = attempt < self.retries;
                let wait = match sent.await {
                    Ok(response) => {
                        let status = response.status();
                        let asked = retry_after(response.headers());
                        let answer = Answer {
                            response,
                            upstream: up,
                            wire,
                        };
                        match verdict(status) {
                            Verdict::Done => return Ok(answer),
                            Verdict::NextProvider => {
                                last = Some(Ok(answer));
                                continue 'providers;
                            }
                            Verdict::Retry => {
                                let name = up.provider().name();
                                last = Some(Ok(answer));
                                match asked {
                                    Some(wait) if !more || wait > left => {
                                        tracing::warn!(
                                            "{name} answered {status} and asked for {} s; {}",
                                            wait.as_secs(),
                                            "more than the budget or the retries allow: moving on"
                                        );
                                        continue 'providers;
                                    }
                                    Some(wait) => {
                                        tracing::warn!(
                                            "{name} answered {status}; retrying after the {} s it asked for",
                                            wait.as_secs_f32()
                                        );
                                        wait
                                    }
                                    None => {
                                        tracing::warn!(
                                            "{name} answered {status}; {}",
                                            if more { "retrying" } else { "moving on" }
                                        );
                                        backoff(attempt)
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!("{e}; {}", if more { "retrying" } else { "moving on" });
                        last = Some(Err(ChainError::Transport(e)));
                        backoff(attempt)
                    }
                };
                if more {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(wait.min(left)).await;
                }
            }
        }
        last.unwrap_or_else(|| {
            Err(ChainError::Transport(UpstreamError::Timeout {
                url: self.primary().shown_endpoint(),
                secs: self.budget.as_secs(),
                setting: "l3_budget_secs",
            }))
        })
    }
}

/// The jittered exponential backoff before retry `attempt + 1`.
fn backoff(attempt: u32) -> Duration {
    let jitter = 0.5 + fastrand::f64();
    BACKOFF.mul_f64(jitter * 2f64.powi(attempt as i32))
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
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
    fn retry_after_takes_seconds_or_a_date() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        h.insert(
            header::RETRY_AFTER,
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let wait = retry_after(&h).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        h.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
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
