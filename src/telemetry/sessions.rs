//! The provider's own prompt cache, watched per session. For agent traffic most requests are
//! unique and go to the cloud; what they cost is decided by how much of each prompt the provider
//! reads from its cache (a tenth of the input price at Anthropic, half or less at OpenAI). Each
//! session (the client's own id, or its conversation's start) keeps its turns, its input and
//! cache-read tokens, and its **breaks**: a turn whose cache read fell to near nothing after a
//! turn long enough to be cached, with where the prompt first changed (the system prompt, the
//! tools, or message N; "unchanged" when the prefix is intact and the provider dropped it) and
//! a short line diff of that part against the previous turn.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::events::{Layer, RequestEvent};
use crate::exchange::compare::{Difference, differences};
use crate::exchange::key::Readable;

/// The parts of a prompt a provider caches as a prefix (what a break's diff is looked for in).
const PREFIX_PARTS: [&str; 4] = ["tools", "tool_choice", "system prompt", "earlier turns"];

/// Sessions kept; the least recently seen goes first.
pub const KEPT: usize = 256;
/// Sessions that keep their last turn's text for the diff at a break (the most recently seen:
/// an agent's prompt can be 100 KB).
const WITH_TEXT: usize = 32;
/// Prompts shorter than this are not cached by the providers (Anthropic and OpenAI start at
/// 1,024 tokens), so a turn after one cannot break anything.
const CACHEABLE: u64 = 1024;
/// A cache read below this share of the previous turn's prompt is a break.
const FELL: f64 = 0.1;

/// One session as `isartor stats` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    pub session: String,
    pub client: String,
    pub turns: u64,
    pub input_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Cache-read tokens over input tokens.
    pub cache_read_ratio: f64,
    pub breaks: u64,
    /// Where the last break happened.
    pub last_break: Option<String>,
    /// What changed there, against the previous turn (`cached`: its lines, `this`: the new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_break_diff: Option<Difference>,
    pub last_seen_ms: u64,
}

struct Session {
    view: SessionView,
    prefix: Vec<u64>,
    last_input: u64,
    /// The last turn's readable form (see `WITH_TEXT`).
    readable: Option<Arc<Readable>>,
}

#[derive(Default)]
pub struct Sessions {
    map: HashMap<String, Session>,
}

/// Where `new` first differs from `old`: the system prompt, the tools, a message, or nowhere.
fn first_change(old: &[u64], new: &[u64]) -> String {
    match old.iter().zip(new).position(|(a, b)| a != b) {
        Some(0) => "system".into(),
        Some(1) => "tools".into(),
        Some(i) => format!("message {}", i - 2),
        None if new.len() < old.len() => format!("message {}", new.len().saturating_sub(2)),
        None => "unchanged".into(),
    }
}

impl Sessions {
    /// Takes an answered L3 event in; returns where the provider's cache broke, if it did.
    pub fn record(&mut self, e: &RequestEvent) -> Option<String> {
        let id = e.session.as_ref()?;
        if e.layer != Some(Layer::L3) || !(200..300).contains(&e.status) {
            return None;
        }
        if !self.map.contains_key(id)
            && self.map.len() >= KEPT
            && let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, s)| s.view.last_seen_ms)
                .map(|(k, _)| k.clone())
        {
            self.map.remove(&oldest);
        }
        let s = self.map.entry(id.clone()).or_insert_with(|| Session {
            view: SessionView {
                session: id.clone(),
                client: e.client.clone(),
                ..SessionView::default()
            },
            prefix: Vec::new(),
            last_input: 0,
            readable: None,
        });
        let broke = (s.view.turns > 0
            && s.last_input >= CACHEABLE
            && (e.tokens_cache_read as f64) < FELL * s.last_input as f64)
            .then(|| first_change(&s.prefix, &e.prefix));
        let v = &mut s.view;
        v.turns += 1;
        v.input_tokens += e.tokens_in;
        v.cache_read_tokens += e.tokens_cache_read;
        v.cache_write_tokens += e.tokens_cache_write;
        v.cache_read_ratio = v.cache_read_tokens as f64 / v.input_tokens.max(1) as f64;
        v.last_seen_ms = e.at_ms;
        if let Some(at) = &broke {
            v.breaks += 1;
            v.last_break = Some(at.clone());
            v.last_break_diff = match (&s.readable, &e.readable) {
                (Some(before), Some(now)) => differences(before, now)
                    .into_iter()
                    .find(|d| PREFIX_PARTS.contains(&d.part.as_str())),
                _ => None,
            };
        }
        s.prefix = e.prefix.clone();
        s.last_input = e.tokens_in;
        s.readable = e.readable.clone();
        self.forget_old_text();
        broke
    }

    /// Keeps the last turn's text only for the `WITH_TEXT` most recently seen sessions.
    fn forget_old_text(&mut self) {
        let with_text = self.map.values().filter(|s| s.readable.is_some()).count();
        if with_text > WITH_TEXT
            && let Some(oldest) = self
                .map
                .values_mut()
                .filter(|s| s.readable.is_some())
                .min_by_key(|s| s.view.last_seen_ms)
        {
            oldest.readable = None;
        }
    }

    /// The `n` most recently seen sessions, newest first.
    pub fn recent(&self, n: usize) -> Vec<SessionView> {
        let mut all: Vec<&SessionView> = self.map.values().map(|s| &s.view).collect();
        all.sort_by_key(|v| std::cmp::Reverse(v.last_seen_ms));
        all.into_iter().take(n).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_a_prompt_changed() {
        assert_eq!(first_change(&[1, 2, 3], &[9, 2, 3, 4]), "system");
        assert_eq!(first_change(&[1, 2, 3], &[1, 9, 3, 4]), "tools");
        assert_eq!(first_change(&[1, 2, 3, 4], &[1, 2, 3, 9, 5]), "message 1");
        assert_eq!(first_change(&[1, 2, 3], &[1, 2, 3, 4, 5]), "unchanged");
    }
}
