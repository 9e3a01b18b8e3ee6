//! The canonical request/response model that every surface decodes into and encodes from.
//!
//! An [`Exchange`] is one client request in a format-neutral shape (plus the client's raw body,
//! kept for byte-faithful pass-through). A [`Reply`] is one complete answer in a format-neutral
//! shape; caches store replies and each format renders them as JSON or SSE on the way out.

pub mod anthropic;
pub mod check;
pub mod cloudcode;
pub mod collect;
pub mod compare;
pub mod gemini;
pub mod key;
pub mod names;
pub mod native;
pub mod openai;
mod policy;
mod reply;
pub mod responses;
pub mod sse;
pub mod stream;
pub mod translate;

pub use policy::CachePolicy;
pub use reply::{Choice, FinishReason, Reply, Usage, new_id, styled_id, unix_now};

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    Gateway,
    Proxy,
}

impl Surface {
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Gateway => "gateway",
            Surface::Proxy => "proxy",
        }
    }
}

/// The wire format a client spoke. It namespaces cache keys: a reply cached for one format is
/// never served to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `POST /api/chat`: `{"prompt": "...", "model"?: "..."}`.
    Native,
    /// `POST /v1/chat/completions`.
    OpenAiChat,
    /// `POST /v1/messages` (Anthropic Messages).
    Anthropic,
    /// `POST /v1/responses` (OpenAI Responses, Codex CLI).
    Responses,
    /// `POST /v1beta/models/{model}:generateContent` (Gemini).
    Gemini,
    /// `POST /v1internal:generateContent` (Cloud Code Assist: Gemini in an envelope; proxy only).
    CloudCode,
}

/// A family of wire protocols: a request in a provider's own family goes upstream byte-faithful;
/// any other is translated through the canonical model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Family {
    /// The wire format a provider of this family speaks.
    pub fn format(self) -> Format {
        match self {
            Family::OpenAi => Format::OpenAiChat,
            Family::Anthropic => Format::Anthropic,
            Family::Gemini => Format::Gemini,
        }
    }
}

/// The stream decoder of a format's SSE (native has no stream of its own: a native request is
/// answered by an OpenAI-compatible provider, so its pass-through stream is OpenAI's).
pub fn stream_decoder(format: Format) -> Box<dyn stream::Decoder> {
    match format {
        Format::OpenAiChat | Format::Native => Box::<openai::StreamDecoder>::default(),
        Format::Anthropic => Box::<anthropic::StreamDecoder>::default(),
        Format::Responses => Box::<responses::StreamDecoder>::default(),
        Format::Gemini => Box::<gemini::StreamDecoder>::default(),
        Format::CloudCode => Box::<cloudcode::StreamDecoder>::default(),
    }
}

/// The stream encoder of a format; `None` for native, which has no streaming form.
/// `include_usage` is OpenAI's `stream_options.include_usage`.
pub fn stream_encoder(format: Format, include_usage: bool) -> Option<Box<dyn stream::Encoder>> {
    Some(match format {
        Format::OpenAiChat => Box::new(openai::StreamEncoder::new(include_usage)),
        Format::Anthropic => Box::<anthropic::StreamEncoder>::default(),
        Format::Responses => Box::<responses::StreamEncoder>::default(),
        Format::Gemini => Box::<gemini::StreamEncoder>::default(),
        Format::CloudCode => Box::<cloudcode::StreamEncoder>::default(),
        Format::Native => return None,
    })
}

/// A reply as a format's JSON body; `layer` is the native format's layer number.
pub fn render_json(format: Format, reply: &Reply, layer: u8) -> Bytes {
    match format {
        Format::OpenAiChat => openai::render_json(reply),
        Format::Anthropic => anthropic::render_json(reply),
        Format::Responses => responses::render_json(reply),
        Format::Gemini => gemini::render_json(reply),
        Format::CloudCode => cloudcode::render_json(reply),
        Format::Native => native::render_json(reply, layer),
    }
}

/// A reply as a format's SSE body (the deltas of the reply through the format's encoder); the
/// JSON body for native, which does not stream.
pub fn render_sse(format: Format, reply: &Reply, include_usage: bool) -> Vec<Bytes> {
    match stream_encoder(format, include_usage) {
        Some(encoder) => stream::replay(encoder, reply),
        None => vec![render_json(format, reply, 1)],
    }
}

/// Parses a complete (non-streamed) reply body in `format`.
pub fn parse_reply(format: Format, body: &[u8]) -> Result<Reply, DecodeError> {
    match format {
        Format::OpenAiChat | Format::Native => openai::parse_reply(body),
        Format::Anthropic => anthropic::parse_reply(body),
        Format::Responses => responses::parse_reply(body),
        Format::Gemini => gemini::parse_reply(body),
        Format::CloudCode => cloudcode::parse_reply(body),
    }
}

impl Format {
    /// The format of an inference call by its path (the query aside): the one table both
    /// listeners use.
    pub fn from_path(path: &str) -> Option<Format> {
        Some(match path {
            "/api/chat" => Format::Native,
            "/v1/chat/completions" | "/chat/completions" => Format::OpenAiChat,
            "/v1/messages" => Format::Anthropic,
            "/v1/responses" | "/responses" => Format::Responses,
            p if gemini::model_in_path(p).is_some() => Format::Gemini,
            p if cloudcode::route(p).is_some() => Format::CloudCode,
            _ => return None,
        })
    }

    /// The namespace string that enters the cache key.
    pub fn namespace(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::OpenAiChat => "openai.chat",
            Format::Anthropic => "anthropic.messages",
            Format::Responses => "openai.responses",
            Format::Gemini => "gemini.generate",
            Format::CloudCode => "cloudcode.generate",
        }
    }

    /// The provider family a client in this format can be passed through to byte-faithful.
    /// Native has none; Responses none as a family (only the `openai` provider speaks it, see
    /// `upstream::client::Upstream::speaks`).
    pub fn family(self) -> Option<Family> {
        match self {
            // Cloud Code is only ever sent to its own host, by the proxy.
            Format::Native | Format::Responses | Format::CloudCode => None,
            Format::Gemini => Some(Family::Gemini),
            Format::OpenAiChat => Some(Family::OpenAi),
            Format::Anthropic => Some(Family::Anthropic),
        }
    }
}

/// One piece of message content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text {
        text: String,
    },
    /// A call the assistant asked for; `arguments` is the JSON text as the model wrote it.
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    /// The result a client sends back for a tool call.
    ToolResult {
        id: String,
        content: Vec<Part>,
        /// The tool failed (Anthropic `is_error`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    /// An assistant refusal (OpenAI `refusal`).
    Refusal {
        text: String,
    },
    /// Anything else (images, audio, files): kept as JSON, compared canonically.
    Other {
        value: Value,
    },
}

impl Part {
    pub fn text(text: impl Into<String>) -> Part {
        Part::Text { text: text.into() }
    }
}

/// A conversation turn. Roles are the client's own words (`user`, `assistant`, `tool`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub parts: Vec<Part>,
    /// Extra per-message fields that affect the answer (e.g. OpenAI `name`), canonical JSON.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Value>,
}

impl Message {
    /// The first text part of this turn, without copying.
    pub fn first_text(&self) -> Option<&str> {
        self.parts.iter().find_map(|p| match p {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
        })
    }

    /// The concatenated text parts of this turn.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            if let Part::Text { text } = part {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(text);
            }
        }
        out
    }
}

/// The client program behind a request, guessed from its User-Agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub tool: String,
}

impl ClientInfo {
    pub fn from_user_agent(user_agent: Option<&str>) -> ClientInfo {
        ClientInfo {
            tool: client_tool(user_agent.unwrap_or("")).to_string(),
        }
    }

    /// The client behind a request: its User-Agent, or for clients that send a generic one
    /// (Copilot CLI on a BYOK provider uses the OpenAI JS SDK's), a header of their own.
    pub fn from_headers(headers: &http::HeaderMap) -> ClientInfo {
        let ua = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let mut info = ClientInfo::from_user_agent(ua);
        if headers.contains_key(names::X_INTERACTION_TYPE)
            || headers.contains_key(names::X_INITIATOR)
        {
            info.tool = "copilot".into();
        }
        info
    }
}

/// Maps a User-Agent to a short tool name for telemetry.
pub fn client_tool(user_agent: &str) -> &'static str {
    let ua = user_agent.to_ascii_lowercase();
    const KNOWN: &[(&str, &str)] = &[
        ("claude-cli", "claude-code"),
        ("claude-code", "claude-code"),
        ("codex", "codex"),
        ("githubcopilot", "copilot"),
        ("copilot", "copilot"),
        ("antigravity", "antigravity"),
        ("geminicli", "gemini-cli"),
        ("gemini-cli", "gemini-cli"),
        ("opencode", "opencode"),
        ("qwencode", "qwen-code"),
        ("qwen-code", "qwen-code"),
        ("anthropic/python", "anthropic-python"),
        ("anthropic/js", "anthropic-js"),
        ("openai/python", "openai-python"),
        ("openai/js", "openai-js"),
        ("curl/", "curl"),
        ("python-requests", "python-requests"),
        ("wrk", "wrk"),
    ];
    if ua.is_empty() {
        return "unknown";
    }
    KNOWN
        .iter()
        .find(|(needle, _)| ua.contains(needle))
        .map(|(_, tool)| *tool)
        .unwrap_or("other")
}

/// Who sent a request and where it arrived: what a decoder needs besides the body.
#[derive(Debug, Clone)]
pub struct Origin {
    pub surface: Surface,
    pub tenant: String,
    pub client: ClientInfo,
    /// Client headers worth forwarding upstream (hop-by-hop and credentials already removed).
    pub headers: http::HeaderMap,
    /// The client's own upstream credential, used for L3 when no provider key is configured.
    pub credential: Option<String>,
    /// Set by the proxy: L3 is the client's own upstream, not the configured provider.
    pub destination: Option<Arc<Destination>>,
}

/// Where a proxied request goes at L3: the host the client was talking to (or its
/// `proxy.upstream_overrides` entry), with the client's own headers and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The full URL, path and query included.
    pub url: String,
    /// A provider name for events and metrics (`openai`, `anthropic`, `copilot`, …).
    pub provider: &'static str,
}

impl Origin {
    /// An origin with no client details (in-process callers, tests, benches).
    pub fn new(surface: Surface, tenant: impl Into<String>) -> Origin {
        Origin {
            surface,
            tenant: tenant.into(),
            client: ClientInfo::default(),
            headers: http::HeaderMap::new(),
            credential: None,
            destination: None,
        }
    }
}

/// One client request in canonical form.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub surface: Surface,
    pub format: Format,
    /// Cache scope: a hash of the caller's credential, or `global`.
    pub tenant: String,
    pub model: String,
    /// System instructions, in order (leading system/developer turns for OpenAI).
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Option<Value>,
    pub tool_choice: Option<Value>,
    /// Every other top-level field that can change the answer (temperature, max_tokens, …).
    pub params: BTreeMap<String, Value>,
    /// Whether the client asked for a streamed (SSE) reply. Not part of the cache key.
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`: render a usage chunk when streaming.
    pub stream_usage: bool,
    /// The client's body exactly as sent, for byte-faithful pass-through.
    pub raw: Bytes,
    pub client: ClientInfo,
    /// Client headers to forward upstream with `raw` (with the credentials only when the
    /// upstream is the client's own, see [`Exchange::destination`]).
    pub headers: http::HeaderMap,
    /// The client's own upstream credential (see [`Origin::credential`]).
    pub credential: Option<String>,
    /// A proxied request's own upstream (see [`Origin::destination`]).
    pub destination: Option<Arc<Destination>>,
    /// What the request asks of the caches.
    pub cache: CachePolicy,
    /// The client's own session id, when it sends one (Claude Code's `metadata.user_id`, the
    /// `prompt_cache_key` of Codex and the OpenAI SDKs); never part of the cache key.
    pub session: Option<String>,
}

impl Exchange {
    /// An exchange with no system prompt, tools or params, not streamed; decoders set the rest.
    pub fn new(
        origin: Origin,
        format: Format,
        model: String,
        messages: Vec<Message>,
        raw: Bytes,
    ) -> Exchange {
        Exchange {
            surface: origin.surface,
            format,
            tenant: origin.tenant,
            model,
            system: Vec::new(),
            messages,
            tools: None,
            tool_choice: None,
            params: BTreeMap::new(),
            stream: false,
            stream_usage: false,
            raw,
            client: origin.client,
            headers: origin.headers,
            credential: origin.credential,
            destination: origin.destination,
            cache: CachePolicy::default(),
            session: None,
        }
    }

    /// The last user turn.
    pub fn last_user_turn(&self) -> Option<&Message> {
        self.messages.iter().rev().find(|m| m.role == "user")
    }

    /// The last user turn's text.
    pub fn last_user_text(&self) -> Option<String> {
        self.last_user_turn().map(Message::text)
    }

    /// A rough token count of the prompt (4 bytes per token) for when no usage is known.
    pub fn estimated_prompt_tokens(&self) -> u64 {
        let system: usize = self.system.iter().map(String::len).sum();
        let messages: usize = self.messages.iter().map(|m| m.text().len()).sum();
        estimate_tokens(system + messages)
    }
}

/// Estimated tokens for `bytes` of English text or code.
pub fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

/// The provider family a model name belongs to, when it says (`claude-…`, `gemini-…`,
/// `gpt-…`/`o1`/`o3`/`o4`/`chatgpt-…`); `None` for anything else (local models, aliases).
pub fn model_family(model: &str) -> Option<Family> {
    let m = model.trim_start_matches("models/").to_ascii_lowercase();
    if m.starts_with("claude") {
        Some(Family::Anthropic)
    } else if m.starts_with("gemini") {
        Some(Family::Gemini)
    } else if m.starts_with("gpt-")
        || m.starts_with("chatgpt")
        || ["o1", "o3", "o4"]
            .iter()
            .any(|p| m == *p || m.starts_with(&format!("{p}-")))
    {
        Some(Family::OpenAi)
    } else {
        None
    }
}

/// Whether a client-given name (a Gemini model) can be one segment of an upstream URL path: ASCII
/// letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most 128 bytes. This
/// refuses `..`, slashes, percent-encoded separators and anything else that could move a request
/// that carries our key to another path on the provider.
pub fn is_path_segment(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes[0].is_ascii_alphanumeric()
        && !name.contains("..")
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Why a request (or a reply) could not be decoded: becomes a 400 in the client's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub message: String,
    /// The offending parameter, when there is one (OpenAI reports it as `param`).
    pub param: Option<String>,
}

impl DecodeError {
    pub fn new(message: impl Into<String>) -> DecodeError {
        DecodeError {
            message: message.into(),
            param: None,
        }
    }

    pub fn param(param: &str, message: impl Into<String>) -> DecodeError {
        DecodeError {
            message: message.into(),
            param: Some(param.to_string()),
        }
    }
}

/// A request body as a JSON object, or the 400 that explains why it is not one.
pub(crate) fn json_object(raw: &[u8]) -> Result<serde_json::Map<String, Value>, DecodeError> {
    match serde_json::from_slice(raw) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(DecodeError::new("request body must be a JSON object")),
        Err(e) => Err(DecodeError::new(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

/// What every model-addressed JSON format starts with: the body, its `model`, its `stream`.
pub(crate) struct Head {
    pub obj: serde_json::Map<String, Value>,
    pub model: String,
    pub stream: bool,
}

/// The request's remaining top-level fields (those that can change the answer): everything but
/// nulls and the names in `skip` (volatile fields and those with a slot of their own).
pub(crate) fn other_fields(
    obj: &serde_json::Map<String, Value>,
    skip: &[&[&str]],
) -> BTreeMap<String, Value> {
    obj.iter()
        .filter(|(k, v)| !v.is_null() && !skip.iter().any(|names| names.contains(&k.as_str())))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub(crate) fn decode_head(raw: &[u8]) -> Result<Head, DecodeError> {
    let obj = json_object(raw)?;
    let model = match obj.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(Value::String(_)) | None => {
            return Err(DecodeError::param(
                "model",
                "missing required field: 'model'",
            ));
        }
        Some(_) => return Err(DecodeError::param("model", "'model' must be a string")),
    };
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(DecodeError::param("stream", "'stream' must be a boolean")),
    };
    Ok(Head { obj, model, stream })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_path_segments() {
        for ok in [
            "gemini-2.5-flash",
            "gemini-2.0-flash-001",
            "my_model.v2",
            "m",
        ] {
            assert!(is_path_segment(ok), "{ok}");
        }
        for bad in [
            "",
            "../../secret/admin",
            "..",
            "a/b",
            "a%2Fb",
            "a\\b",
            ".hidden",
            "a..b",
            "a b",
            "a?x=1",
            "a#f",
            "é",
        ] {
            assert!(!is_path_segment(bad), "{bad}");
        }
        assert!(!is_path_segment(&"a".repeat(129)));
    }

    #[test]
    fn client_tool_recognises_common_agents() {
        assert_eq!(
            client_tool("claude-cli/1.0.3 (external, cli)"),
            "claude-code"
        );
        assert_eq!(client_tool("OpenAI/Python 1.99.0"), "openai-python");
        assert_eq!(client_tool("curl/8.5.0"), "curl");
        assert_eq!(client_tool(""), "unknown");
        assert_eq!(client_tool("Mozilla/5.0"), "other");
        for (ua, tool) in [
            (
                "GeminiCLI-tui/0.61.0/gemini-2.5-flash (linux; x64; terminal)",
                "gemini-cli",
            ),
            (
                "opencode/1.18.33 ai-sdk/provider-utils/4.0.23 runtime/bun/1.3.14",
                "opencode",
            ),
            ("QwenCode/0.24.4 (linux; x64)", "qwen-code"),
        ] {
            assert_eq!(client_tool(ua), tool, "{ua}");
        }
        let mut byok = http::HeaderMap::new();
        byok.insert("user-agent", "OpenAI/JS 5.20.1".parse().unwrap());
        assert_eq!(ClientInfo::from_headers(&byok).tool, "openai-js");
        byok.insert("x-initiator", "agent".parse().unwrap());
        assert_eq!(ClientInfo::from_headers(&byok).tool, "copilot");
    }
}
