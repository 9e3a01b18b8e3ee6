//! # Isartor: a prompt firewall
//!
//! Isartor is one binary that runs as a local daemon between AI coding assistants and the paid
//! cloud LLM APIs they call. It answers what it can locally and forwards the rest:
//!
//! ```text
//! client ─► L1a exact cache ─► L1b semantic cache ─► L2 local model ─► L3 cloud provider
//! ```
//!
//! ## How a request flows
//!
//! Data moves one way: **surface → [`exchange`] decode → [`pipeline`] → [`exchange`] encode →
//! surface**, and every request yields exactly one [`telemetry::RequestEvent`].
//!
//! * [`gateway`] is the HTTP surface (hyper 1, HTTP/1.1 + h2c). Its routes check the key
//!   ([`gateway::auth`]), read the body within `max_body_bytes`, and call a format decoder.
//! * [`proxy`] is the second surface: an HTTPS CONNECT proxy (hudsucker) for clients that cannot
//!   change their base URL. Hosts on `proxy.intercept_hosts` are decrypted with leaves minted by
//!   a local CA ([`proxy::ca`]); their inference calls go through the gateway's decoders into the
//!   same pipeline, marked with their own upstream ([`exchange::Destination`]) so L3 is the
//!   host the client was talking to, reached with its own credentials. Everything else passes
//!   untouched.
//! * [`exchange`] is the canonical model. Each wire format ([`exchange::native`],
//!   [`exchange::openai`] chat, [`exchange::anthropic`] Messages, [`exchange::responses`],
//!   [`exchange::gemini`])
//!   decodes into an [`exchange::Exchange`] and renders a canonical [`exchange::Reply`] back as
//!   JSON or SSE. [`exchange::key`] hashes the parts of an exchange that change the answer into
//!   the exact-cache key; [`exchange::collect`] rebuilds a reply from upstream bytes in flight;
//!   [`exchange::translate`] maps tools and parameters between protocol families, and
//!   [`exchange::stream`] translates a provider's stream into the client's, event by event.
//! * [`pipeline`] is the cascade. It knows layers, not HTTP: L1a ([`pipeline::exact`]) looks the
//!   key up in a [`store`]; on a miss L1b ([`pipeline::semantic`]) embeds the last user turn,
//!   searches the vectors of requests with the same context ([`exchange::key::context_key`]) and
//!   lets [`pipeline::guard`] refuse near-misses; on a miss L3 ([`pipeline::cloud`]) asks the
//!   [`upstream`] provider chain. A provider that speaks the client's protocol gets the client's
//!   own bytes and its answer streams back through a tee that stores the complete reply (in every
//!   cache that missed) before the client's body ends; any other gets a translated request and
//!   its whole reply is rendered in the client's format. Between the caches and the cloud, L2
//!   ([`pipeline::triage`]) lets a local model classify the request and answer the easy ones.
//! * [`store`] is cache storage: the small [`store::ReplyStore`] trait for exact entries (moka in
//!   memory, or [`store::redis`] shared by replicas, failing open), [`store::vectors`] for the
//!   semantic index, and [`store::shared_vectors`] to share semantic entries through Redis.
//! * [`inference`] runs local models: the sentence embedder (candle), the lookup of model files
//!   in the Hugging Face cache, and L2's engines: a GGUF chat model in-process
//!   ([`inference::gguf`]) with the embedding classifier that picks what it answers
//!   ([`inference::intent`]), or a local model server ([`inference::sidecar`]).
//! * [`upstream`] holds the L3 side: [`upstream::client`] calls one provider (OpenAI-compatible
//!   family, Anthropic), [`upstream::chain`] tries the primary then `[[fallback_providers]]`
//!   with retries inside one time budget; [`upstream::passthrough`] sends a proxied request to
//!   the client's own upstream.
//! * [`telemetry`] carries request events on a broadcast bus; each is counted in the Prometheus
//!   metrics (`GET /metrics`), written as one log line and, with `enable_monitoring`, exported
//!   as an OpenTelemetry trace and metrics.
//!
//! ## Around the request path
//!
//! * [`config`]: typed settings, defaults < `isartor.toml` < `ISARTOR__SECTION__KEY`.
//! * [`paths`]: every on-disk location (config, data, cache, runtime) in one place.
//! * [`daemon`]: start/stop wiring of both listeners, the locked pid file, running detached.
//! * [`connect`]: pointing Claude Code, Copilot and Antigravity at the daemon (settings and env
//!   files, backed up first and restored byte for byte).
//! * [`control`]: the local Unix socket that streams snapshots and events to `stats` / `top`.
//! * [`tui`]: the `isartor top` dashboard (state, pure view, terminal loop).
//! * [`eval`]: measuring the semantic cache on labelled pairs and replayed traces.
//! * [`update`]: self-upgrade from the project's releases, checksum-verified, with rollback.
//! * [`cli`]: one module per subcommand; argument handling and printing only.
//!
//! Nothing in `pipeline` knows about hyper, sockets or terminals; nothing in `cli` knows about
//! caches.

pub mod cli;
pub mod config;
pub mod connect;
pub mod control;
pub mod daemon;
pub mod display;
pub mod eval;
pub mod exchange;
pub mod gateway;
pub mod inference;
pub mod paths;
pub mod pipeline;
pub mod proxy;
pub mod store;
pub mod surface;
pub mod telemetry;
pub mod tui;
pub mod update;
pub mod upstream;
