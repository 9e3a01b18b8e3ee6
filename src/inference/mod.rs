//! Local models, run in-process by candle on the CPU: [`embedder`] (the L1b sentence embedder)
//! and [`models`] (finding model files in the Hugging Face cache, offline-first).

pub mod embedder;
pub mod models;
