//! Local models: [`embedder`] (the L1b sentence embedder, in-process on candle, over the 8-bit
//! BERT encoder of [`bert`]), [`models`]
//! (finding model files in the Hugging Face cache, offline-first), and the two L2 engines:
//! [`gguf`] (a quantized chat model in-process on candle, of an architecture and chat template
//! [`arch`] knows; Qwen2 in our own [`qwen2`]) and [`sidecar`] (a local model served
//! over HTTP by llama.cpp, vLLM or the like); [`intent`] sorts requests by the work they need
//! from their sentence embedding, after [`scope`] has set aside those too big by their words.

pub mod arch;
pub mod bert;
pub mod embedder;
pub mod gguf;
pub mod intent;
pub mod models;
pub mod qwen2;
pub mod scope;
pub mod sidecar;

/// What a local model said, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The model that answered, as the server names it.
    pub model: String,
    /// Why the answer ended before the model finished it (`None`: it finished by itself):
    /// it reached `layer2.max_answer_tokens`, ran out of time, or went round in a loop.
    pub cut: Option<&'static str>,
}

/// [`Completion::cut`]: the answer reached `layer2.max_answer_tokens`.
pub const CUT_AT_LIMIT: &str = "cut at layer2.max_answer_tokens";

/// Sizes candle's compute thread pools to the cores this process may run on.
///
/// candle counts the machine's physical cores and ignores the ones this process is allowed
/// (`taskset`, a container's CPU set or quota). Pinned to one core, its two workers spun against
/// each other and an embedding took 97 ms instead of 4.9 ms (`CPUS=0 scripts/bench-semantic.sh`).
/// Unless the operator set `RAYON_NUM_THREADS`, this sets it to what
/// [`std::thread::available_parallelism`] reports, which honours both. Call it first thing in
/// `main`, before any other thread exists: it sets an environment variable.
pub fn fit_thread_pools() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // SAFETY: `main` calls this before it starts any thread, so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", cores.to_string()) }
}
