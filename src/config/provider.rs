//! Provider settings: which cloud L3 calls and how to reach it. The primary provider is the flat
//! `llm_provider` / `external_llm_*` keys; `[[fallback_providers]]` tables add more, tried in
//! order when the one before fails.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, err};
use crate::exchange::Family;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Openai,
    Azure,
    Anthropic,
    Xai,
    Gemini,
    Ollama,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::Azure => "azure",
            Provider::Anthropic => "anthropic",
            Provider::Xai => "xai",
            Provider::Gemini => "gemini",
            Provider::Ollama => "ollama",
        }
    }

    /// The protocol family the provider speaks (`None` would mark one not built yet).
    pub fn family(self) -> Option<Family> {
        match self {
            Provider::Openai | Provider::Azure | Provider::Xai | Provider::Ollama => {
                Some(Family::OpenAi)
            }
            Provider::Anthropic => Some(Family::Anthropic),
            Provider::Gemini => Some(Family::Gemini),
        }
    }

    /// Whether calls need an API key (a local ollama does not).
    pub fn needs_key(self) -> bool {
        self != Provider::Ollama
    }

    fn default_url(self) -> Option<&'static str> {
        match self {
            Provider::Openai => Some("https://api.openai.com/v1/chat/completions"),
            Provider::Xai => Some("https://api.x.ai/v1/chat/completions"),
            Provider::Ollama => Some("http://127.0.0.1:11434/v1/chat/completions"),
            Provider::Anthropic => Some("https://api.anthropic.com/v1/messages"),
            Provider::Gemini => Some("https://generativelanguage.googleapis.com/v1beta"),
            Provider::Azure => None,
        }
    }
}

/// One provider as validated: its endpoint completed, its key read (from the setting or the
/// key file), its model override.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub provider: Provider,
    pub endpoint: String,
    pub key: Option<Secret>,
    pub model: Option<String>,
}

/// One provider. In `[[fallback_providers]]` the keys are the same as the primary's top-level
/// ones, plus `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    pub llm_provider: Provider,
    pub external_llm_url: String,
    pub external_llm_api_key: Secret,
    pub external_llm_api_key_file: String,
    pub azure_deployment_id: String,
    pub azure_api_version: String,
    /// Replaces the client's model at this provider; empty keeps it. A fallback of another
    /// family needs one (an Anthropic provider does not know `gpt-4o-mini`).
    pub model: String,
}

impl Default for ProviderConfig {
    fn default() -> ProviderConfig {
        ProviderConfig {
            llm_provider: Provider::Openai,
            external_llm_url: String::new(),
            external_llm_api_key: Secret::default(),
            external_llm_api_key_file: String::new(),
            azure_deployment_id: String::new(),
            azure_api_version: "2024-10-21".into(),
            model: String::new(),
        }
    }
}

impl ProviderConfig {
    /// Checks the provider; `at` prefixes key names in messages (`""` or `fallback_providers[0].`).
    pub fn validate(&self, at: &str) -> Result<ProviderSettings, ConfigError> {
        if self.llm_provider.family().is_none() {
            return Err(err(format!(
                "{at}llm_provider = \"{}\": not available in this build",
                self.llm_provider.name()
            )));
        }
        let key = match (
            self.external_llm_api_key.is_empty(),
            self.external_llm_api_key_file.is_empty(),
        ) {
            (false, _) => Some(self.external_llm_api_key.clone()),
            (true, false) => Some(Secret(self.read_key_file(at)?)).filter(|k| !k.is_empty()),
            (true, true) => None,
        };
        Ok(ProviderSettings {
            provider: self.llm_provider,
            endpoint: self.endpoint(at)?,
            key,
            model: (!self.model.is_empty()).then(|| self.model.clone()),
        })
    }

    fn read_key_file(&self, at: &str) -> Result<String, ConfigError> {
        let path = &self.external_llm_api_key_file;
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| {
                err(format!(
                    "{at}external_llm_api_key_file = {path:?}: cannot read it: {e}"
                ))
            })
    }

    /// The full endpoint URL: the configured one (a base URL is completed) or the provider's.
    pub fn endpoint(&self, at: &str) -> Result<String, ConfigError> {
        let provider = self.llm_provider;
        let configured = self.external_llm_url.trim();
        if configured.is_empty() {
            return provider.default_url().map(str::to_string).ok_or_else(|| {
                err(format!(
                    "{at}external_llm_url is empty: llm_provider = \"{}\" needs it, e.g. https://<resource>.openai.azure.com",
                    provider.name()
                ))
            });
        }
        let url = reqwest::Url::parse(configured).map_err(|e| {
            err(format!(
                "{at}external_llm_url = {configured:?}: not a URL ({e}); expected e.g. https://api.openai.com/v1"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(err(format!(
                "{at}external_llm_url = {configured:?}: the scheme must be http or https"
            )));
        }
        let base = configured.trim_end_matches('/');
        if provider == Provider::Gemini {
            // The model and method go in the path per request: keep the API base.
            return Ok(base.to_string());
        }
        if provider.family() == Some(Family::Anthropic) {
            return Ok(match base {
                b if b.ends_with("/messages") => b.to_string(),
                b if b.ends_with("/v1") => format!("{b}/messages"),
                b => format!("{b}/v1/messages"),
            });
        }
        if url.path().ends_with("/chat/completions") {
            return Ok(configured.to_string());
        }
        if provider == Provider::Azure {
            if self.azure_deployment_id.is_empty() {
                return Err(err(format!(
                    "{at}azure_deployment_id is empty: llm_provider = \"azure\" needs the deployment name"
                )));
            }
            return Ok(format!(
                "{base}/openai/deployments/{}/chat/completions?api-version={}",
                self.azure_deployment_id, self.azure_api_version
            ));
        }
        Ok(format!("{base}/chat/completions"))
    }
}
