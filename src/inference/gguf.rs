//! The embedded L2 engine: a quantized chat model from a GGUF file (an architecture of
//! [`super::arch`]; its tokenizer is built from the file's own metadata) on a thread of its own.
//! Requests queue there one at a time (a 2-core machine has no room for two): the prompt goes in
//! as one forward pass, then tokens are picked greedily until the end-of-turn token or the limit.

use std::io::Seek;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use tokenizers::Tokenizer;
use tokio::sync::oneshot;

use super::arch::{self, Template, Weights};
use super::{CUT_AT_LIMIT, Completion};

/// The default model: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (scripts/fetch-models.sh lays it out).
pub const DEFAULT_REPO: &str = "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF";
pub const DEFAULT_FILE: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

/// Requests waiting for the model at most; more fail at once (and go to L3).
const QUEUE: usize = 8;
/// [`Completion::cut`]: the answer was not finished within `layer2.timeout_seconds`.
pub const OUT_OF_TIME: &str = "not finished within layer2.timeout_seconds";
/// [`Completion::cut`]: the answer went round in a loop (one stretch of tokens repeated).
pub const LOOPING: &str = "repeating itself";
/// A loop is a stretch of at most this many tokens repeated ...
const LOOP_PERIOD: usize = 256;
/// ... three times when it is shorter than this, twice when it is at least this long (a long
/// stretch said twice word for word is a loop: a block of twenty config lines starting over) ...
const LONG_STRETCH: usize = 40;
/// ... and over at least this many tokens.
const LOOP_SPAN: usize = 48;

struct Job {
    prompt: String,
    max_tokens: usize,
    /// Past this the request has given up: stop generating (and do not start).
    deadline: Instant,
    /// Where each piece of text goes as it is decoded (streamed answers).
    pieces: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    reply: oneshot::Sender<Result<Completion, String>>,
}

/// How fast this model runs on this machine, in tokens per second: the prompt pass and
/// generation, as moving averages of the answers so far (seeded by a short warm-up at load).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed {
    pub prompt: f64,
    pub generation: f64,
}

impl Speed {
    /// How long an answer of `answer` tokens to a prompt of `prompt` tokens should take.
    pub fn time_for(&self, prompt: u64, answer: u64) -> Duration {
        Duration::from_secs_f64(prompt as f64 / self.prompt + answer as f64 / self.generation)
    }
}

/// Weight of the newest answer in the moving averages.
const NEWEST: f64 = 0.3;

/// The speed measured so far, shared by the model's thread and its handle.
#[derive(Clone, Default)]
struct Pace(Arc<Mutex<Option<Speed>>>);

impl Pace {
    fn get(&self) -> Option<Speed> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes one answer's timing in (one with no generated token after the first is left out).
    fn record(&self, prompt: (usize, Duration), generation: (usize, Duration)) {
        if prompt.0 == 0 || generation.0 == 0 || prompt.1.is_zero() || generation.1.is_zero() {
            return;
        }
        let now = Speed {
            prompt: prompt.0 as f64 / prompt.1.as_secs_f64(),
            generation: generation.0 as f64 / generation.1.as_secs_f64(),
        };
        let mut speed = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *speed = Some(match *speed {
            None => now,
            Some(old) => Speed {
                prompt: old.prompt + NEWEST * (now.prompt - old.prompt),
                generation: old.generation + NEWEST * (now.generation - old.generation),
            },
        });
    }
}

/// A handle to the model's thread.
pub struct Generator {
    jobs: mpsc::SyncSender<Job>,
    model: String,
    template: Template,
    pace: Pace,
}

struct Loaded {
    weights: Weights,
    tokenizer: Tokenizer,
    stops: Vec<u32>,
    pace: Pace,
}

impl Generator {
    /// Loads the model (seconds: call it from a blocking task) and starts its thread.
    pub fn load(path: &Path) -> Result<Generator> {
        let started = Instant::now();
        let mut file = std::fs::File::open(path)
            .with_context(|| format!("cannot open the local model {}", path.display()))?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| anyhow!("{} is not a GGUF model: {e}", path.display()))?;
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        arch::check(&arch).with_context(|| path.display().to_string())?;
        let tokenizer = arch::tokenizer(&content)
            .with_context(|| format!("cannot build the tokenizer of {}", path.display()))?;
        let template = Template::of(&tokenizer).with_context(|| path.display().to_string())?;
        let weights = if content.tensor_infos.values().any(|t| slow(t.ggml_dtype)) {
            let mut rewritten = with_fast_blocks(&content, &mut file)
                .with_context(|| format!("cannot re-quantize {}", path.display()))?;
            let content = gguf_file::Content::read(&mut rewritten)
                .map_err(|e| anyhow!("cannot read the re-quantized model: {e}"))?;
            Weights::load(&arch, content, &mut rewritten)
        } else {
            file.rewind()?;
            Weights::load(&arch, content, &mut file)
        }
        .with_context(|| format!("cannot load {}", path.display()))?;
        let stops = template
            .stops()
            .iter()
            .filter_map(|t| tokenizer.token_to_id(t))
            .collect();
        let model = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("local")
            .trim_end_matches(".gguf")
            .to_string();
        tracing::info!(
            "l2: loaded {model} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        let mut loaded = Loaded {
            weights,
            tokenizer,
            stops,
            pace: Pace::default(),
        };
        // A short answer times the model on this machine before the first request needs it.
        let (warm_up, _) = oneshot::channel();
        let warm_up = Job {
            prompt: template.prompt(&[("user", "Count from one to twenty in words.")]),
            max_tokens: 16,
            deadline: Instant::now() + Duration::from_secs(60),
            pieces: None,
            reply: warm_up,
        };
        if let Err(e) = generate(&mut loaded, &warm_up) {
            tracing::warn!("l2: the warm-up answer failed: {e:#}");
        }
        if let Some(s) = loaded.pace.get() {
            tracing::info!(
                "l2: {model} runs at {:.0} prompt tokens/s and {:.1} generated tokens/s here",
                s.prompt,
                s.generation
            );
        }
        let pace = loaded.pace.clone();
        let name = model.clone();
        std::thread::Builder::new()
            .name("isartor-l2".into())
            .spawn(move || run(loaded, &name, queue))
            .context("cannot start the local model thread")?;
        Ok(Generator {
            jobs,
            model,
            template,
            pace,
        })
    }

    /// How fast the model has been answering (`None` until it has answered once).
    pub fn speed(&self) -> Option<Speed> {
        self.pace.get()
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// One chat completion, greedy; `messages` are `(role, content)` pairs. Fails when the
    /// answer is not finished within `timeout` (the model stops working on it then too).
    pub async fn complete(
        &self,
        messages: &[(&str, &str)],
        max_tokens: u64,
        timeout: Duration,
    ) -> Result<Completion> {
        let answer = self.submit(messages, max_tokens, timeout, None)?;
        finished(answer).await
    }

    /// The same, with the text sent piece by piece as it is generated. Dropping `pieces` stops
    /// the generation.
    pub fn stream(
        &self,
        messages: &[(&str, &str)],
        max_tokens: u64,
        timeout: Duration,
    ) -> Result<Streaming> {
        let (tx, pieces) = tokio::sync::mpsc::unbounded_channel();
        let done = self.submit(messages, max_tokens, timeout, Some(tx))?;
        Ok(Streaming { pieces, done })
    }

    fn submit(
        &self,
        messages: &[(&str, &str)],
        max_tokens: u64,
        timeout: Duration,
        pieces: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> Result<Done> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(Job {
                prompt: self.template.prompt(messages),
                max_tokens: max_tokens as usize,
                deadline: Instant::now() + timeout,
                pieces,
                reply,
            })
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => anyhow!("the local model is busy ({QUEUE} queued)"),
                mpsc::TrySendError::Disconnected(_) => anyhow!("the local model thread stopped"),
            })?;
        Ok(answer)
    }
}

/// Block types candle multiplies with its scalar fallback only (no SIMD dot product): a model
/// that stores tensors in them runs several times slower than it needs to.
fn slow(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q5_0 | GgmlDType::Q5_1 | GgmlDType::Q4_1)
}

/// The model of `content` with its [`slow`] tensors re-quantized to Q8_0 (which has an AVX2
/// and NEON dot product), as an in-memory GGUF file. Q8_0 keeps more precision than the
/// 5-bit blocks it replaces; the weights of those tensors take about 1.6 times the memory.
fn with_fast_blocks(
    content: &gguf_file::Content,
    file: &mut std::fs::File,
) -> Result<std::io::Cursor<Vec<u8>>> {
    // With an output matrix of its own, the token embedding is only looked up, a row at a time
    // (and candle's llama turns it into f32 at load): re-quantizing it would cost load time and
    // memory for nothing.
    let looked_up_only = |name: &str| {
        name == "token_embd.weight" && content.tensor_infos.contains_key("output.weight")
    };
    let mut tensors = Vec::with_capacity(content.tensor_infos.len());
    for (name, info) in &content.tensor_infos {
        let tensor = content.tensor(file, name, &Device::Cpu)?;
        let width = info.shape.dims().last().copied().unwrap_or(0);
        let tensor = if slow(info.ggml_dtype) && width % 32 == 0 && !looked_up_only(name) {
            QTensor::quantize(&tensor.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let named: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut out = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut out, &metadata, &named)?;
    out.set_position(0);
    Ok(out)
}

/// A streamed answer: its text as it comes, then the whole completion (or why it failed).
pub struct Streaming {
    pub pieces: tokio::sync::mpsc::UnboundedReceiver<String>,
    pub done: Done,
}

/// Where a job's completion (or why it failed) arrives.
pub type Done = oneshot::Receiver<Result<Completion, String>>;

/// The completion a job ends with.
pub async fn finished(answer: Done) -> Result<Completion> {
    answer
        .await
        .map_err(|_| anyhow!("the local model thread stopped"))?
        .map_err(|e| anyhow!(e))
}

fn run(mut model: Loaded, name: &str, queue: mpsc::Receiver<Job>) {
    while let Ok(job) = queue.recv() {
        if job.reply.is_closed() || Instant::now() >= job.deadline {
            let _ = job.reply.send(Err("timed out while queued".into()));
            continue;
        }
        // A panic inside the model fails this request only.
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| generate(&mut model, &job)));
        let result = match result {
            Ok(Ok((text, input, output, cut))) => Ok(Completion {
                text,
                input_tokens: input,
                output_tokens: output,
                model: name.to_string(),
                cut,
            }),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err("the local model panicked".to_string()),
        };
        let _ = job.reply.send(result);
    }
}

/// Whether an answer has gone round in a loop: its last tokens are one stretch of at most
/// [`LOOP_PERIOD`] tokens repeated (three times, or twice from [`LONG_STRETCH`] tokens up) over
/// at least [`LOOP_SPAN`] tokens. A small model at temperature 0 can repeat itself until it runs
/// out of tokens or time; an answer like that is not served, so there is no point waiting for
/// its end.
fn looping(tokens: &[u32]) -> bool {
    (1..=LOOP_PERIOD).any(|period| {
        let times = if period < LONG_STRETCH { 3 } else { 2 };
        let span = (period * times).max(LOOP_SPAN);
        span <= tokens.len() && {
            let tail = &tokens[tokens.len() - span..];
            tail.iter().zip(&tail[period..]).all(|(a, b)| a == b)
        }
    })
}

/// What [`generate`] ends with: text, prompt tokens, generated tokens, and why it stopped early.
type Generated = (String, u64, u64, Option<&'static str>);

/// Greedy decoding until the end of the turn, the token limit, the deadline or a loop.
fn generate(model: &mut Loaded, job: &Job) -> Result<Generated> {
    let (max_tokens, deadline) = (job.max_tokens, job.deadline);
    let encoding = model
        .tokenizer
        .encode(job.prompt.as_str(), false)
        .map_err(|e| anyhow!("cannot tokenize: {e}"))?;
    let input = encoding.get_ids();
    let mut position = 0;
    let mut next_input = input.to_vec();
    let mut generated: Vec<u32> = Vec::new();
    let mut sent = String::new();
    let started = Instant::now();
    let mut prompt_pass = None;
    let mut cut = None;
    loop {
        if generated.len() >= max_tokens {
            cut = Some(CUT_AT_LIMIT);
            break;
        }
        if Instant::now() >= deadline {
            cut = Some(OUT_OF_TIME);
            break;
        }
        let x = Tensor::new(next_input.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
        let logits = model.weights.forward(&x, position)?.squeeze(0)?;
        position += next_input.len();
        prompt_pass.get_or_insert_with(|| started.elapsed());
        let next = logits.argmax(0)?.to_scalar::<u32>()?;
        if model.stops.contains(&next) {
            break;
        }
        generated.push(next);
        if looping(&generated) {
            cut = Some(LOOPING);
            break;
        }
        next_input = vec![next];
        if let Some(pieces) = &job.pieces {
            let text = model
                .tokenizer
                .decode(&generated, true)
                .map_err(|e| anyhow!("cannot decode: {e}"))?;
            // Send what is new, once it is whole characters (a token can end mid-character).
            if !text.ends_with('\u{FFFD}')
                && text.len() > sent.len()
                && let Some(piece) = text.strip_prefix(sent.as_str())
            {
                pieces
                    .send(piece.to_string())
                    .map_err(|_| anyhow!("the client went away"))?;
                sent = text;
            }
        }
    }
    if let Some(prompt_pass) = prompt_pass {
        // The first token came with the prompt pass; the rest were generated one by one.
        let rest = started.elapsed().saturating_sub(prompt_pass);
        model.pace.record(
            (input.len(), prompt_pass),
            (generated.len().saturating_sub(1), rest),
        );
    }
    let text = model
        .tokenizer
        .decode(&generated, true)
        .map_err(|e| anyhow!("cannot decode: {e}"))?;
    Ok((text, input.len() as u64, generated.len() as u64, cut))
}

#[cfg(test)]
mod tests {
    use super::looping;

    #[test]
    fn an_answer_going_round_in_a_loop_is_spotted() {
        let line = [11, 12, 13, 14, 15, 16, 17, 18, 19, 10];
        let mut answer: Vec<u32> = (100..160).collect();
        for _ in 0..6 {
            answer.extend(line);
        }
        assert!(looping(&answer));
        // Three short repeats (a table rule, `}}}`) and a varied answer are not loops.
        let mut short: Vec<u32> = (100..160).collect();
        short.extend([7, 8, 7, 8, 7, 8]);
        assert!(!looping(&short));
        assert!(!looping(&(0..400).collect::<Vec<u32>>()));
        // Twenty config lines starting over: a long stretch said twice.
        let block: Vec<u32> = (1000..1120).collect();
        let mut config: Vec<u32> = (100..130).collect();
        config.extend(&block);
        assert!(!looping(&config));
        config.extend(&block);
        assert!(looping(&config));
        // A short stretch said twice is not yet a loop.
        let mut twice: Vec<u32> = (100..160).collect();
        twice.extend((1..=30).chain(1..=30));
        assert!(!looping(&twice));
        assert!(!looping(&[]));
    }
}
