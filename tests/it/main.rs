//! The integration tests, linked into one binary (each test crate links candle, hudsucker and
//! the rest of the tree; one link instead of twenty keeps `cargo test` quick on two cores).
//! Every module starts the real daemon on port 0 against a mock upstream it starts itself.

mod common;

mod anthropic;
mod cache_admin;
mod cache_control;
mod cli;
mod connect;
mod control;
mod embedded_model;
mod errors;
mod exact_cache;
mod fallback;
mod fuzz;
mod gemini;
mod hardening;
mod intent;
mod local_model;
mod metrics;
mod model_download;
mod otel;
mod proxy;
mod redis;
mod responses;
mod semantic;
mod streaming;
mod update;
mod usage;
