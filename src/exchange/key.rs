//! Canonical cache keys: SHA-256 over an unambiguous serialisation of the parts of an
//! [`Exchange`] that can change the answer.
//!
//! What enters the key: format namespace, tenant, model, system text, messages, tools,
//! tool_choice and the output-affecting params. What never does: `stream` (replies are stored
//! canonically and rendered either way), request ids and metadata (dropped by the decoders), and
//! tool-call ids, which are renamed to their order of first appearance so two sessions whose
//! upstream minted different ids still share entries while the call/result pairing is kept.
//!
//! Text from known clients carries per-run values that change nothing about the answer; they are
//! blanked in system and message text before hashing (never in what goes upstream): Claude Code's
//! `x-anthropic-billing-header:` line (billing hash, prompt id), Copilot's
//! `<current_datetime>…</current_datetime>` line and the session id at the end of Copilot CLI's
//! `Session folder: …/.copilot/session-state/<uuid>` line.
//!
//! The encoding is tagged and length-prefixed and sorts object keys itself, so it does not depend
//! on how `serde_json` orders maps.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Exchange, Message, Part};

/// Bumped whenever the canonical form changes, so old stored entries can never be misread.
pub const KEY_VERSION: &str = "isartor-key-v1";

/// A SHA-256 cache key.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct CacheKey(pub [u8; 32]);

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({self})")
    }
}

/// The exact-cache key of an exchange.
pub fn exact_key(exchange: &Exchange) -> CacheKey {
    key(exchange, &exchange.messages, "exact")
}

/// The semantic cache's context key: everything [`exact_key`] covers except the last message
/// (the user turn that is compared by meaning), so two requests share a context only when their
/// namespace, tenant, model, system prompt, earlier turns, tools and params are identical.
pub fn context_key(exchange: &Exchange) -> CacheKey {
    let earlier = &exchange.messages[..exchange.messages.len().saturating_sub(1)];
    key(exchange, earlier, "context")
}

/// The id of a semantic entry: its context key and its last user turn, hashed. The same on every
/// replica, so `isartor cache forget` can name an entry everywhere it is held.
pub fn semantic_id(context: &CacheKey, text: &str) -> CacheKey {
    let mut w = Canon::new();
    w.str("semantic");
    w.hasher.update(context.0);
    w.str(text);
    w.finish()
}

fn key(exchange: &Exchange, messages: &[Message], kind: &str) -> CacheKey {
    let mut w = Canon::new();
    w.str(kind);
    w.str(exchange.format.namespace());
    w.str(&exchange.tenant);
    w.str(&exchange.model);
    w.tag(b'S');
    w.len(exchange.system.len());
    for s in &exchange.system {
        w.str(&canonical_text(s));
    }
    w.tag(b'M');
    w.len(messages.len());
    for m in messages {
        w.message(m);
    }
    w.opt_value(exchange.tools.as_ref());
    w.opt_value(exchange.tool_choice.as_ref());
    w.tag(b'P');
    w.len(exchange.params.len());
    for (k, v) in &exchange.params {
        w.str(k);
        w.value(v);
    }
    w.finish()
}

/// What the exact key covers, readable: how `isartor cache why` shows what differs between a
/// miss and the nearest entry. Text is canonical (per-run values blanked) as in the key.
#[derive(Debug, Clone, PartialEq)]
pub struct Readable {
    pub namespace: &'static str,
    pub model: String,
    pub params: String,
    pub tools: String,
    pub tool_choice: String,
    pub system: String,
    /// Every turn before the last, one `[role] text` block each.
    pub earlier: String,
    pub last: String,
}

/// The parts of `exchange` its exact key covers, as text.
pub fn readable(exchange: &Exchange) -> Readable {
    // Tool-call ids are left out, as the key renames them.
    fn part(p: &Part) -> String {
        match p {
            Part::Text { text } | Part::Refusal { text } => canonical_text(text).into_owned(),
            Part::ToolCall {
                name, arguments, ..
            } => format!("(tool call) {name} {arguments}"),
            Part::ToolResult {
                content, is_error, ..
            } => {
                let content: Vec<String> = content.iter().map(part).collect();
                let error = if *is_error { " (error)" } else { "" };
                format!("(tool result{error}) {}", content.join("\n"))
            }
            Part::Other { value } => value.to_string(),
        }
    }
    let turn = |m: &Message| -> String {
        let parts: Vec<String> = m.parts.iter().map(part).collect();
        format!("[{}] {}", m.role, parts.join("\n"))
    };
    let (earlier, last) = match exchange.messages.split_last() {
        Some((last, earlier)) => (earlier.iter().map(turn).collect::<Vec<_>>(), turn(last)),
        None => (Vec::new(), String::new()),
    };
    // Pretty, so a line diff points at the field that differs.
    let json = |v: &Option<Value>| {
        v.as_ref()
            .and_then(|v| serde_json::to_string_pretty(v).ok())
            .unwrap_or_default()
    };
    Readable {
        namespace: exchange.format.namespace(),
        model: exchange.model.clone(),
        params: serde_json::to_string_pretty(&exchange.params).unwrap_or_default(),
        tools: json(&exchange.tools),
        tool_choice: json(&exchange.tool_choice),
        system: exchange
            .system
            .iter()
            .map(|s| canonical_text(s).into_owned())
            .collect::<Vec<_>>()
            .join("\n"),
        earlier: earlier.join("\n"),
        last,
    }
}

/// A fingerprint of each part a provider caches as a prompt prefix, in the order it sends them:
/// the system prompt, the tools, then every message (per-run values blanked, as in the key).
/// Two turns of one conversation share their leading fingerprints up to the first change.
pub fn prefix_fingerprint(exchange: &Exchange) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let hash = |f: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        f(&mut h);
        h.finish()
    };
    let mut parts = Vec::with_capacity(exchange.messages.len() + 2);
    parts.push(hash(&|h| {
        for s in &exchange.system {
            canonical_text(s).hash(h);
        }
    }));
    parts.push(hash(&|h| {
        exchange.tools.as_ref().map(Value::to_string).hash(h);
    }));
    for m in &exchange.messages {
        parts.push(hash(&|h| {
            m.role.hash(h);
            for p in &m.parts {
                match p {
                    Part::Text { text } => canonical_text(text).hash(h),
                    other => serde_json::to_string(other).unwrap_or_default().hash(h),
                }
            }
        }));
    }
    parts
}

/// Spans of client text that change per run and never change the answer: what lies between
/// each start marker and its end marker (or the end of the text) is blanked.
const VOLATILE: &[(&str, &str)] = &[
    // Claude Code's billing line: `cc_version=…; cch=<hash>; cc_prompt_id=<uuid>; …`.
    ("x-anthropic-billing-header:", "\n"),
    // Copilot's clock.
    ("<current_datetime>", "</current_datetime>"),
    // Copilot CLI's per-run session folder: `Session folder: …/.copilot/session-state/<uuid>`.
    (".copilot/session-state/", "\n"),
];

/// Text with known per-run values blanked (see the module docs). Borrowed when there are none.
fn canonical_text(text: &str) -> Cow<'_, str> {
    if !VOLATILE.iter().any(|(start, _)| text.contains(start)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // The earliest start marker left in `rest`, repeatedly.
    while let Some((at, start, end)) = VOLATILE
        .iter()
        .filter_map(|(s, e)| rest.find(s).map(|at| (at, *s, *e)))
        .min_by_key(|(at, _, _)| *at)
    {
        let (head, tail) = rest.split_at(at + start.len());
        out.push_str(head);
        rest = match tail.find(end) {
            Some(stop) => &tail[stop..],
            // A line ends with the text; an unclosed tag is left as it is.
            None if end == "\n" => "",
            None => tail,
        };
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Streams the canonical encoding straight into the hasher.
struct Canon {
    hasher: Sha256,
    /// Tool-call ids seen so far, mapped to their ordinal.
    ids: HashMap<String, u64>,
}

impl Canon {
    fn new() -> Canon {
        let mut hasher = Sha256::new();
        hasher.update(KEY_VERSION.as_bytes());
        Canon {
            hasher,
            ids: HashMap::new(),
        }
    }

    fn finish(self) -> CacheKey {
        CacheKey(self.hasher.finalize().into())
    }

    fn tag(&mut self, tag: u8) {
        self.hasher.update([tag]);
    }

    fn len(&mut self, n: usize) {
        self.hasher.update((n as u64).to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.tag(b's');
        self.len(s.len());
        self.hasher.update(s.as_bytes());
    }

    fn tool_id(&mut self, id: &str) {
        let next = self.ids.len() as u64;
        let ordinal = *self.ids.entry(id.to_string()).or_insert(next);
        self.tag(b'#');
        self.hasher.update(ordinal.to_le_bytes());
    }

    fn message(&mut self, m: &Message) {
        self.str(&m.role);
        self.len(m.parts.len());
        for p in &m.parts {
            self.part(p);
        }
        self.len(m.extra.len());
        for (k, v) in &m.extra {
            self.str(k);
            self.value(v);
        }
    }

    fn part(&mut self, p: &Part) {
        match p {
            Part::Text { text } => {
                self.tag(b't');
                self.str(&canonical_text(text));
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                self.tag(b'c');
                self.tool_id(id);
                self.str(name);
                self.str(arguments);
            }
            Part::ToolResult {
                id,
                content,
                is_error,
            } => {
                self.tag(if *is_error { b'R' } else { b'r' });
                self.tool_id(id);
                self.len(content.len());
                for c in content {
                    self.part(c);
                }
            }
            Part::Refusal { text } => {
                self.tag(b'f');
                self.str(text);
            }
            Part::Other { value } => {
                self.tag(b'o');
                self.value(value);
            }
        }
    }

    fn opt_value(&mut self, v: Option<&Value>) {
        match v {
            None => self.tag(b'-'),
            Some(v) => self.value(v),
        }
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.tag(b'n'),
            Value::Bool(b) => self.tag(if *b { b'T' } else { b'F' }),
            Value::Number(n) => {
                // Numbers compare by value: 1, 1.0 and 1e0 mean the same temperature.
                self.tag(b'd');
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                        self.hasher.update((f as i64).to_le_bytes())
                    }
                    Some(f) => self.hasher.update(f.to_bits().to_le_bytes()),
                    None => self.str(&n.to_string()),
                }
            }
            Value::String(s) => self.str(s),
            Value::Array(items) => {
                self.tag(b'a');
                self.len(items.len());
                for item in items {
                    self.value(item);
                }
            }
            Value::Object(map) => {
                self.tag(b'{');
                self.len(map.len());
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_unstable();
                for k in keys {
                    self.str(k);
                    self.value(&map[k]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Format, Origin, Surface};
    use serde_json::json;

    fn exchange() -> Exchange {
        let turn = Message {
            role: "user".into(),
            parts: vec![Part::text("hi")],
            extra: Default::default(),
        };
        Exchange {
            system: vec!["be brief".into()],
            ..Exchange::new(
                Origin::new(Surface::Gateway, "t"),
                Format::OpenAiChat,
                "gpt-4o-mini".into(),
                vec![turn],
                bytes::Bytes::new(),
            )
        }
    }

    #[test]
    fn stream_flag_and_raw_body_do_not_change_the_key() {
        let a = exchange();
        let mut b = exchange();
        b.stream = true;
        b.stream_usage = true;
        b.raw = bytes::Bytes::from_static(b"{\"different\":true}");
        assert_eq!(exact_key(&a), exact_key(&b));
    }

    #[test]
    fn every_answer_affecting_field_changes_the_key() {
        let base = exact_key(&exchange());
        type Change = Box<dyn Fn(&mut Exchange)>;
        let variants: Vec<Change> = vec![
            Box::new(|e| e.format = Format::Native),
            Box::new(|e| e.tenant = "other".into()),
            Box::new(|e| e.model = "gpt-4o".into()),
            Box::new(|e| e.system = vec!["be verbose".into()]),
            Box::new(|e| e.system.clear()),
            Box::new(|e| e.messages[0].parts = vec![Part::text("hi!")]),
            Box::new(|e| e.messages[0].role = "assistant".into()),
            Box::new(|e| e.tools = Some(json!([{"type": "function"}]))),
            Box::new(|e| e.tool_choice = Some(json!("auto"))),
            Box::new(|e| {
                e.params.insert("temperature".into(), json!(0.2));
            }),
        ];
        for (i, change) in variants.iter().enumerate() {
            let mut e = exchange();
            change(&mut e);
            assert_ne!(exact_key(&e), base, "variant {i} kept the key");
        }
    }

    #[test]
    fn object_key_order_and_number_spelling_do_not_matter() {
        let mut a = exchange();
        let mut b = exchange();
        a.params.insert(
            "response_format".into(),
            json!({"type": "json", "strict": true}),
        );
        b.params.insert(
            "response_format".into(),
            json!({"strict": true, "type": "json"}),
        );
        a.params.insert("temperature".into(), json!(1));
        b.params.insert("temperature".into(), json!(1.0));
        assert_eq!(exact_key(&a), exact_key(&b));
    }

    #[test]
    fn tool_call_ids_are_renamed_but_pairing_is_kept() {
        let convo = |first: &str, second: &str, result_for: &str| {
            let mut e = exchange();
            e.messages.push(Message {
                role: "assistant".into(),
                parts: vec![
                    Part::ToolCall {
                        id: first.into(),
                        name: "ls".into(),
                        arguments: "{}".into(),
                    },
                    Part::ToolCall {
                        id: second.into(),
                        name: "pwd".into(),
                        arguments: "{}".into(),
                    },
                ],
                extra: Default::default(),
            });
            e.messages.push(Message {
                role: "tool".into(),
                parts: vec![Part::ToolResult {
                    id: result_for.into(),
                    content: vec![Part::text("out")],
                    is_error: false,
                }],
                extra: Default::default(),
            });
            exact_key(&e)
        };
        assert_eq!(convo("call_a", "call_b", "call_a"), convo("x1", "x2", "x1"));
        assert_ne!(convo("call_a", "call_b", "call_a"), convo("x1", "x2", "x2"));
    }

    #[test]
    fn per_run_values_of_known_clients_do_not_change_the_key() {
        let with = |system: &str, user: &str| {
            let mut e = exchange();
            e.system = vec![system.into()];
            e.messages[0].parts = vec![Part::text(user)];
            exact_key(&e)
        };
        let billing = |h: &str| {
            format!("x-anthropic-billing-header: cc_version=2.0; cch={h}; cc_entrypoint=cli")
        };
        assert_eq!(with(&billing("ab12"), "q"), with(&billing("9f0e7d"), "q"));
        // Newer Claude Code versions add a prompt id per run; the text after the line counts.
        let prompt = |id: &str, rest: &str| {
            format!(
                "x-anthropic-billing-header: cc_version=2.1; cch=28889; cc_prompt_id={id}; cc_turn_index=1;\n{rest}"
            )
        };
        assert_eq!(
            with(&prompt("97c3d72d-8ce5", "You are Claude Code."), "q"),
            with(&prompt("5f29feb4-6d3b", "You are Claude Code."), "q")
        );
        assert_ne!(
            with(&prompt("97c3d72d-8ce5", "You are Claude Code."), "q"),
            with(&prompt("97c3d72d-8ce5", "You are a pirate."), "q")
        );
        let dated = |t: &str| format!("hi\n<current_datetime>{t}</current_datetime>\nbye");
        assert_eq!(
            with("s", &dated("2026-11-23T10:00")),
            with("s", &dated("2026-11-24T09:00"))
        );
        assert_ne!(with("s", &dated("x")), with("s", "hi\nbye"));
        assert_ne!(with(&billing("ab12"), "q"), with(&billing("ab12"), "q2"));
        // Copilot CLI 1.0.102's system prompt, as captured: the session folder changes per run.
        let copilot = |session: &str| {
            format!(
                "You are the GitHub Copilot CLI.\n\nSession folder: \
                 /home/dev/.copilot/session-state/{session}\nRespond concisely to the user."
            )
        };
        assert_eq!(
            with(&copilot("07682696-dca7-42de-a4ae-6c35e61f760d"), "hi"),
            with(&copilot("5bd0c1f2-0a7e-4f55-9b1e-2f3f5c3d9a10"), "hi")
        );
        assert_ne!(
            with(&copilot("07682696-dca7-42de-a4ae-6c35e61f760d"), "hi"),
            with(&copilot("07682696-dca7-42de-a4ae-6c35e61f760d"), "ho")
        );
        assert_eq!(canonical_text("no markers"), Cow::Borrowed("no markers"));
        assert_eq!(
            canonical_text("cch=zz; <current_datetime>open"),
            "cch=zz; <current_datetime>open"
        );
    }

    #[test]
    fn strings_cannot_run_into_each_other() {
        let mut a = exchange();
        let mut b = exchange();
        a.system = vec!["ab".into(), "c".into()];
        b.system = vec!["a".into(), "bc".into()];
        assert_ne!(exact_key(&a), exact_key(&b));
    }
}
