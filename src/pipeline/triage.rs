//! L2: the local model. A request the caches missed is classified by the local model from its
//! system prompt and last user turn (`tiered`: TEMPLATE / SNIPPET / COMPLEX; `binary`: SIMPLE /
//! COMPLEX). The easy ones are answered locally; COMPLEX, anything the model cannot label, and
//! every tool-bearing request go to L3. A local answer must pass a quality guard (long enough,
//! not hedging) or the request escalates too. When the engine is missing, failing or slow, the
//! request is treated as COMPLEX and a warning is logged at most once a minute: L2 never turns
//! into an error for the client.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{ClassifierMode, Config, InferenceEngine, RouterBackend};
use crate::exchange::{Exchange, Part, Reply, Usage, new_id, unix_now};
use crate::inference::Completion;
use crate::inference::embedder::{Bert, Embedder};
use crate::inference::gguf::{self, Generator};
use crate::inference::intent::{Intent, IntentClassifier};
use crate::inference::models::{self, Source};
use crate::inference::sidecar::Sidecar;
use crate::telemetry::logs::Throttle;

use super::LayerHealth;
use super::warm::{LayerStatus, Warm};

/// The classifier's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Template,
    Snippet,
    Simple,
    Complex,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Template => "TEMPLATE",
            Label::Snippet => "SNIPPET",
            Label::Simple => "SIMPLE",
            Label::Complex => "COMPLEX",
        }
    }

    fn answered_locally(self) -> bool {
        self != Label::Complex
    }
}

/// What L2 decided for a request.
pub enum Decision {
    /// Answered locally.
    Answer { label: Label, reply: Arc<Reply> },
    /// Being answered locally, streamed: the guarded opening, then the rest as it comes.
    Stream {
        label: Label,
        opening: String,
        rest: gguf::Streaming,
        model: String,
    },
    /// Sent on to L3: COMPLEX, an unreadable label, or an answer the guard refused.
    Escalate {
        decision: String,
        /// Why a local answer was refused, when one was (counted by reason).
        refused: Option<&'static str>,
    },
    /// The engine failed; the request goes on as if COMPLEX.
    Degraded { error: String },
}

/// Most characters of the request text shown to the classifier (about 512 tokens in all).
const CLASSIFY_CHARS: usize = 1500;
enum Engine {
    Http(Sidecar),
    Embedded(Arc<Embedded>),
    /// Chosen in the config but not part of this build.
    Missing(&'static str),
}

/// The in-process engine: the chat model, and the embedding classifier that decides what it
/// answers. Both load in the background at start-up.
pub struct Embedded {
    ready: Warm<(Generator, IntentClassifier)>,
}

impl Embedded {
    fn start(config: &Config) -> Arc<Embedded> {
        let engine = Arc::new(Embedded {
            ready: Warm::default(),
        });
        let loading = engine.clone();
        let (path, embedder, offline) = (
            config.embedded.model_path.clone(),
            Source::parse(&config.embedding_model),
            config.offline_mode,
        );
        tokio::spawn(async move {
            let result = Embedded::load(&path, &embedder, offline).await;
            match &result {
                Ok(both) => tracing::info!("l2: local model ready ({})", both.0.model()),
                Err(e) => {
                    tracing::warn!("l2: the local model is off, every request goes to L3: {e:#}")
                }
            }
            loading.ready.settle(result.map_err(|e| format!("{e:#}")));
        });
        engine
    }

    async fn load(
        path: &str,
        embedder: &Source,
        offline: bool,
    ) -> anyhow::Result<(Generator, IntentClassifier)> {
        let cache = models::hub_cache_dir();
        let model = match path {
            "" => {
                let hub = Source::Hub(gguf::DEFAULT_REPO.into());
                models::resolve(&hub, &[gguf::DEFAULT_FILE], &cache, offline)
                    .await?
                    .remove(0)
            }
            p => p.into(),
        };
        let files = models::resolve(embedder, &models::EMBEDDER_FILES, &cache, offline).await?;
        let name = embedder.to_string();
        let (generator, bert) = tokio::task::spawn_blocking(move || {
            anyhow::Ok((Generator::load(&model)?, Bert::load(&files)?))
        })
        .await??;
        let classifier = IntentClassifier::new(Embedder::start(bert, name)?).await?;
        Ok((generator, classifier))
    }
}

pub struct Triage {
    engine: Engine,
    mode: ClassifierMode,
    max_answer_tokens: u64,
    /// Longest wait for one local call (`layer2.timeout_seconds`).
    timeout: Duration,
    /// Typical answer lengths per class, for the time an answer will take.
    lengths: super::deadline::Lengths,
    failures: Throttle,
    last_error: Mutex<Option<String>>,
}

impl Triage {
    /// The layer, when `enable_slm_router` is on.
    pub fn new(config: &Config) -> Option<Triage> {
        if !config.enable_slm_router {
            return None;
        }
        let timeout = Duration::from_secs(config.layer2.timeout_seconds);
        let engine = match (config.router_backend, config.inference_engine) {
            (RouterBackend::Vllm, _) => Sidecar::new(&config.vllm_url, &config.vllm_model, timeout),
            (RouterBackend::Engine, InferenceEngine::Sidecar) => Sidecar::new(
                &config.layer2.sidecar_url,
                &config.layer2.model_name,
                timeout,
            ),
            (RouterBackend::Engine, InferenceEngine::Embedded) => {
                return Some(Triage::with(
                    Engine::Embedded(Embedded::start(config)),
                    config,
                ));
            }
        };
        let engine = match engine {
            Ok(s) => Engine::Http(s),
            Err(_) => Engine::Missing("cannot build an HTTP client for the local model"),
        };
        Some(Triage::with(engine, config))
    }

    fn with(engine: Engine, config: &Config) -> Triage {
        if let Engine::Missing(why) = &engine {
            tracing::warn!("l2: the local model is off: {why}");
        }
        Triage {
            engine,
            mode: config.layer2.classifier_mode,
            max_answer_tokens: config.layer2.max_answer_tokens,
            timeout: Duration::from_secs(config.layer2.timeout_seconds),
            lengths: super::deadline::Lengths::default(),
            failures: Throttle::new(Duration::from_secs(60)),
            last_error: Mutex::new(None),
        }
    }

    /// Whether L2 may answer this request: no tools offered, no tool calls or results in the
    /// conversation, and a last user turn of text. Agent turns expect tool calls; a local model
    /// must not answer them.
    pub fn eligible(exchange: &Exchange) -> bool {
        let text_only =
            |m: &crate::exchange::Message| m.parts.iter().all(|p| matches!(p, Part::Text { .. }));
        exchange.tools.is_none()
            && exchange.messages.iter().all(text_only)
            && exchange
                .messages
                .last()
                .is_some_and(|m| m.role == "user" && !m.parts.is_empty())
    }

    /// The label of a request: from the embedding classifier (embedded engine) or by asking the
    /// model (sidecar). `Err` when the engine cannot say.
    async fn label(&self, system: &str, request: &str) -> Result<Option<Label>, Decision> {
        match &self.engine {
            Engine::Embedded(e) => {
                let Some((_, classifier)) = e.ready.get() else {
                    return Err(self.unavailable(e));
                };
                let (intent, _) = classifier
                    .classify(request)
                    .await
                    .map_err(|e| self.failed(e))?;
                Ok(Some(match (intent, self.mode) {
                    (Intent::Complex, _) => Label::Complex,
                    (_, ClassifierMode::Binary) => Label::Simple,
                    (Intent::Template, _) => Label::Template,
                    (Intent::Snippet, _) => Label::Snippet,
                }))
            }
            Engine::Http(_) if crate::inference::intent::complex_on_its_face(request) => {
                Ok(Some(Label::Complex))
            }
            Engine::Http(sidecar) => {
                let prompt = classify_prompt(self.mode);
                let shown = format!(
                    "System prompt of the request:\n{}\n\nRequest:\n{}",
                    truncate(system, CLASSIFY_CHARS / 3),
                    truncate(request, CLASSIFY_CHARS)
                );
                match sidecar
                    .complete(&[("system", &prompt), ("user", &shown)], 8)
                    .await
                {
                    Ok(c) => Ok(parse_label(&c.text, self.mode)),
                    Err(e) => Err(self.failed(e)),
                }
            }
            Engine::Missing(why) => Err(Decision::Degraded {
                error: why.to_string(),
            }),
        }
    }

    /// Degraded while the embedded model loads or after it failed to.
    fn unavailable(&self, e: &Embedded) -> Decision {
        let error = match e.ready.status() {
            (_, Some(why)) => why.to_string(),
            _ => "the local model is still loading".to_string(),
        };
        Decision::Degraded { error }
    }

    async fn complete(&self, messages: &[(&str, &str)]) -> anyhow::Result<Completion> {
        match &self.engine {
            Engine::Http(s) => s.complete(messages, self.max_answer_tokens).await,
            Engine::Embedded(e) => match e.ready.get() {
                Some((generator, _)) => {
                    generator
                        .complete(messages, self.max_answer_tokens, self.timeout)
                        .await
                }
                None => anyhow::bail!("the local model is not loaded"),
            },
            Engine::Missing(why) => anyhow::bail!("{why}"),
        }
    }

    /// Classifies `exchange` and answers it when it is easy.
    pub async fn run(&self, exchange: &Exchange) -> Decision {
        let system = exchange.system.join("\n");
        let request = exchange.last_user_text().unwrap_or_default();
        let label = match self.label(&system, &request).await {
            Ok(label) => label,
            Err(decision) => return decision,
        };
        let Some(label) = label.filter(|l| l.answered_locally()) else {
            self.recovered();
            return Decision::Escalate {
                decision: label.map_or("UNPARSED", Label::as_str).to_string(),
                refused: None,
            };
        };
        let mut messages: Vec<(&str, String)> = Vec::new();
        if !system.is_empty() {
            messages.push(("system", system));
        }
        for m in &exchange.messages {
            let role = if m.role == "assistant" {
                "assistant"
            } else {
                "user"
            };
            messages.push((role, m.text()));
        }
        let messages: Vec<(&str, &str)> = messages.iter().map(|(r, t)| (*r, t.as_str())).collect();
        if let Some(why) = self.too_slow(label, exchange) {
            return Decision::Escalate {
                decision: format!("{} ({why})", label.as_str()),
                refused: Some("too slow"),
            };
        }
        if let Engine::Embedded(e) = &self.engine
            && exchange.stream
            && crate::exchange::stream_encoder(exchange.format, false).is_some()
            && let Some((generator, _)) = e.ready.get()
        {
            return self
                .stream(
                    generator,
                    &messages,
                    (label, &request),
                    exchange.estimated_prompt_tokens(),
                )
                .await;
        }
        match self.complete(&messages).await {
            Ok(answer) => self.accept(label, &request, answer, exchange.estimated_prompt_tokens()),
            Err(e) => self.failed(e),
        }
    }

    /// Why the embedded model cannot finish this answer within the time budget, if it cannot
    /// (see [`super::deadline`]).
    fn too_slow(&self, label: Label, exchange: &Exchange) -> Option<String> {
        let Engine::Embedded(e) = &self.engine else {
            return None;
        };
        let (generator, _) = e.ready.get()?;
        let cap = super::deadline::requested_limit(exchange)
            .unwrap_or(u64::MAX)
            .min(self.max_answer_tokens);
        let tokens = self.lengths.expected(label.as_str()).min(cap as f64);
        let prompt = exchange.estimated_prompt_tokens();
        super::deadline::fits(generator.speed(), prompt, tokens, self.timeout)
            .err()
            .map(|needed| {
                format!(
                    "~{:.0} s locally for ~{tokens:.0} tokens, over layer2.timeout_seconds = {}",
                    needed.as_secs_f64(),
                    self.timeout.as_secs()
                )
            })
    }

    /// A whole local answer: served when it passes the guard.
    fn accept(
        &self,
        label: Label,
        request: &str,
        answer: Completion,
        prompt_tokens: u64,
    ) -> Decision {
        self.recovered();
        if let Some(why) = answer.cut {
            return refused(label, why);
        }
        self.lengths.learn(label.as_str(), answer.output_tokens);
        if let Err(why) = super::answer_check::complete(request, &answer.text) {
            return refused(label, why);
        }
        let reply = Reply {
            id: new_id("isartor-l2"),
            model: answer.model,
            created: unix_now(),
            usage: Usage {
                input_tokens: answer.input_tokens,
                output_tokens: answer.output_tokens,
                ..Usage::default()
            },
            ..Reply::of_text(answer.text)
        };
        Decision::Answer {
            label,
            reply: Arc::new(reply.with_usage_estimate(prompt_tokens)),
        }
    }

    /// Starts a streamed local answer; holds it back until its opening passes the answer guard.
    async fn stream(
        &self,
        generator: &Generator,
        messages: &[(&str, &str)],
        (label, request): (Label, &str),
        prompt_tokens: u64,
    ) -> Decision {
        let mut streaming = match generator.stream(messages, self.max_answer_tokens, self.timeout) {
            Ok(s) => s,
            Err(e) => return self.failed(e),
        };
        let mut opening = String::new();
        while opening.chars().count() < GUARDED_OPENING {
            match streaming.pieces.recv().await {
                Some(piece) => opening.push_str(&piece),
                // The whole answer came before the opening was long: judge and send it whole.
                None => {
                    return match gguf::finished(streaming.done).await {
                        Ok(answer) => self.accept(label, request, answer, prompt_tokens),
                        Err(e) => self.failed(e),
                    };
                }
            }
        }
        if let Err(why) = super::answer_check::opening(request, &opening) {
            return refused(label, why);
        }
        self.recovered();
        Decision::Stream {
            label,
            opening,
            rest: streaming,
            model: generator.model().to_string(),
        }
    }

    fn failed(&self, e: anyhow::Error) -> Decision {
        let error = format!("{e:#}");
        if self.failures.ready() {
            tracing::warn!("l2: the local model failed, sending requests to L3: {error}");
        }
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.clone());
        Decision::Degraded { error }
    }

    fn recovered(&self) {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    pub fn health(&self) -> LayerHealth {
        match &self.engine {
            Engine::Embedded(e) => {
                let (status, detail) = match (e.ready.get(), e.ready.status()) {
                    (Some((g, _)), _) => (
                        LayerStatus::Ready,
                        format!("{:?} triage, embedded {}", self.mode, g.model()).to_lowercase(),
                    ),
                    (None, (status, why)) => {
                        (status, why.unwrap_or("loading the local model").to_string())
                    }
                };
                LayerHealth {
                    enabled: true,
                    status,
                    detail,
                }
            }
            Engine::Missing(why) => LayerHealth {
                enabled: true,
                status: LayerStatus::NotBuilt,
                detail: why.to_string(),
            },
            Engine::Http(s) => match &*self.last_error.lock().unwrap_or_else(|p| p.into_inner()) {
                Some(e) => LayerHealth {
                    enabled: true,
                    status: LayerStatus::Degraded,
                    detail: e.clone(),
                },
                None => LayerHealth {
                    enabled: true,
                    status: LayerStatus::Ready,
                    detail: format!("{:?} triage via {}", self.mode, s.url()).to_lowercase(),
                },
            },
        }
    }
}

/// The classifier's instructions: the labels, what each means, one word back.
fn classify_prompt(mode: ClassifierMode) -> String {
    let (labels, list) = match mode {
        ClassifierMode::Tiered => (
            "TEMPLATE, SNIPPET or COMPLEX",
            "TEMPLATE: boilerplate or a standard file: a config file (tsconfig.json, .gitignore, \
             Dockerfile, package.json), type definitions, documentation text, scaffolding.\n\
             SNIPPET: one short, self-contained piece: a single function under 50 lines, a \
             command, a regular expression, a one-paragraph explanation.\n\
             COMPLEX: anything bigger: several files, a whole feature or endpoint, test suites, \
             debugging with context, design, refactoring or reviewing existing code.",
        ),
        ClassifierMode::Binary => (
            "SIMPLE or COMPLEX",
            "SIMPLE: a short, self-contained answer: a command, a config file, a small function, \
             a definition.\n\
             COMPLEX: anything bigger: several files, a whole feature, test suites, debugging, \
             design, refactoring or reviewing existing code.",
        ),
    };
    format!(
        "You sort requests sent to a coding assistant by how much work the answer is.\n{list}\n\
         Reply with exactly one word: {labels}."
    )
}

/// The label the model gave: its reply (first line, markup and punctuation stripped) must be
/// exactly one of the mode's labels. Anything else is no label.
pub fn parse_label(reply: &str, mode: ClassifierMode) -> Option<Label> {
    let first = reply.trim().lines().next().unwrap_or("");
    let word = first
        .trim_matches(|c: char| !c.is_ascii_alphabetic())
        .to_ascii_uppercase();
    let label = match word.as_str() {
        "TEMPLATE" => Label::Template,
        "SNIPPET" => Label::Snippet,
        "SIMPLE" => Label::Simple,
        "COMPLEX" => Label::Complex,
        _ => return None,
    };
    let allowed = match mode {
        ClassifierMode::Tiered => label != Label::Simple,
        ClassifierMode::Binary => matches!(label, Label::Simple | Label::Complex),
    };
    allowed.then_some(label)
}

/// How much of a streamed answer is held back and checked before the client sees any of it.
const GUARDED_OPENING: usize = 40;

fn refused(label: Label, why: &'static str) -> Decision {
    Decision::Escalate {
        decision: format!("{} (answer refused: {why})", label.as_str()),
        refused: Some(why),
    }
}

fn truncate(text: &str, chars: usize) -> &str {
    match text.char_indices().nth(chars) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_parsed_never_guessed() {
        use ClassifierMode::{Binary, Tiered};
        assert_eq!(parse_label("TEMPLATE", Tiered), Some(Label::Template));
        assert_eq!(parse_label(" snippet.\n", Tiered), Some(Label::Snippet));
        assert_eq!(parse_label("**COMPLEX**", Tiered), Some(Label::Complex));
        assert_eq!(parse_label("SIMPLE", Binary), Some(Label::Simple));
        assert_eq!(parse_label("SIMPLE", Tiered), None, "not a tiered label");
        assert_eq!(parse_label("TEMPLATE", Binary), None, "not a binary label");
        assert_eq!(
            parse_label("I think TEMPLATE", Tiered),
            None,
            "no substring guesses"
        );
        assert_eq!(parse_label("TEMPLATES", Tiered), None);
        assert_eq!(parse_label("", Tiered), None);
    }
}
