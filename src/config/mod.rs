//! Typed configuration: built-in defaults < `isartor.toml` < `ISARTOR__SECTION__KEY` environment
//! variables, then [`Config::validate`] with messages that name the key, the value and what is
//! allowed. Unknown keys are errors, never silently ignored.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

mod provider;
mod proxy;
mod server;
mod usage;

pub use provider::{Provider, ProviderConfig, ProviderSettings};
pub use proxy::{DEFAULT_INTERCEPT_HOSTS, Override, ProxyConfig, host_matches};
pub use server::ServerConfig;
pub use usage::{
    BudgetAction, BudgetConfig, Period, Price, Scope, UsageConfig, bare_model, validate_budgets,
};

/// The prefix of configuration environment variables; sections and keys are joined by `__`.
pub const ENV_PREFIX: &str = "ISARTOR__";

/// A secret string: never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheMode {
    Exact,
    Semantic,
    Both,
}

/// What the semantic cache does with a hit: serve it, or only record whether the fresh answer
/// agreed with it (to measure the false-hit rate before serving).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SemanticMode {
    #[default]
    Serve,
    Shadow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackend {
    Memory,
    Redis,
}

/// Where the local model (L2) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InferenceEngine {
    /// A GGUF model in-process (candle).
    Embedded,
    /// An OpenAI-compatible server (llama.cpp's `llama-server`, Ollama, LM Studio…).
    Sidecar,
}

/// Which server classifies and answers for L2: the `inference_engine`, or a vLLM server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouterBackend {
    Engine,
    Vllm,
}

/// How L2 sorts requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassifierMode {
    /// TEMPLATE and SNIPPET are answered locally, COMPLEX goes to L3.
    Tiered,
    /// SIMPLE is answered locally, COMPLEX goes to L3.
    Binary,
}

/// `[layer2]`: the local model layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Layer2Config {
    pub sidecar_url: String,
    pub model_name: String,
    pub timeout_seconds: u64,
    pub classifier_mode: ClassifierMode,
    pub max_answer_tokens: u64,
}

impl Default for Layer2Config {
    fn default() -> Layer2Config {
        Layer2Config {
            sidecar_url: "http://127.0.0.1:8082/v1/chat/completions".into(),
            model_name: "local".into(),
            // Passing local answers took up to 10 s on a 2-core VM (scripts/bench-l2.sh):
            // 15 s is room for those, and half the wait a 30 s budget left a doomed answer.
            timeout_seconds: 15,
            classifier_mode: ClassifierMode::Tiered,
            max_answer_tokens: 2048,
        }
    }
}

/// The GitHub repository releases come from (`update.repo`'s default).
pub const DEFAULT_RELEASE_REPO: &str = "isartor-dev/isartor";

/// `[update]`: where `isartor update` looks for releases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateConfig {
    /// GitHub `owner/name`.
    pub repo: String,
    /// The release API (GitHub's, or a mirror that answers the same way).
    pub api_base: String,
}

impl Default for UpdateConfig {
    fn default() -> UpdateConfig {
        UpdateConfig {
            repo: DEFAULT_RELEASE_REPO.into(),
            api_base: "https://api.github.com".into(),
        }
    }
}

/// `[embedded]`: the in-process GGUF model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    pub model_path: String,
}

/// `[embedding_sidecar]`: an OpenAI-compatible `/v1/embeddings` server (llama.cpp, Ollama, TEI,
/// vLLM) that embeds for L1b instead of the in-process model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingSidecarConfig {
    /// The embeddings URL, e.g. `http://127.0.0.1:8083/v1/embeddings`; empty: in-process.
    pub sidecar_url: String,
    /// The `model` sent; it also names the vector space (entries of another are never matched).
    pub model_name: String,
    pub timeout_seconds: u64,
}

impl Default for EmbeddingSidecarConfig {
    fn default() -> EmbeddingSidecarConfig {
        EmbeddingSidecarConfig {
            sidecar_url: String::new(),
            model_name: "embeddings".into(),
            timeout_seconds: 5,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when `enable_monitoring` is on, text otherwise.
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheScope {
    Tenant,
    Global,
}

/// Every setting. Field names are the toml keys; `ISARTOR__<NAME>` overrides each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub host_port: String,
    pub proxy_port: String,
    pub gateway_api_key: Secret,
    pub cache_mode: CacheMode,
    pub similarity_threshold: f64,
    pub semantic_mode: SemanticMode,
    pub cache_ttl_secs: u64,
    pub cache_max_capacity: u64,
    pub serve_stale_on_error: bool,
    pub stale_ttl_secs: u64,
    pub cache_backend: CacheBackend,
    pub redis_url: String,
    pub redis_timeout_ms: u64,
    pub cache_scope: CacheScope,
    pub embedding_model: String,
    pub llm_provider: Provider,
    pub external_llm_url: String,
    pub external_llm_api_key: Secret,
    pub external_llm_api_key_file: String,
    pub external_llm_model: String,
    pub azure_deployment_id: String,
    pub azure_api_version: String,
    pub l3_timeout_secs: u64,
    pub l3_retries: u32,
    pub l3_budget_secs: u64,
    pub fallback_providers: Vec<ProviderConfig>,
    pub offline_mode: bool,
    pub enable_monitoring: bool,
    pub otel_exporter_endpoint: String,
    pub log_format: LogFormat,
    pub max_body_bytes: u64,
    pub cost_per_1k_tokens: f64,
    /// Prompt-cache breakpoints in requests translated into Anthropic Messages.
    pub anthropic_prompt_cache: bool,
    /// Prices per model-name prefix, over the shipped table (`[prices."gpt-4o"]`).
    pub prices: std::collections::BTreeMap<String, Price>,
    pub enable_slm_router: bool,
    pub inference_engine: InferenceEngine,
    pub router_backend: RouterBackend,
    pub vllm_url: String,
    pub vllm_model: String,
    pub layer2: Layer2Config,
    pub embedded: EmbeddedConfig,
    pub embedding_sidecar: EmbeddingSidecarConfig,
    pub update: UpdateConfig,
    pub proxy: ProxyConfig,
    pub server: ServerConfig,
    pub usage: UsageConfig,
    /// Spending limits on the cloud (`[[budgets]]`).
    pub budgets: Vec<BudgetConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            host_port: "127.0.0.1:8080".into(),
            proxy_port: "127.0.0.1:8081".into(),
            gateway_api_key: Secret::default(),
            cache_mode: CacheMode::Both,
            similarity_threshold: 0.85,
            semantic_mode: SemanticMode::Serve,
            cache_ttl_secs: 300,
            cache_max_capacity: 10_000,
            serve_stale_on_error: false,
            stale_ttl_secs: 3600,
            cache_backend: CacheBackend::Memory,
            redis_url: String::new(),
            redis_timeout_ms: 50,
            cache_scope: CacheScope::Tenant,
            embedding_model: "all-minilm-l6-v2".into(),
            llm_provider: Provider::Openai,
            external_llm_url: String::new(),
            external_llm_api_key: Secret::default(),
            external_llm_api_key_file: String::new(),
            external_llm_model: "gpt-4o-mini".into(),
            azure_deployment_id: String::new(),
            azure_api_version: "2024-10-21".into(),
            l3_timeout_secs: 120,
            l3_retries: 1,
            l3_budget_secs: 180,
            fallback_providers: Vec::new(),
            offline_mode: false,
            enable_monitoring: false,
            otel_exporter_endpoint: String::new(),
            log_format: LogFormat::Auto,
            max_body_bytes: 32 * 1024 * 1024,
            cost_per_1k_tokens: 0.01,
            anthropic_prompt_cache: true,
            prices: std::collections::BTreeMap::new(),
            enable_slm_router: false,
            inference_engine: InferenceEngine::Embedded,
            router_backend: RouterBackend::Engine,
            vllm_url: "http://127.0.0.1:8000/v1/chat/completions".into(),
            vllm_model: String::new(),
            layer2: Layer2Config::default(),
            embedded: EmbeddedConfig::default(),
            embedding_sidecar: EmbeddingSidecarConfig::default(),
            update: UpdateConfig::default(),
            proxy: ProxyConfig::default(),
            server: ServerConfig::default(),
            usage: UsageConfig::default(),
            budgets: Vec::new(),
        }
    }
}

/// What a validated configuration parses to: addresses, overrides and provider endpoints and
/// keys, typed, read once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the gateway listens.
    pub listen: SocketAddr,
    /// Where the proxy listens (`None` when `proxy.enabled` is off).
    pub proxy_listen: Option<SocketAddr>,
    pub overrides: Vec<Override>,
    /// The primary provider, then the fallbacks, in order.
    pub providers: Vec<ProviderSettings>,
}

/// A configuration problem, worded for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// A loaded configuration and the file it came from.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

/// Warnings about variables that look like settings but are not read: a single-underscore
/// lookalike of a real key (`ISARTOR_CACHE_MODE` for `ISARTOR__CACHE_MODE`).
pub fn env_warnings<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let keys = Config::keys();
    let mut out: Vec<String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("ISARTOR_") && !k.starts_with(ENV_PREFIX))
        .filter_map(|(var, _)| {
            let loose = var["ISARTOR_".len()..].to_ascii_lowercase();
            keys.iter()
                .find(|(k, _)| k.replace('.', "_") == loose)
                .map(|(key, _)| {
                    format!(
                        "{var} is ignored: configuration variables use a double underscore, did you mean {}?",
                        env_name(key)
                    )
                })
        })
        .collect();
    out.sort();
    out
}

impl Config {
    /// Loads defaults < file < environment. `explicit` is `--config PATH` (must exist);
    /// otherwise `default_file` is read when present.
    pub fn load(
        explicit: Option<&Path>,
        default_file: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let file = match explicit {
            Some(p) if !p.exists() => {
                return Err(err(format!("config file {} does not exist", p.display())));
            }
            Some(p) => Some(p.to_path_buf()),
            None => default_file.exists().then(|| default_file.to_path_buf()),
        };
        let text = match &file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| err(format!("cannot read config file {}: {e}", path.display())))?,
            ),
            None => None,
        };
        let source = file.as_ref().map(|p| p.display().to_string());
        let config = Config::parse(text.as_deref(), source.as_deref().unwrap_or(""), env)?;
        Ok(Loaded { config, file })
    }

    /// Builds and validates a configuration from a file's text (`source` names it in messages)
    /// and the environment.
    pub fn parse(
        text: Option<&str>,
        source: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = Table::new();
        if let Some(text) = text {
            // Deserialising the file alone gives errors with its own line numbers.
            toml::from_str::<Config>(text).map_err(|e| err(format!("in {source}: {e}")))?;
            table = text.parse::<Table>().map_err(|e| err(e.to_string()))?;
        }
        merge(&mut table, env_overrides(env)?);
        let config = Config::deserialize(Value::Table(table)).map_err(|e| err(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and combinations (every message names the key, the value and what is
    /// allowed) and returns what the settings parse to, so nothing parses them again where
    /// they are used.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let listen = self.listen_addr()?;
        let proxy_listen = match self.proxy.enabled {
            true => Some(self.proxy_addr()?),
            false => None,
        };
        self.proxy.validate()?;
        let overrides = self.proxy.overrides()?;
        self.server.validate(self.max_body_bytes)?;
        if !(self.similarity_threshold > 0.0 && self.similarity_threshold <= 1.0) {
            return Err(err(format!(
                "similarity_threshold = {}: must be greater than 0 and at most 1",
                self.similarity_threshold
            )));
        }
        for (model, p) in &self.prices {
            let all = [Some(p.input), Some(p.output), p.cache_read, p.cache_write];
            if !all.iter().flatten().all(|v| *v >= 0.0 && v.is_finite()) {
                return Err(err(format!(
                    "prices.{model:?}: prices are dollars per million tokens, zero or more"
                )));
            }
        }
        if !(self.cost_per_1k_tokens >= 0.0 && self.cost_per_1k_tokens.is_finite()) {
            return Err(err(format!(
                "cost_per_1k_tokens = {}: must be a price of zero or more",
                self.cost_per_1k_tokens
            )));
        }
        usage::validate_budgets(&self.budgets)?;
        for (key, value) in [
            ("usage.retention_days", self.usage.retention_days),
            ("cache_ttl_secs", self.cache_ttl_secs),
            ("cache_max_capacity", self.cache_max_capacity),
            ("stale_ttl_secs", self.stale_ttl_secs),
            ("l3_timeout_secs", self.l3_timeout_secs),
            ("l3_budget_secs", self.l3_budget_secs),
            ("max_body_bytes", self.max_body_bytes),
            ("redis_timeout_ms", self.redis_timeout_ms),
            ("layer2.timeout_seconds", self.layer2.timeout_seconds),
            ("layer2.max_answer_tokens", self.layer2.max_answer_tokens),
            (
                "embedding_sidecar.timeout_seconds",
                self.embedding_sidecar.timeout_seconds,
            ),
        ] {
            if value == 0 {
                return Err(err(format!("{key} = 0: must be at least 1")));
            }
        }
        if self.cache_backend == CacheBackend::Redis
            && !(self.redis_url.starts_with("redis://") || self.redis_url.starts_with("rediss://"))
        {
            return Err(err(format!(
                "redis_url = {:?}: cache_backend = \"redis\" needs a redis:// or rediss:// URL",
                self.redis_url
            )));
        }
        let sidecar = &self.embedding_sidecar.sidecar_url;
        if !(sidecar.is_empty()
            || sidecar.starts_with("http://")
            || sidecar.starts_with("https://"))
        {
            return Err(err(format!(
                "embedding_sidecar.sidecar_url = {sidecar:?}: must be empty (embed in-process) or \
                 the http:// or https:// URL of an OpenAI-compatible /v1/embeddings endpoint"
            )));
        }
        for (key, url) in [
            ("layer2.sidecar_url", &self.layer2.sidecar_url),
            ("vllm_url", &self.vllm_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(err(format!(
                    "{key} = {url:?}: must be the http:// or https:// URL of an OpenAI-compatible \
                     chat completions endpoint"
                )));
            }
        }
        if self.enable_slm_router
            && self.router_backend == RouterBackend::Vllm
            && self.vllm_model.is_empty()
        {
            return Err(err(
                "vllm_model is empty: router_backend = \"vllm\" needs the model name the vLLM \
                 server serves",
            ));
        }
        let otel = self.otel_exporter_endpoint.as_str();
        if !(otel.is_empty() || otel.starts_with("http://") || otel.starts_with("https://")) {
            return Err(err(format!(
                "otel_exporter_endpoint = {:?}: must be an http:// or https:// URL of an OTLP/HTTP \
                 collector, such as http://127.0.0.1:4318",
                self.otel_exporter_endpoint
            )));
        }
        let mut providers = vec![self.primary().validate("")?];
        for (i, p) in self.fallback_providers.iter().enumerate() {
            providers.push(p.validate(&format!("fallback_providers[{i}]."))?);
        }
        Ok(Settings {
            listen,
            proxy_listen,
            overrides,
            providers,
        })
    }

    /// Whether log lines are JSON objects (see [`LogFormat`]).
    pub fn json_logs(&self) -> bool {
        match self.log_format {
            LogFormat::Auto => self.enable_monitoring,
            LogFormat::Text => false,
            LogFormat::Json => true,
        }
    }

    /// The address to listen on (`localhost` is accepted and means 127.0.0.1).
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        socket_addr("host_port", &self.host_port, "127.0.0.1:8080")
    }

    /// The address of the CONNECT proxy (`proxy_port`).
    pub fn proxy_addr(&self) -> Result<SocketAddr, ConfigError> {
        socket_addr("proxy_port", &self.proxy_port, "127.0.0.1:8081")
    }

    /// The primary provider, from the flat top-level keys.
    pub fn primary(&self) -> ProviderConfig {
        ProviderConfig {
            llm_provider: self.llm_provider,
            external_llm_url: self.external_llm_url.clone(),
            external_llm_api_key: self.external_llm_api_key.clone(),
            external_llm_api_key_file: self.external_llm_api_key_file.clone(),
            azure_deployment_id: self.azure_deployment_id.clone(),
            azure_api_version: self.azure_api_version.clone(),
            model: String::new(),
        }
    }

    /// The total time L3 may spend getting response headers, over all attempts and providers.
    pub fn l3_budget(&self) -> Duration {
        Duration::from_secs(self.l3_budget_secs)
    }

    pub fn l3_timeout(&self) -> Duration {
        Duration::from_secs(self.l3_timeout_secs)
    }

    /// Every key as (dotted name, default value), for docs and the misspelling check.
    pub fn keys() -> Vec<(String, Value)> {
        let defaults = Value::try_from(Config::default()).expect("defaults serialise");
        let mut out = Vec::new();
        flatten("", &defaults, &mut out);
        out
    }
}

/// Parses `IP:PORT` (or `localhost:PORT`, or a resolvable `host:PORT`) for the key `key`.
fn socket_addr(key: &str, value: &str, example: &str) -> Result<SocketAddr, ConfigError> {
    let bad = || {
        err(format!(
            "{key} = {value:?}: expected IP:PORT such as {example}"
        ))
    };
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    match value.split_once(':') {
        Some(("localhost", port)) => {
            let port: u16 = port.parse().map_err(|_| bad())?;
            Ok(SocketAddr::from(([127, 0, 0, 1], port)))
        }
        Some(_) => value
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(bad),
        None => Err(bad()),
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Table(t) => {
            for (k, v) in t {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn merge(into: &mut Table, from: Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Table(a)), Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// The env variable name of a dotted key: `layer2.sidecar_url` → `ISARTOR__LAYER2__SIDECAR_URL`.
pub fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.replace('.', "__").to_ascii_uppercase()
    )
}

/// Turns `ISARTOR__…` variables into a table typed like the defaults.
fn env_overrides(env: impl IntoIterator<Item = (String, String)>) -> Result<Table, ConfigError> {
    let keys = Config::keys();
    let mut table = Table::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let rest = &var[ENV_PREFIX.len()..];
        let dotted = rest.to_ascii_lowercase().replace("__", ".");
        if dotted == "fallback_providers" || dotted == "budgets" {
            return Err(err(format!(
                "{var}: {dotted} are tables; set them as [[{dotted}]] in isartor.toml"
            )));
        }
        let Some((_, default)) = keys.iter().find(|(k, _)| *k == dotted) else {
            return Err(err(format!(
                "{var}: unknown setting {dotted:?}; docs/configuration.md lists every key"
            )));
        };
        let value = typed_like(default, &raw)
            .map_err(|allowed| err(format!("{var} = {raw:?}: expected {allowed}")))?;
        let mut single = Table::new();
        insert_dotted(&mut single, &dotted, value);
        // Deserialise this one value alone so a bad enum value names its variable.
        Config::deserialize(Value::Table(single.clone()))
            .map_err(|e| err(format!("{var} = {raw:?}: {e}")))?;
        merge(&mut table, single);
    }
    Ok(table)
}

fn typed_like(default: &Value, raw: &str) -> Result<Value, &'static str> {
    let raw = raw.trim();
    Ok(match default {
        Value::String(_) => Value::String(raw.to_string()),
        Value::Integer(_) => Value::Integer(raw.parse().map_err(|_| "a whole number")?),
        Value::Float(_) => Value::Float(raw.parse().map_err(|_| "a number such as 0.85")?),
        Value::Boolean(_) => Value::Boolean(match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err("true or false"),
        }),
        Value::Array(_) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        Value::Datetime(_) | Value::Table(_) => return Err("a section's keys, not the section"),
    })
}

fn insert_dotted(table: &mut Table, dotted: &str, value: Value) {
    match dotted.split_once('.') {
        None => {
            table.insert(dotted.to_string(), value);
        }
        Some((head, rest)) => {
            let sub = table
                .entry(head.to_string())
                .or_insert_with(|| Value::Table(Table::new()));
            if let Value::Table(sub) = sub {
                insert_dotted(sub, rest, value);
            }
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
