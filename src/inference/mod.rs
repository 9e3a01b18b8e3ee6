//! Local models: [`embedder`] (the L1b sentence embedder, in-process on candle), [`models`]
//! (finding model files in the Hugging Face cache, offline-first) and [`sidecar`] (a local model
//! served over HTTP by llama.cpp, vLLM or the like, for L2).

pub mod embedder;
pub mod models;
pub mod sidecar;
