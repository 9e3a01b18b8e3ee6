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
//! * Two listeners, one way in. [`gateway`] is the HTTP listener (hyper 1, HTTP/1.1 + h2c): it
//!   routes by path, refuses web pages and rebinding hosts ([`gateway::browser`]) and bounds its
//!   connections. [`proxy`] is the HTTPS CONNECT listener (hudsucker) for clients that cannot
//!   change their base URL: hosts on `proxy.intercept_hosts` are decrypted with leaves minted by
//!   a local CA ([`proxy::ca`]), and their inference calls carry their own upstream
//!   ([`exchange::Destination`]) so L3 is the host the client was talking to, reached with its
//!   own credentials; everything else passes untouched. Both hand requests to [`surface`], the
//!   shared intake: the key check ([`surface::auth`]), bounded body reading
//!   ([`surface::limits`]), the decoder of the request's format, the pipeline call, and the
//!   answer in the client's format ([`surface::respond`]). Neither listener imports the other.
//! * [`exchange`] is the canonical model. Each wire format ([`exchange::native`],
//!   [`exchange::openai`] chat, [`exchange::anthropic`] Messages, [`exchange::responses`],
//!   [`exchange::gemini`], [`exchange::cloudcode`]) decodes into an [`exchange::Exchange`] and
//!   owns its JSON rendering, its stream decoder (provider events → canonical deltas) and its
//!   stream encoder (deltas → client events). [`exchange::stream`] composes them: collecting a
//!   passed-through reply for the cache, translating a provider's stream for a client of another
//!   family, and replaying a cached reply are the same decoder → builder → encoder path, so they
//!   cannot drift. [`exchange::key`] hashes what changes the answer into the exact-cache key;
//!   [`exchange::check`] holds each format's field types; [`exchange::names`] the header names
//!   read and written on every request; [`exchange::translate`] maps tools and
//!   parameters between families. `Format::from_path` is the one path → format table, and
//!   [`exchange::CachePolicy`] is what a request asks of the caches (`Cache-Control`,
//!   `X-Isartor-Cache-TTL`), read by the intake and honoured by the pipeline.
//! * [`pipeline`] is the cascade. It knows layers, not servers, sockets or terminals (L3 holds
//!   the provider's HTTP response only to stream it on). L1a ([`pipeline::exact`]) looks the key
//!   up in a [`store`]; on a miss L1b ([`pipeline::semantic`]) embeds the last user turn,
//!   searches the vectors of requests with the same context ([`exchange::key::context_key`]) and
//!   lets [`pipeline::guard`] refuse near-misses; L2, the local model layer
//!   ([`pipeline::triage`]), classifies the request and answers the easy ones, unless
//!   [`pipeline::deadline`] says the answer cannot finish in time, and serves an answer only when
//!   [`pipeline::answer_check`] passes it; L3
//!   ([`pipeline::cloud`]) asks the [`upstream`] provider chain. A provider that speaks the
//!   client's protocol gets the client's own bytes and its answer streams back through a tee
//!   that stores the complete reply (in every cache that missed) before the client sees its
//!   final event (clients stop reading there; the provider may end its body later);
//!   any other gets a translated request, and its answer is translated back as it streams.
//!   Background-loaded layers hold their model in a [`pipeline::warm::Warm`] and report one
//!   [`pipeline::LayerStatus`]. [`pipeline::manage`] answers the cache commands (list, why,
//!   forget, clear, export, import) for both the control socket and the gateway's
//!   `/admin/cache/…` routes ([`gateway`]'s `admin` module); [`pipeline::misses`] keeps the ring
//!   of recent misses that `why` explains.
//! * [`store`] is cache storage: the small [`store::ReplyStore`] trait for exact entries (moka in
//!   memory, or [`store::redis`] shared by replicas, failing open; each entry knows when it was
//!   stored and how long it is fresh, and stale-if-error keeps it longer), [`store::vectors`] for the
//!   semantic index, and [`store::shared_vectors`] to share semantic entries through Redis.
//! * [`inference`] runs local models: the sentence embedder (candle, over the 8-bit BERT of
//!   [`inference::bert`]), the lookup of model files
//!   in the Hugging Face cache, and L2's engines: a GGUF chat model in-process
//!   ([`inference::gguf`], of an architecture [`inference::arch`] knows) with the embedding
//!   classifier that picks what it answers ([`inference::intent`], after the word rules of
//!   [`inference::scope`]), or a local model server ([`inference::sidecar`]).
//! * [`upstream`] is the L3 side: [`upstream::client`] calls one provider (the OpenAI-compatible
//!   family, Anthropic, Gemini), [`upstream::chain`] tries the primary then
//!   `[[fallback_providers]]` with retries inside one time budget (honouring `Retry-After`), and
//!   [`upstream::direct`] sends a proxied request to the client's own upstream.
//!   [`upstream::credential`] is the one place a key is put on an upstream request.
//! * [`telemetry`] defines the request event ([`telemetry::events`]) and the bus that fans each
//!   one out ([`telemetry::bus`]): Prometheus metrics (`GET /metrics`), live stats, one log
//!   line and, with `enable_monitoring`, an OpenTelemetry trace and metrics. Each event is priced
//!   on the way out ([`telemetry::prices`]: what an L3 call spent, what a deflection saved),
//!   counted against the configured spending limits ([`telemetry::budgets`], which the pipeline
//!   asks before a request runs) and kept in the local usage history ([`telemetry::usage`], a
//!   SQLite file written by a thread of its own; `isartor usage` reads it).

//! ## Around the request path
//!
//! * [`config`]: typed settings, defaults < `isartor.toml` < `ISARTOR__SECTION__KEY`.
//! * [`paths`]: every on-disk location (config, data, cache, runtime) in one place.
//! * [`daemon`]: start/stop wiring of both listeners, the locked pid file, running detached.
//! * [`connect`]: pointing Claude Code, Copilot and Antigravity at the daemon (settings and env
//!   files, backed up first and restored byte for byte).
//! * [`control`]: the local Unix socket that streams snapshots and events to `stats` / `top`, and
//!   carries `status`, `stop` and the `isartor cache …` commands.
//! * [`tui`]: the `isartor top` dashboard (state, pure view, terminal loop).
//! * [`eval`]: measuring the semantic cache on labelled pairs and replayed traces.
//! * [`update`]: self-upgrade from the project's releases, checksum-verified, with rollback.
//! * [`cli`]: one module per subcommand; argument handling and printing only.
//! * [`display`]: how client text, URLs and durations are shown (escaped, redacted, bounded).
//!
//! Nothing in `pipeline` knows about hyper, sockets or terminals; nothing in `cli` does cache
//! work (it prints what the daemon answers).

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
