//! The sentence embedder (L1b): a BERT-family sentence-transformer (all-MiniLM-L6-v2 by default)
//! run by candle on the CPU, mean-pooled over the attention mask and L2-normalised, so a dot
//! product is the cosine similarity.
//!
//! The model runs on one dedicated thread that the async runtime never waits on: requests queue
//! on a bounded channel and the thread embeds whatever has queued as one batch, so concurrent
//! requests share a forward pass instead of taking turns behind a mutex.

use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config as BertConfig;

use super::bert::{Encoder, Pooling, pool};
use tokenizers::Tokenizer;
use tokio::sync::oneshot;

/// Longest input, in tokens. A longer text is embedded by its first and last `MAX_TOKENS / 2`
/// tokens (where a prompt states its task and its question), which bounds what a long, unique
/// prompt pays before it goes on; the guard still compares the whole texts.
pub const MAX_TOKENS: usize = 64;
/// Most texts in one forward pass.
const MAX_BATCH: usize = 32;
/// Most texts waiting; beyond it a lookup is skipped rather than queued (the request goes on).
const QUEUE: usize = 256;

/// The loaded model: weights, tokenizer and shape.
pub struct Bert {
    model: Encoder,
    quantized: bool,
    pooling: Pooling,
    tokenizer: Tokenizer,
    device: Device,
    dims: usize,
}

impl Bert {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` (in that order), with the
    /// dense layers on 8-bit weights where the CPU runs them faster (AVX-512 VNNI).
    pub fn load(files: &[PathBuf]) -> Result<Bert> {
        Bert::load_with(files, super::bert::has_vnni())
    }

    /// [`load`](Self::load), with the dense layers quantized or left f32.
    pub fn load_with(files: &[PathBuf], quantize: bool) -> Result<Bert> {
        let [config, tokenizer, weights] = files else {
            return Err(anyhow!(
                "an embedder needs config.json, tokenizer.json and model.safetensors"
            ));
        };
        let pooling = Pooling::beside(config);
        let config: BertConfig = serde_json::from_slice(
            &std::fs::read(config).with_context(|| format!("cannot read {}", config.display()))?,
        )
        .with_context(|| format!("{} is not a BERT config", config.display()))?;
        let mut tokenizer = Tokenizer::from_file(tokenizer)
            .map_err(|e| anyhow!("cannot load {}: {e}", tokenizer.display()))?;
        // The shipped tokenizer pads every input to 128 tokens and cuts at 512: `embed` keeps
        // a head and a tail window itself and pads a batch to its longest.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| anyhow!("tokenizer truncation: {e}"))?;
        let device = Device::Cpu;
        // SAFETY: the weights file is memory-mapped read-only; the model cache is not rewritten
        // while the daemon runs (downloads go to new blob files).
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device) }
            .with_context(|| format!("cannot map {}", weights.display()))?;
        let model = Encoder::load(vb, &config, quantize)
            .with_context(|| format!("{} does not hold a BERT model", weights.display()))?;
        Ok(Bert {
            model,
            quantized: quantize,
            pooling,
            tokenizer,
            device,
            dims: config.hidden_size,
        })
    }

    /// How token states become the sentence vector.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// The dense layers' weights: `8-bit` or `f32`.
    pub fn weights(&self) -> &'static str {
        if self.quantized { "8-bit" } else { "f32" }
    }

    /// The vector length.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Embeds `texts` in one forward pass: one unit vector per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| anyhow!("tokenizer: {e}"))?;
        let longest = encodings
            .iter()
            .map(|e| e.len().min(MAX_TOKENS))
            .max()
            .unwrap_or(0);
        // Each row: its head and tail windows, then zeros (padding, masked out) to `longest`.
        let rows = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor> {
            let mut flat = Vec::with_capacity(encodings.len() * longest);
            for e in &encodings {
                let values = f(e);
                let half = MAX_TOKENS / 2;
                if values.len() > MAX_TOKENS {
                    flat.extend_from_slice(&values[..half]);
                    flat.extend_from_slice(&values[values.len() - half..]);
                } else {
                    flat.extend_from_slice(values);
                    flat.resize(flat.len() + longest - values.len(), 0);
                }
            }
            Ok(Tensor::from_vec(
                flat,
                (encodings.len(), longest),
                &self.device,
            )?)
        };
        let ids = rows(|e| e.get_ids())?;
        let types = rows(|e| e.get_type_ids())?;
        let mask = rows(|e| e.get_attention_mask())?;
        let hidden = self.model.forward(&ids, &types, &mask)?;
        pool(self.pooling, &hidden, &mask)
    }
}

struct Job {
    text: String,
    reply: oneshot::Sender<Result<Vec<f32>, String>>,
}

/// A handle to the embedder: the in-process model's thread, or an embeddings server; cheap to
/// clone.
#[derive(Clone)]
pub struct Embedder {
    backend: Backend,
    dims: usize,
    model: String,
}

#[derive(Clone)]
enum Backend {
    Local(mpsc::SyncSender<Job>),
    Remote(Arc<Remote>),
}

/// An OpenAI-compatible `/v1/embeddings` server (llama.cpp, Ollama, TEI, vLLM).
struct Remote {
    client: reqwest::Client,
    url: String,
    model: String,
    timeout: Duration,
}

impl Remote {
    async fn embed(&self, text: &str) -> Result<Vec<f32>> {
        let body = serde_json::json!({"model": self.model, "input": text});
        let request = self.client.post(&self.url).json(&body).send();
        let response = tokio::time::timeout(self.timeout, request)
            .await
            .map_err(|_| {
                anyhow!(
                    "the embedding sidecar did not answer within {:?}",
                    self.timeout
                )
            })?
            .map_err(|e| anyhow!("cannot reach the embedding sidecar: {}", e.without_url()))?;
        let status = response.status();
        let bytes = tokio::time::timeout(self.timeout, response.bytes())
            .await
            .map_err(|_| anyhow!("the embedding sidecar's answer did not arrive in time"))?
            .map_err(|e| {
                anyhow!(
                    "the embedding sidecar's answer broke off: {}",
                    e.without_url()
                )
            })?;
        if !status.is_success() {
            bail!("the embedding sidecar answered {status}");
        }
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow!("the embedding sidecar's answer is not JSON: {e}"))?;
        let Some(values) = v.pointer("/data/0/embedding").and_then(|e| e.as_array()) else {
            bail!("the embedding sidecar's answer has no data[0].embedding");
        };
        let mut vector: Vec<f32> = values
            .iter()
            .map(|x| x.as_f64().map(|f| f as f32))
            .collect::<Option<_>>()
            .ok_or_else(|| anyhow!("the embedding sidecar's vector holds a non-number"))?;
        // Cosine on unit vectors is a dot product: normalise whatever the server sends.
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if vector.is_empty() || !norm.is_normal() {
            bail!("the embedding sidecar sent an empty or zero vector");
        }
        vector.iter_mut().for_each(|x| *x /= norm);
        Ok(vector)
    }
}

impl Embedder {
    /// Starts the embedding thread for a loaded model; `model` names it (in health and errors).
    pub fn start(bert: Bert, model: String) -> Result<Embedder> {
        let dims = bert.dims();
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("isartor-embed".into())
            .spawn(move || run(bert, queue))
            .context("cannot start the embedding thread")?;
        Ok(Embedder {
            backend: Backend::Local(jobs),
            dims,
            model,
        })
    }

    /// An embedder backed by an OpenAI-compatible embeddings server at `url`, asked for
    /// `model`. One probe learns the vector size (and that the server answers). Its vectors are
    /// named `sidecar:<model>`, so entries never mix with another model's.
    pub async fn remote(url: &str, model: &str, timeout: Duration) -> Result<Embedder> {
        let client = crate::upstream::http_client(timeout)
            .context("cannot build the embedding sidecar's HTTP client")?;
        let remote = Remote {
            client,
            url: url.to_string(),
            model: model.to_string(),
            timeout,
        };
        let probe = remote.embed("isartor").await?;
        Ok(Embedder {
            dims: probe.len(),
            backend: Backend::Remote(Arc::new(remote)),
            model: format!("sidecar:{model}"),
        })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// The unit vector of `text`. Fails (never blocks) when the queue is full or the thread died,
    /// or when the sidecar fails or is slower than its timeout.
    pub async fn embed(&self, text: &str) -> Result<Vec<f32>> {
        let jobs = match &self.backend {
            Backend::Local(jobs) => jobs,
            Backend::Remote(remote) => return remote.embed(text).await,
        };
        let (reply, answer) = oneshot::channel();
        jobs.try_send(Job {
            text: text.to_string(),
            reply,
        })
        .map_err(|e| match e {
            mpsc::TrySendError::Full(_) => anyhow!("the embedder is busy ({QUEUE} queued)"),
            mpsc::TrySendError::Disconnected(_) => anyhow!("the embedding thread stopped"),
        })?;
        answer
            .await
            .map_err(|_| anyhow!("the embedding thread stopped"))?
            .map_err(|e| anyhow!(e))
    }
}

/// The embedding thread: waits for a job, takes everything else already queued (up to
/// MAX_BATCH), embeds them together, answers each.
fn run(bert: Bert, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let texts: Vec<&str> = batch.iter().map(|j| j.text.as_str()).collect();
        // A panic inside the model fails this batch only; the thread carries on.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bert.embed(&texts)))
            .unwrap_or_else(|_| Err(anyhow!("the embedder panicked")));
        tracing::trace!("embedded {} texts in {:?}", texts.len(), started.elapsed());
        match result {
            Ok(vectors) => {
                for (job, v) in batch.into_iter().zip(vectors) {
                    let _ = job.reply.send(Ok(v));
                }
            }
            Err(e) => {
                let e = format!("{e:#}");
                for job in batch {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}
