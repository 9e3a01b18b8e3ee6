//! The embedded L2 engine's speed on this machine: prompt processing and generation in tokens/s,
//! on the same 189-token prompt that `scripts/bench-l2-engines.sh` gives llama.cpp, three runs
//! each. The prompt pass is timed as an answer of one token; generation as the difference
//! between an answer of 129 tokens and that. Needs the model (scripts/fetch-models.sh), or
//! `ISARTOR_L2_MODEL=/path/to/model.gguf` for another.
//! Run: `cargo bench --bench l2_speed` (threads: `RAYON_NUM_THREADS`, else one per core).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use isartor::inference::gguf::{self, Generator};
use isartor::inference::models::{self, Source};

const FILLER: &str = "The service reads its settings from environment variables, retries failed \
calls three times with exponential backoff, and writes structured logs to stdout. ";

fn model() -> PathBuf {
    if let Some(path) = std::env::var_os("ISARTOR_L2_MODEL") {
        return PathBuf::from(path);
    }
    let hub = Source::Hub(gguf::DEFAULT_REPO.into());
    let found = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(models::resolve(
            &hub,
            &[gguf::DEFAULT_FILE],
            &models::hub_cache_dir(),
            true,
        ));
    found.expect("run scripts/fetch-models.sh first").remove(0)
}

fn main() {
    isartor::inference::fit_thread_pools();
    let path = model();
    let started = Instant::now();
    let generator = Generator::load(&path).unwrap();
    println!(
        "{}: loaded in {:.1} s",
        generator.model(),
        started.elapsed().as_secs_f64()
    );
    let user = format!(
        "{}Write a Python class for a bank account with deposit, withdraw, transfer and balance \
         methods, each with a docstring, type hints and input validation.",
        FILLER.repeat(6)
    );
    let messages = [
        ("system", "You are a helpful coding assistant."),
        ("user", user.as_str()),
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answer = |tokens: u64| {
        let started = Instant::now();
        let done = runtime
            .block_on(generator.complete(&messages, tokens, Duration::from_secs(600)))
            .unwrap();
        (started.elapsed(), done)
    };
    for run in 0..3 {
        let (prompt_pass, first) = answer(1);
        let (whole, long) = answer(129);
        let generated = long.output_tokens.saturating_sub(1);
        let generation = whole.saturating_sub(prompt_pass);
        println!(
            "run {run}: prompt {} tokens {:.0} tok/s, generation {generated} tokens {:.1} tok/s",
            first.input_tokens,
            first.input_tokens as f64 / prompt_pass.as_secs_f64(),
            generated as f64 / generation.as_secs_f64(),
        );
    }
}
