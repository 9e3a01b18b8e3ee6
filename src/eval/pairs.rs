//! Labelled pairs (`{"a", "b", "same"}`, optionally `"category"`): the real embedder and guard on
//! each pair, and the serving rates per similarity threshold, with and without the guard.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use serde::Deserialize;

use crate::inference::embedder::Bert;
use crate::pipeline::guard::{self, Reject};
use crate::store::vectors::dot;

#[derive(Debug, Clone, Deserialize)]
pub struct Pair {
    #[serde(default)]
    pub id: String,
    #[serde(default = "all")]
    pub category: String,
    pub a: String,
    pub b: String,
    pub same: bool,
}

fn all() -> String {
    "all".into()
}

/// One pair, scored: the cosine of its two prompts and the guard's verdict (stored `a`, new `b`).
#[derive(Debug, Clone)]
pub struct Scored {
    pub pair: Pair,
    pub cosine: f32,
    pub guard: Result<(), Reject>,
}

pub fn read(path: &Path) -> Result<Vec<Pair>> {
    super::read_jsonl(path, "a pair")
}

/// Embeds every distinct prompt once (in batches; pairs drawn from a trace share most of theirs)
/// and runs the guard on each pair. Returns the pairs scored and how many prompts were embedded.
pub fn score(bert: &Bert, pairs: &[Pair]) -> Result<(Vec<Scored>, usize)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut texts: Vec<&str> = Vec::new();
    for p in pairs {
        for t in [p.a.as_str(), p.b.as_str()] {
            index.entry(t).or_insert_with(|| {
                texts.push(t);
                texts.len() - 1
            });
        }
    }
    let mut vectors = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(32) {
        vectors.extend(bert.embed(chunk)?);
    }
    let scored = pairs
        .iter()
        .map(|pair| Scored {
            pair: pair.clone(),
            cosine: dot(
                &vectors[index[pair.a.as_str()]],
                &vectors[index[pair.b.as_str()]],
            ),
            guard: guard::verify(&pair.a, &pair.b),
        })
        .collect();
    Ok((scored, texts.len()))
}

/// Served / total.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rate {
    pub served: usize,
    pub total: usize,
}

impl Rate {
    pub fn percent(self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.served as f64 / self.total as f64
        }
    }

    fn add(&mut self, served: bool) {
        self.total += 1;
        self.served += usize::from(served);
    }
}

/// The serving rates at one threshold.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub threshold: f32,
    /// Same-answer pairs served (higher is better), with the guard and with the cosine alone.
    pub should_hit: Rate,
    pub should_hit_plain: Rate,
    /// Different-answer pairs served (lower is better), with the guard and with the cosine alone.
    pub traps: Rate,
    pub traps_plain: Rate,
    /// Served pairs per category (with the guard).
    pub categories: BTreeMap<String, Rate>,
}

impl Row {
    /// Of everything served, the share that was right.
    pub fn precision(&self) -> f64 {
        let served = self.should_hit.served + self.traps.served;
        if served == 0 {
            100.0
        } else {
            100.0 * self.should_hit.served as f64 / served as f64
        }
    }
}

pub fn table(scored: &[Scored], thresholds: &[f32]) -> Vec<Row> {
    thresholds
        .iter()
        .map(|&threshold| {
            let mut row = Row {
                threshold,
                ..Row::default()
            };
            for s in scored {
                let close = s.cosine >= threshold;
                let served = close && s.guard.is_ok();
                let (guarded, plain) = if s.pair.same {
                    (&mut row.should_hit, &mut row.should_hit_plain)
                } else {
                    (&mut row.traps, &mut row.traps_plain)
                };
                guarded.add(served);
                plain.add(close);
                row.categories
                    .entry(s.pair.category.clone())
                    .or_default()
                    .add(served);
            }
            row
        })
        .collect()
}

/// What the guard decided on the pairs at or above `threshold`, per rule: how many traps it
/// refused (right) and how many same-answer pairs (wrong). `served` counts the pairs it let
/// through, as (traps, same-answer).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decisions {
    pub refused: BTreeMap<&'static str, (usize, usize)>,
    pub served: (usize, usize),
}

pub fn decisions(scored: &[Scored], threshold: f32) -> Decisions {
    let mut d = Decisions::default();
    for s in scored.iter().filter(|s| s.cosine >= threshold) {
        let counts = match s.guard {
            Ok(()) => &mut d.served,
            Err(rule) => d.refused.entry(rule.as_str()).or_default(),
        };
        match s.pair.same {
            false => counts.0 += 1,
            true => counts.1 += 1,
        }
    }
    d
}

/// Writes each scored pair as a JSON line `{"id", "a", "b", "same", "cosine", "guard"}`, where
/// `guard` is `served` or the label of the rule that refused the pair (whatever its cosine).
pub fn write_scores(scored: &[Scored], mut out: impl Write) -> Result<()> {
    for s in scored {
        let line = serde_json::json!({
            "id": s.pair.id,
            "a": s.pair.a,
            "b": s.pair.b,
            "same": s.pair.same,
            "cosine": s.cosine,
            "guard": s.guard.err().map_or("served", Reject::as_str),
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(a: &str, b: &str, same: bool, cosine: f32) -> Scored {
        let pair = Pair {
            id: String::new(),
            category: all(),
            a: a.into(),
            b: b.into(),
            same,
        };
        Scored {
            guard: guard::verify(a, b),
            pair,
            cosine,
        }
    }

    /// Two traps above 0.85, one below, and a paraphrase.
    fn sample() -> [Scored; 4] {
        [
            scored(
                "sort the list ascending",
                "sort the list descending",
                false,
                0.95,
            ),
            scored("retry 3 times", "retry 5 times", false, 0.95),
            scored("retry 3 times", "retry 5 times", false, 0.5),
            scored(
                "how do I undo a commit",
                "how can I undo a commit",
                true,
                0.97,
            ),
        ]
    }

    #[test]
    fn decisions_count_each_rule_on_pairs_above_the_threshold() {
        let d = decisions(&sample(), 0.85);
        assert_eq!(d.served, (0, 1));
        let refused: usize = d.refused.values().map(|(traps, _)| traps).sum();
        assert_eq!(refused, 2, "{d:?}");
        assert_eq!(d.refused.get("number"), Some(&(1, 0)));
    }

    #[test]
    fn scores_name_each_pair_and_the_rule_that_refused_it() {
        let mut out = Vec::new();
        write_scores(&sample()[2..], &mut out).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["guard"], "number");
        assert_eq!(lines[0]["a"], "retry 3 times");
        assert_eq!(lines[0]["same"], false);
        assert!((lines[0]["cosine"].as_f64().unwrap() - 0.5).abs() < 1e-6);
        assert_eq!(lines[1]["guard"], "served");
        assert_eq!(lines[1]["b"], "how can I undo a commit");
    }
}
