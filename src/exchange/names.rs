//! Header names the daemon reads and writes that `http` has no constant for, parsed once at
//! compile time: a lookup by `&str` parses and lower-cases the name on every request.

use http::HeaderName;

/// Anthropic's credential header (and the gateway key's).
pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
/// Azure OpenAI's credential header.
pub const API_KEY: HeaderName = HeaderName::from_static("api-key");
/// Gemini's credential header.
pub const X_GOOG_API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");
/// Sent by Copilot CLI, whose User-Agent on a BYOK provider is the OpenAI JS SDK's.
pub const X_INTERACTION_TYPE: HeaderName = HeaderName::from_static("x-interaction-type");
/// Sent by Copilot CLI (see [`X_INTERACTION_TYPE`]).
pub const X_INITIATOR: HeaderName = HeaderName::from_static("x-initiator");
/// A per-request cache lifetime in seconds.
pub const X_ISARTOR_CACHE_TTL: HeaderName = HeaderName::from_static("x-isartor-cache-ttl");
/// A browser's `Sec-Fetch-Site`.
pub const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
/// The layer that answered (`l1a`, `l1b`, `l2`, `l3`).
pub const X_ISARTOR_LAYER: HeaderName = HeaderName::from_static("x-isartor-layer");
/// Whether the answer was deflected from the cloud.
pub const X_ISARTOR_DEFLECTED: HeaderName = HeaderName::from_static("x-isartor-deflected");
/// The cloud provider that answered.
pub const X_ISARTOR_PROVIDER: HeaderName = HeaderName::from_static("x-isartor-provider");
/// Set on an expired entry served because every provider failed.
pub const X_ISARTOR_STALE: HeaderName = HeaderName::from_static("x-isartor-stale");
/// An L1b hit's cosine similarity.
pub const X_ISARTOR_SIMILARITY: HeaderName = HeaderName::from_static("x-isartor-similarity");
