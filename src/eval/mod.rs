//! Measuring the semantic cache on labelled data: [`pairs`] scores the real embedder and guard on
//! pairs of prompts per threshold; [`trace`] replays a day of prompts through the real daemon
//! and counts deflections and wrong hits. Used by `isartor eval semantic`.

pub mod pairs;
pub mod trace;

use std::path::Path;

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;

/// Reads a JSON-lines file of `what`s (blank lines skipped); errors name the line.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path, what: &str) -> Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not {what}", path.display(), n + 1))
        })
        .collect()
}
