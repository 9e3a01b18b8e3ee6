//! What differs between two requests' readable forms ([`super::key::Readable`]): a short line
//! diff per part (model, parameters, tools, system prompt, turns). `isartor cache why` shows it
//! for a miss against the nearest cached request, and a session's provider-cache break shows it
//! against the session's previous turn.

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

use super::key::Readable;

/// Lines shown per side of one difference.
const LINES: usize = 8;
/// Characters shown of one line.
const LINE_CHARS: usize = 160;

/// One part of a request that differs from the other request's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// `model`, `parameters`, `tools`, `tool_choice`, `system prompt`, `earlier turns` or
    /// `last user turn`.
    pub part: String,
    /// Lines the earlier request (the cached one, or the session's previous turn) had and this
    /// one does not.
    pub cached: Vec<String>,
    /// Lines this request has and the earlier one did not.
    pub this: Vec<String>,
}

/// A line as shown: printable and bounded.
fn shown(line: &str) -> String {
    let line = crate::display::printable(line.trim_end());
    match line.char_indices().nth(LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.into_owned(),
    }
}

/// The line diff of one part, if it differs.
fn differ(part: &str, earlier: &str, this: &str) -> Option<Difference> {
    if earlier == this {
        return None;
    }
    let diff = TextDiff::from_lines(earlier, this);
    let mut d = Difference {
        part: part.to_string(),
        cached: Vec::new(),
        this: Vec::new(),
    };
    for change in diff.iter_all_changes() {
        let side = match change.tag() {
            ChangeTag::Delete => &mut d.cached,
            ChangeTag::Insert => &mut d.this,
            ChangeTag::Equal => continue,
        };
        if side.len() < LINES {
            side.push(shown(change.value()));
        }
    }
    Some(d)
}

/// Every part of `this` that differs from `earlier`, in the order the key reads them.
pub fn differences(earlier: &Readable, this: &Readable) -> Vec<Difference> {
    let (a, b) = (earlier, this);
    [
        ("model", &a.model, &b.model),
        ("parameters", &a.params, &b.params),
        ("tools", &a.tools, &b.tools),
        ("tool_choice", &a.tool_choice, &b.tool_choice),
        ("system prompt", &a.system, &b.system),
        ("earlier turns", &a.earlier, &b.earlier),
        ("last user turn", &a.last, &b.last),
    ]
    .into_iter()
    .filter_map(|(part, earlier, this)| differ(part, earlier, this))
    .collect()
}

/// How alike two requests are: 0 (nothing shared) to 1 (the same), by lines of their text.
pub fn likeness(a: &Readable, b: &Readable) -> f32 {
    if a.namespace != b.namespace {
        return 0.0;
    }
    let whole = |r: &Readable| format!("{}\n{}\n{}\n{}", r.model, r.system, r.earlier, r.last);
    let (a, b) = (whole(a), whole(b));
    TextDiff::from_lines(&a, &b).ratio()
}
