//! The canonical answer: a [`Reply`] of one or more choices, each a list of parts with a finish
//! reason, and its usage. What caches store and every format renders; plus the ids each format
//! shows for it.

use serde::{Deserialize, Serialize};

use super::{Part, estimate_tokens};

/// Why a generation stopped, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    /// A client-given stop sequence matched (OpenAI folds this into `stop`).
    StopSequence,
    Length,
    ToolCalls,
    ContentFilter,
    Other(String),
}

/// Token usage of one answer, as the provider reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_tokens: u64,
    #[serde(default)]
    pub cache_write_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// One generated alternative (OpenAI `choices[i]`; other formats have exactly one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub index: u32,
    pub parts: Vec<Part>,
    pub finish: Option<FinishReason>,
}

/// A complete answer in canonical form: what caches store and every format renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub id: String,
    pub model: String,
    /// Unix seconds when the answer was generated.
    pub created: u64,
    pub choices: Vec<Choice>,
    pub usage: Usage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
}

impl Reply {
    /// A finished one-choice text answer (id, model and time left for the caller to set).
    pub fn of_text(text: impl Into<String>) -> Reply {
        Reply {
            id: String::new(),
            model: String::new(),
            created: 0,
            choices: vec![Choice {
                index: 0,
                parts: vec![Part::text(text)],
                finish: Some(FinishReason::Stop),
            }],
            usage: Usage::default(),
            system_fingerprint: None,
        }
    }

    /// The text of the first choice (what the native format returns as `message`).
    pub fn text(&self) -> String {
        let mut out = String::new();
        if let Some(choice) = self.choices.first() {
            for part in &choice.parts {
                match part {
                    Part::Text { text } | Part::Refusal { text } => out.push_str(text),
                    _ => {}
                }
            }
        }
        out
    }

    /// A reply is worth caching when every choice finished.
    pub fn is_complete(&self) -> bool {
        !self.choices.is_empty() && self.choices.iter().all(|c| c.finish.is_some())
    }

    /// Fills in estimated usage when the provider reported none (e.g. a stream without
    /// `include_usage`), so replays and saved-token counts have a figure.
    pub fn with_usage_estimate(mut self, prompt_tokens: u64) -> Reply {
        self.usage = self.usage_or_estimate(prompt_tokens);
        self
    }

    /// Usage to report for this reply, estimated from the text when the provider gave none.
    pub fn usage_or_estimate(&self, prompt_tokens: u64) -> Usage {
        if self.usage.total() > 0 {
            return self.usage;
        }
        let output: usize = self
            .choices
            .iter()
            .flat_map(|c| &c.parts)
            .map(|p| match p {
                Part::Text { text } | Part::Refusal { text } => text.len(),
                Part::ToolCall {
                    name, arguments, ..
                } => name.len() + arguments.len(),
                _ => 0,
            })
            .sum();
        Usage {
            input_tokens: prompt_tokens,
            output_tokens: estimate_tokens(output),
            ..Usage::default()
        }
    }
}

/// Unix time in seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An id in a format's own style (`msg_…`, `resp_…`) for a reply: the reply's id when it has
/// that style already, else derived from it (so every render of a cached reply says the same),
/// else fresh.
pub fn styled_id(prefix: &str, reply_id: &str) -> String {
    if reply_id.starts_with(prefix) {
        return reply_id.to_string();
    }
    if reply_id.is_empty() {
        return new_id(prefix.trim_end_matches('_')).replace('-', "_");
    }
    let tail: String = reply_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}{tail}")
}

/// A fresh random id with a prefix, e.g. `chatcmpl-3f9a…`.
pub fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}-{:016x}{:08x}",
        fastrand::u64(..),
        fastrand::u32(..)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styled_ids_are_stable_for_a_reply() {
        assert_eq!(styled_id("msg_", "msg_01"), "msg_01");
        assert_eq!(styled_id("resp_", "chatcmpl-ab.1"), "resp_chatcmpl_ab_1");
        assert!(styled_id("resp_", "").starts_with("resp_"));
        assert_ne!(styled_id("resp_", ""), styled_id("resp_", ""));
    }

    #[test]
    fn usage_estimate_only_when_provider_gave_none() {
        let mut reply = Reply {
            id: "x".into(),
            model: "m".into(),
            created: 0,
            choices: vec![Choice {
                index: 0,
                parts: vec![Part::text("12345678")],
                finish: Some(FinishReason::Stop),
            }],
            usage: Usage::default(),
            system_fingerprint: None,
        };
        assert_eq!(reply.usage_or_estimate(10).output_tokens, 2);
        assert_eq!(reply.usage_or_estimate(10).input_tokens, 10);
        reply.usage.input_tokens = 7;
        reply.usage.output_tokens = 3;
        assert_eq!(reply.usage_or_estimate(10).total(), 10);
    }
}
