//! The HTTP client for the configured provider. The body goes up exactly as given; only the
//! credential differs: openai and xai take a Bearer key, azure an `api-key` header (with a
//! deployment URL), anthropic `x-api-key` plus `anthropic-version`, a local ollama none.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};

use super::UpstreamError;
use crate::config::{Provider, ProviderSettings, Secret};
use crate::exchange::{Family, Format, model_family};

pub struct Upstream {
    client: reqwest::Client,
    endpoint: String,
    provider: Provider,
    key: Option<Secret>,
    model: Option<String>,
    /// A model of this provider's family to use for clients that name another family's model.
    own_model: Option<String>,
    timeout: Duration,
}

/// How a request will be authorised upstream.
pub enum Credential<'a> {
    Configured(&'a Secret),
    Client(&'a str),
    None,
}

impl Upstream {
    /// A client for one provider; `client` is shared by all of them (one connection pool).
    /// `own_model` is a model to ask this provider for when a client names another family's
    /// (kept only when it is not itself another family's).
    pub fn new(
        client: reqwest::Client,
        provider: &ProviderSettings,
        own_model: Option<&str>,
        timeout: Duration,
    ) -> Upstream {
        let family = provider.provider.family();
        let own_model = own_model
            .filter(|m| !m.is_empty())
            .filter(|m| model_family(m).is_none_or(|f| Some(f) == family))
            .map(str::to_string);
        Upstream {
            client,
            endpoint: provider.endpoint.clone(),
            provider: provider.provider,
            key: provider.key.clone(),
            model: provider.model.clone(),
            own_model,
            timeout,
        }
    }

    /// The model this provider must be asked for instead of the client's, if any.
    pub fn model_override(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The model to ask this provider for: its configured override; else the client's, unless
    /// the request is translated and the client named another family's model (Gemini CLI's
    /// `gemini-2.5-pro` at an OpenAI provider), in which case this provider's own configured
    /// model when there is one.
    pub fn model_for<'a>(&'a self, client: &'a str, native: bool) -> &'a str {
        if let Some(model) = &self.model {
            return model;
        }
        match (native, model_family(client), &self.own_model) {
            (false, Some(family), Some(own)) if family != self.family() => own,
            _ => client,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The endpoint as it may be shown (no userinfo, no `key=`).
    pub fn shown_endpoint(&self) -> String {
        crate::display::redacted_url(&self.endpoint)
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The protocol family of the provider (validated at start-up).
    pub fn family(&self) -> Family {
        self.provider.family().unwrap_or(Family::OpenAi)
    }

    /// Whether a client speaking `format` can be passed through to this provider unchanged:
    /// its own protocol family, plus OpenAI's Responses API on the `openai` provider.
    pub fn speaks(&self, format: Format) -> bool {
        format.family() == Some(self.family())
            || (format == Format::Responses && self.responses_url().is_some())
    }

    /// OpenAI's `/v1/responses`, next to the configured chat endpoint (openai only).
    fn responses_url(&self) -> Option<String> {
        (self.provider == Provider::Openai)
            .then(|| self.endpoint.strip_suffix("/chat/completions"))
            .flatten()
            .map(|base| format!("{base}/responses"))
    }

    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// The credential for a request: ours if configured, else the client's own.
    pub fn credential<'a>(&'a self, client: Option<&'a str>) -> Credential<'a> {
        match (&self.key, client) {
            (Some(k), _) => Credential::Configured(k),
            (None, Some(c)) => Credential::Client(c),
            (None, None) => Credential::None,
        }
    }

    /// Whether a request with this credential can be sent at all.
    pub fn can_send(&self, credential: &Credential<'_>) -> bool {
        !matches!(credential, Credential::None) || !self.provider.needs_key()
    }

    /// Sends `body` and returns once the response headers arrived (bounded by the L3 timeout).
    /// Where a request in `format` for `model` goes: the configured endpoint; OpenAI's
    /// `/responses` for a Responses request it speaks; or for Gemini (whose model and method are
    /// in the path) `{base}/models/{model}:generateContent` or its streaming form.
    pub fn url_for(&self, format: Format, model: &str, stream: bool) -> String {
        if format == Format::Responses
            && let Some(url) = self.responses_url()
        {
            return url;
        }
        match (self.provider, stream) {
            (Provider::Gemini, false) => {
                format!("{}/models/{model}:generateContent", self.endpoint)
            }
            (Provider::Gemini, true) => {
                format!(
                    "{}/models/{model}:streamGenerateContent?alt=sse",
                    self.endpoint
                )
            }
            _ => self.endpoint.clone(),
        }
    }

    /// The provider's token-counting endpoint (Anthropic's `/v1/messages/count_tokens`).
    pub fn count_tokens_url(&self) -> Option<String> {
        (self.provider == Provider::Anthropic).then(|| format!("{}/count_tokens", self.endpoint))
    }

    /// Sends `body` to `url` of this provider, with its credential and headers.
    pub async fn send_to(
        &self,
        url: &str,
        body: Bytes,
        headers: &HeaderMap,
        credential: Credential<'_>,
        bound: super::Bound,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut headers = headers.clone();
        if self.provider == Provider::Anthropic && !headers.contains_key("anthropic-version") {
            headers.insert(
                "anthropic-version",
                HeaderValue::from_static(crate::exchange::anthropic::API_VERSION),
            );
        }
        // Replace, never add: reqwest's `header()` appends, and a forwarded client content-type
        // plus ours would reach the provider as two headers.
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let secret = match credential {
            Credential::Configured(s) => Some(s.expose()),
            Credential::Client(s) => Some(s),
            Credential::None => None,
        };
        super::credential::apply(self.provider, &mut headers, secret);
        let request = self.client.post(url).headers(headers).body(body);
        super::send_bounded(request, url, bound).await
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}
