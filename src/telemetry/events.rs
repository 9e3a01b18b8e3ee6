//! The request event: what one finished request was (its layers, timings, tokens, status). The
//! types only; [`super::bus`] carries events to their sinks.

use serde::{Deserialize, Serialize};

use crate::exchange::{Format, Surface};

/// A layer of the cascade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Layer {
    #[serde(rename = "l1a")]
    L1a,
    #[serde(rename = "l1b")]
    L1b,
    #[serde(rename = "l2")]
    L2,
    #[serde(rename = "l3")]
    L3,
}

impl Layer {
    /// The `X-Isartor-Layer` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::L1a => "l1a",
            Layer::L1b => "l1b",
            Layer::L2 => "l2",
            Layer::L3 => "l3",
        }
    }

    /// The native format's `layer` number: 1 caches, 2 local model, 3 cloud.
    pub fn number(self) -> u8 {
        match self {
            Layer::L1a | Layer::L1b => 1,
            Layer::L2 => 2,
            Layer::L3 => 3,
        }
    }

    /// Served without the cloud.
    pub fn deflects(self) -> bool {
        self != Layer::L3
    }
}

/// What one layer did for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerOutcome {
    Hit,
    Miss,
    /// The layer failed and the request moved on (fail-open).
    Degraded,
    /// The layer answered (L3) or failed to (L3 errors).
    Answered,
    Failed,
    /// An expired exact entry served because every provider failed (stale-if-error).
    Stale,
}

impl LayerOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LayerOutcome::Hit => "hit",
            LayerOutcome::Miss => "miss",
            LayerOutcome::Degraded => "degraded",
            LayerOutcome::Answered => "answered",
            LayerOutcome::Failed => "failed",
            LayerOutcome::Stale => "stale",
        }
    }
}

/// Time and outcome of one layer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerTiming {
    pub layer: Layer,
    /// When the layer started, in microseconds after the request arrived.
    #[serde(default)]
    pub start_micros: u64,
    pub micros: u64,
    pub outcome: LayerOutcome,
    /// L1b: the cosine similarity of the best candidate (served or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

impl LayerTiming {
    /// The `(cache_layer, outcome)` of a cache lookup; `None` for the model and cloud layers.
    pub fn cache_event(&self) -> Option<(&'static str, &'static str)> {
        let cache_layer = match self.layer {
            Layer::L1a => "L1a",
            Layer::L1b => "L1b",
            Layer::L2 | Layer::L3 => return None,
        };
        match self.outcome {
            LayerOutcome::Hit
            | LayerOutcome::Miss
            | LayerOutcome::Degraded
            | LayerOutcome::Stale => Some((cache_layer, self.outcome.as_str())),
            LayerOutcome::Answered | LayerOutcome::Failed => None,
        }
    }
}

/// Why a request failed: one variant per failure, giving both the code the client sees in its
/// error body and the error class the request's event (metrics, logs, traces) records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No or a wrong gateway key.
    Unauthorized,
    /// A browser origin or a `Host` the gateway refuses.
    Forbidden,
    NotFound,
    MethodNotAllowed,
    BodyTooLarge,
    /// Over the in-flight body budget.
    ServerBusy,
    /// The body did not arrive in time.
    RequestTimeout,
    /// The request does not decode (bad JSON, a wrong type, a missing field).
    BadRequest,
    /// A model name that cannot be put in the provider's URL.
    InvalidModel,
    OfflineMode,
    NoApiKey,
    /// The provider answered with an error status.
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
    UpstreamReplyInvalid,
    /// The provider's body broke off mid-stream.
    UpstreamStreamBroken,
    /// The provider's stream ended without its final event (translated streams).
    UpstreamStreamIncomplete,
    /// The client went away before its answer was complete (nginx's 499).
    ClientClosed,
    /// The local model's streamed answer broke off.
    LocalStreamFailed,
    /// A spent `cache-only` or `block` budget refused the request.
    BudgetExceeded,
}

impl ErrorCode {
    /// The `code` in the client's error body.
    pub fn client(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "invalid_api_key",
            ErrorCode::BadRequest => "invalid_request",
            other => other.class(),
        }
    }

    /// The error class of the request's event.
    pub fn class(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidModel => "invalid_model",
            ErrorCode::OfflineMode => "offline_mode",
            ErrorCode::NoApiKey => "no_api_key",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::UpstreamTimeout => "upstream_timeout",
            ErrorCode::UpstreamUnreachable => "upstream_unreachable",
            ErrorCode::UpstreamReplyInvalid => "upstream_reply_invalid",
            ErrorCode::UpstreamStreamBroken => "upstream_stream_broken",
            ErrorCode::UpstreamStreamIncomplete => "upstream_stream_incomplete",
            ErrorCode::ClientClosed => "client_closed",
            ErrorCode::LocalStreamFailed => "l2_stream_failed",
            ErrorCode::BudgetExceeded => "budget_exceeded",
        }
    }
}

/// One finished request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestEvent {
    pub id: u64,
    /// Unix milliseconds at arrival.
    pub at_ms: u64,
    pub surface: Surface,
    pub format: Option<Format>,
    /// The client program (from User-Agent).
    pub client: String,
    pub model: String,
    /// The layer that produced the response; `None` when rejected before the pipeline.
    pub layer: Option<Layer>,
    /// Served before L3 with a 2xx.
    pub deflected: bool,
    pub status: u16,
    pub latency_micros: u64,
    pub layers: Vec<LayerTiming>,
    /// Prompt tokens, cached ones included.
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// Prompt tokens the provider read from / wrote to its own prompt cache (Anthropic, OpenAI).
    #[serde(default)]
    pub tokens_cache_read: u64,
    #[serde(default)]
    pub tokens_cache_write: u64,
    /// Tokens a deflected request did not spend upstream (the cost of the answer it reused).
    pub tokens_saved: u64,
    /// Dollars an L3 call spent, at the request's model price (see `telemetry::prices`).
    #[serde(default)]
    pub cost_usd: f64,
    /// Dollars a deflected request saved: its answer's tokens at the request's model price.
    #[serde(default)]
    pub saved_usd: f64,
    /// Dollars the provider's prompt cache saved an L3 call (its cache reads, at the input price
    /// less the cache-read price).
    #[serde(default)]
    pub provider_saved_usd: f64,
    /// A short error class (`unauthorized`, `bad_request`, `upstream_timeout`, …).
    pub error: Option<String>,
    /// The cloud provider that answered (L3 only).
    #[serde(default)]
    pub provider: Option<String>,
    /// The model the provider was asked for when it is not the one the client named (an alias,
    /// a translation to another provider's model): what the call is priced at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_model: Option<String>,
    /// A short redacted preview of the last user turn (for `top`; never logged).
    #[serde(default)]
    pub preview: String,
    /// The caller's W3C `traceparent`, so an exported trace joins the caller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_parent: Option<String>,
    /// The client's session (its own id, or `conv-<hash>` of the conversation's start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Where the session's provider cache broke on this turn, if it did (`system`, `tools`,
    /// `message N`, `unchanged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_break: Option<String>,
    /// The prompt's prefix fingerprint (see `exchange::key::prefix_fingerprint`), for telling
    /// where a session's provider cache broke; not serialised.
    #[serde(skip)]
    pub prefix: Vec<u64>,
    /// What the key covers, as text (when it was computed), for the short diff at a session's
    /// cache break; not serialised.
    #[serde(skip)]
    pub readable: Option<std::sync::Arc<crate::exchange::key::Readable>>,
    /// What L2 decided (`TEMPLATE`, `SNIPPET`, `SIMPLE`, `COMPLEX`, …), when it looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_decision: Option<String>,
}
