//! A local model served over HTTP as the L2 engine: any OpenAI-compatible chat completions
//! endpoint (llama.cpp's `llama-server`, vLLM, Ollama, LM Studio). One short, non-streamed call
//! per classification or answer, bounded by `layer2.timeout_seconds`.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

pub use super::Completion;

pub struct Sidecar {
    client: reqwest::Client,
    url: String,
    model: String,
    timeout: Duration,
}

impl Sidecar {
    pub fn new(url: &str, model: &str, timeout: Duration) -> Result<Sidecar> {
        Ok(Sidecar {
            client: crate::upstream::http_client(timeout.min(Duration::from_secs(5)))?,
            url: url.to_string(),
            model: model.to_string(),
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One chat completion at temperature 0; `messages` are `(role, content)` pairs.
    pub async fn complete(&self, messages: &[(&str, &str)], max_tokens: u64) -> Result<Completion> {
        let body = json!({
            "model": self.model,
            "messages": messages
                .iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect::<Vec<_>>(),
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": false,
        });
        let call = async {
            let response = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .with_context(|| format!("cannot reach the local model at {}", self.url))?;
            let status = response.status();
            let bytes = response.bytes().await?;
            if !status.is_success() {
                bail!(
                    "the local model at {} answered {status}: {}",
                    self.url,
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                );
            }
            let v: Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("the local model at {} sent no JSON", self.url))?;
            let text = v["choices"][0]["message"]["content"]
                .as_str()
                .ok_or_else(|| anyhow!("the local model at {} sent no message", self.url))?;
            Ok(Completion {
                text: text.to_string(),
                input_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
                output_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
                model: v["model"].as_str().unwrap_or(&self.model).to_string(),
                // Cut by the limit: said so, or as long as the limit (a server that leaves
                // `finish_reason` out must not get a truncated answer served).
                cut: (v["choices"][0]["finish_reason"] == "length"
                    || v["usage"]["completion_tokens"].as_u64() >= Some(max_tokens))
                .then_some(super::CUT_AT_LIMIT),
            })
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| {
                anyhow!(
                    "the local model at {} did not answer within {} s (layer2.timeout_seconds)",
                    self.url,
                    self.timeout.as_secs()
                )
            })?
    }
}
