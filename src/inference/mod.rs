//! Local models: [`embedder`] (the L1b sentence embedder, in-process on candle, over the 8-bit
//! BERT encoder of [`bert`]), [`models`]
//! (finding model files in the Hugging Face cache, offline-first), and the two L2 engines:
//! [`gguf`] (a quantized chat model in-process on candle) and [`sidecar`] (a local model served
//! over HTTP by llama.cpp, vLLM or the like); [`intent`] sorts requests by the work they need
//! from their sentence embedding.

pub mod bert;
pub mod embedder;
pub mod gguf;
pub mod intent;
pub mod models;
pub mod sidecar;

/// What a local model said, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The model that answered, as the server names it.
    pub model: String,
}
