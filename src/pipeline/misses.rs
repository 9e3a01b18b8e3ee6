//! Why a request missed: a small ring, in memory only (never written to disk), of the readable
//! canonical forms of the last requests that missed every cache, and the comparison of one of
//! them with the nearest request still cached: model, parameters, tools, and a line diff of the
//! system prompt and the turns. This is how a user finds the per-run value (a date, a session
//! folder, a nonce) that makes their client miss every time.

use std::collections::VecDeque;
use std::sync::Mutex;

use std::fmt::Write as _;

pub use crate::exchange::compare::Difference;
use crate::exchange::compare::{differences, likeness};
use crate::exchange::key::{CacheKey, Readable};
use serde::{Deserialize, Serialize};

/// How many misses are kept.
pub const RING: usize = 32;

/// One request that missed every cache.
pub struct Missed {
    pub at_ms: u64,
    pub key: CacheKey,
    pub client: String,
    pub preview: String,
    pub readable: std::sync::Arc<Readable>,
    pub semantic: Option<SemanticMiss>,
}

/// What L1b found for a miss, when it looked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SemanticMiss {
    /// The best similarity among entries of the same context (none: no entry shares it).
    pub best: Option<f32>,
    pub threshold: f32,
    /// The guard rule that refused the best candidate above the threshold.
    pub refused_by: Option<String>,
}

/// The recent misses, newest last.
#[derive(Default)]
pub struct Misses {
    ring: Mutex<VecDeque<std::sync::Arc<Missed>>>,
}

impl Misses {
    pub fn record(&self, missed: Missed) {
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.len() == RING {
            ring.pop_front();
        }
        ring.push_back(std::sync::Arc::new(missed));
    }

    /// The misses, newest first.
    pub fn recent(&self) -> Vec<std::sync::Arc<Missed>> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        ring.iter().rev().cloned().collect()
    }
}

/// The explanation of one miss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Why {
    pub at_ms: u64,
    pub key: String,
    pub client: String,
    pub model: String,
    pub preview: String,
    /// The nearest cached request's key, when one of the recent ones is still cached.
    pub nearest: Option<String>,
    pub differences: Vec<Difference>,
    pub semantic: Option<SemanticMiss>,
}

/// The first 12 characters of a key, as `isartor cache ls` shows it.
fn short(key: &str) -> &str {
    key.get(..12).unwrap_or(key)
}

impl Why {
    /// The explanation as text: what `isartor cache why` prints and `top` shows.
    pub fn report(&self) -> String {
        let why = self;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "miss {} from {} ({}): {}",
            short(&why.key),
            crate::display::printable(&why.client),
            why.model,
            crate::display::printable(&why.preview)
        );
        if let Some(s) = &why.semantic {
            let _ = match (s.best, &s.refused_by) {
                (Some(best), Some(rule)) => writeln!(
                    out,
                    "semantic: best similarity {best:.3} (threshold {:.2}), refused by the guard's `{rule}` rule",
                    s.threshold
                ),
                (Some(best), None) => writeln!(
                    out,
                    "semantic: best similarity {best:.3}, below the threshold {:.2}",
                    s.threshold
                ),
                (None, _) => writeln!(out, "semantic: no stored request shares its context"),
            };
        }
        match &why.nearest {
            None => {
                let _ = writeln!(
                    out,
                    "no recent request still cached resembles it (asked for the first time, or its \
                     entry expired)"
                );
            }
            Some(key) if why.differences.is_empty() => {
                let _ = writeln!(
                    out,
                    "nearest cached request: {}, identical in every part the key covers",
                    short(key)
                );
            }
            Some(key) => {
                let _ = writeln!(
                    out,
                    "nearest cached request: {}; it differs in:",
                    short(key)
                );
                for d in &why.differences {
                    let _ = writeln!(out, "  {}:", d.part);
                    for line in &d.cached {
                        let _ = writeln!(out, "    - {line}");
                    }
                    for line in &d.this {
                        let _ = writeln!(out, "    + {line}");
                    }
                }
                let _ = writeln!(
                    out,
                    "(- the cached request, + this one; a line that changes on every run is a \
                     per-run value in the client's prompt)"
                );
            }
        }
        out
    }
}

/// Explains `missed` against the nearest of `cached` (recent requests whose entries are still
/// held).
pub fn explain(missed: &Missed, cached: &[&Missed]) -> Why {
    let nearest = cached
        .iter()
        .filter(|c| c.key != missed.key)
        .map(|c| (likeness(&c.readable, &missed.readable), c))
        .filter(|(score, _)| *score > 0.0)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c);
    let (a, b) = (nearest.map(|n| &*n.readable), &*missed.readable);
    let differences = a.map_or_else(Vec::new, |a| differences(a, b));
    Why {
        at_ms: missed.at_ms,
        key: missed.key.to_string(),
        client: missed.client.clone(),
        model: crate::display::printable(&missed.readable.model).into_owned(),
        preview: missed.preview.clone(),
        nearest: nearest.map(|n| n.key.to_string()),
        differences,
        semantic: missed.semantic.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(system: &str, last: &str) -> Readable {
        Readable {
            namespace: "openai.chat",
            model: "m".into(),
            params: "{}".into(),
            tools: String::new(),
            tool_choice: String::new(),
            system: system.into(),
            earlier: String::new(),
            last: format!("[user] {last}"),
        }
    }

    fn missed(key: u8, system: &str, last: &str) -> Missed {
        Missed {
            at_ms: 0,
            key: CacheKey([key; 32]),
            client: "curl".into(),
            preview: last.into(),
            readable: std::sync::Arc::new(readable(system, last)),
            semantic: None,
        }
    }

    #[test]
    fn names_the_line_that_changed_against_the_nearest_entry() {
        let old = missed(1, "You help.\nRun: 111\nBe brief.", "fix the bug");
        let far = missed(2, "Something else entirely.", "write a poem");
        let new = missed(3, "You help.\nRun: 222\nBe brief.", "fix the bug");
        let why = explain(&new, &[&far, &old]);
        assert_eq!(why.nearest.as_deref(), Some(old.key.to_string().as_str()));
        assert_eq!(
            why.differences,
            [Difference {
                part: "system prompt".into(),
                cached: vec!["Run: 111".into()],
                this: vec!["Run: 222".into()],
            }]
        );
    }

    #[test]
    fn nothing_to_compare_with_gives_no_differences() {
        let new = missed(3, "s", "hello");
        let why = explain(&new, &[&new]);
        assert!(why.nearest.is_none() && why.differences.is_empty());
    }

    #[test]
    fn the_ring_keeps_the_newest() {
        let misses = Misses::default();
        for i in 0..(RING + 3) {
            misses.record(missed(i as u8, "s", "x"));
        }
        let recent = misses.recent();
        assert_eq!(recent.len(), RING);
        assert_eq!(recent[0].key, CacheKey([(RING + 2) as u8; 32]));
    }
}
