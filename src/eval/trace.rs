//! Trace replay: a day of prompts (`{"i", "prompt", "class"}`) sent in order through the real
//! daemon, started in-process against an echo provider on loopback that answers every prompt of
//! a class with the same text (`<class>: <the class's first prompt>`). A served answer therefore
//! names the class it was stored for, and a wrong hit is one of another class. In shadow mode
//! (`semantic_mode = shadow`) the same answers make the daemon's own agreement check exact:
//! a candidate is "identical" exactly when it would have been right.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::config::{Config, Secret, SemanticMode};
use crate::telemetry::stats::ShadowStats;

#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    pub i: u64,
    pub prompt: String,
    pub class: String,
}

pub fn read(path: &Path) -> Result<Vec<Line>> {
    super::read_jsonl(path, "a trace line")
}

/// Per layer: requests and their latencies (µs, as the client saw them).
#[derive(Debug, Default)]
pub struct LayerLine {
    pub requests: usize,
    pub micros: Vec<u64>,
}

impl LayerLine {
    pub fn percentile(&self, p: f64) -> u64 {
        let mut v = self.micros.clone();
        v.sort_unstable();
        v.get(((v.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0)
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub lines: usize,
    pub layers: BTreeMap<String, LayerLine>,
    /// Served before L3.
    pub served: usize,
    /// Lines an earlier line of the same class could answer, and of those, the repeats of an
    /// earlier line word for word (what an exact cache alone can serve).
    pub answerable: Answerable,
    /// Served with the answer stored for another class: line, prompt, the answer, the layer.
    pub wrong: Vec<(u64, String, String, String)>,
    /// With `semantic_mode = shadow`: what the daemon counted.
    pub shadow: Option<ShadowStats>,
}

/// How much of a trace earlier lines can answer: the most any cache can deflect.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Answerable {
    pub lines: usize,
    pub word_for_word: usize,
}

impl Answerable {
    pub fn of(lines: &[Line]) -> Answerable {
        let mut classes = std::collections::HashSet::new();
        let mut prompts = std::collections::HashSet::new();
        let mut a = Answerable::default();
        for l in lines {
            let class_seen = !classes.insert(l.class.as_str());
            let prompt_seen = !prompts.insert(l.prompt.as_str());
            if class_seen {
                a.lines += 1;
                a.word_for_word += usize::from(prompt_seen);
            }
        }
        a
    }
}

/// The answer the echo provider gives every prompt of a class.
fn answers(lines: &[Line]) -> HashMap<String, String> {
    let mut first: HashMap<&str, &str> = HashMap::new();
    for l in lines {
        first.entry(&l.class).or_insert(&l.prompt);
    }
    let mut answers = HashMap::new();
    for l in lines {
        answers
            .entry(l.prompt.clone())
            .or_insert_with(|| format!("{}: {}", l.class, first[l.class.as_str()]));
    }
    answers
}

/// Replays `lines` through a daemon built from `config` (its listener, provider and key are
/// replaced by the echo provider).
pub async fn replay(mut config: Config, lines: &[Line]) -> Result<Report> {
    let echo = TcpListener::bind("127.0.0.1:0").await?;
    let echo_addr = echo.local_addr()?;
    tokio::spawn(serve_echo(echo, std::sync::Arc::new(answers(lines))));
    let shadow = config.semantic_mode == SemanticMode::Shadow;
    config.host_port = "127.0.0.1:0".into();
    config.llm_provider = crate::config::Provider::Openai;
    config.external_llm_url = format!("http://{echo_addr}/v1/chat/completions");
    config.external_llm_api_key = Secret("eval".into());
    config.gateway_api_key = Secret::default();
    config.fallback_providers.clear();
    config.offline_mode = false;
    config.enable_monitoring = false;
    config.proxy.enabled = false;
    // A replay is not usage: no history, no budgets.
    config.usage.enabled = false;
    config.budgets.clear();
    // With the proxy and the history off, nothing is written under these paths.
    let unused = crate::paths::Paths::under(&std::env::temp_dir());
    let daemon = crate::daemon::start(config, &unused).await?;
    let base = format!("http://{}", daemon.addr());
    let client = reqwest::Client::builder().no_proxy().build()?;
    wait_until_loaded(&client, &base).await?;

    let mut report = Report {
        lines: lines.len(),
        answerable: Answerable::of(lines),
        ..Report::default()
    };
    for line in lines {
        let body = json!({"model": "eval", "messages": [{"role": "user", "content": line.prompt}]});
        let started = Instant::now();
        let response = client
            .post(format!("{base}/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?;
        let layer = response
            .headers()
            .get("x-isartor-layer")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string();
        let answer: Value = serde_json::from_slice(&response.bytes().await?)?;
        let micros = started.elapsed().as_micros() as u64;
        let entry = report.layers.entry(layer.clone()).or_default();
        entry.requests += 1;
        entry.micros.push(micros);
        if layer != "l3" {
            report.served += 1;
            let stored = answer["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or("");
            let stored_class = stored.split_once(": ").map_or("?", |(c, _)| c);
            if stored_class != line.class {
                report
                    .wrong
                    .push((line.i, line.prompt.clone(), stored.to_string(), layer));
            }
        }
    }
    if shadow {
        report.shadow = Some(judged(&daemon).await);
    }
    daemon.stop().await;
    Ok(report)
}

/// Shadow mode's counts once every candidate has been judged (the judge runs after the answer,
/// off the request path); what was judged within a minute otherwise.
async fn judged(daemon: &crate::daemon::Daemon) -> ShadowStats {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = daemon.bus().snapshot().shadow;
        if s.pending == 0 || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (up to two minutes) until `/health` says the semantic cache finished loading.
async fn wait_until_loaded(client: &reqwest::Client, base: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let response = client.get(format!("{base}/health")).send().await?;
        let health: Value = serde_json::from_slice(&response.bytes().await?)?;
        match health["layers"]["l1b"]["status"].as_str() {
            Some("loading") => {}
            Some("failed") => bail!(
                "the semantic cache did not load: {}",
                health["layers"]["l1b"]["detail"]
            ),
            _ => return Ok(()),
        }
        if Instant::now() > deadline {
            bail!("the semantic cache is still loading after two minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The echo provider: every chat completion answers with its prompt's class answer (the prompt
/// itself when it is not in the trace).
async fn serve_echo(listener: TcpListener, answers: std::sync::Arc<HashMap<String, String>>) {
    while let Ok((stream, _)) = listener.accept().await {
        let answers = answers.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let answers = answers.clone();
                async move {
                    let body = req.into_body().collect().await.map(|b| b.to_bytes());
                    let request: Value = body
                        .ok()
                        .and_then(|b| serde_json::from_slice(&b).ok())
                        .unwrap_or(Value::Null);
                    let prompt = request["messages"]
                        .as_array()
                        .and_then(|m| m.last())
                        .and_then(|m| m["content"].as_str())
                        .unwrap_or("")
                        .to_string();
                    let prompt = answers.get(&prompt).cloned().unwrap_or(prompt);
                    let answer = json!({"id": "chatcmpl-echo", "object": "chat.completion",
                    "created": 0, "model": "echo",
                    "choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": prompt}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}});
                    let response = hyper::Response::builder()
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(answer.to_string())))
                        .unwrap_or_default();
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answerable_lines_are_repeats_of_a_class_seen_before() {
        let line = |i, prompt: &str, class: &str| Line {
            i,
            prompt: prompt.into(),
            class: class.into(),
        };
        let lines = [
            line(1, "undo a commit", "a"),
            line(2, "sort a list", "b"),
            line(3, "undo a commit", "a"),
            line(4, "revert my last commit", "a"),
            line(5, "sort a list descending", "c"),
            line(6, "undo a commit", "a"),
        ];
        assert_eq!(
            Answerable::of(&lines),
            Answerable {
                lines: 3,
                word_for_word: 2
            }
        );
    }
}
