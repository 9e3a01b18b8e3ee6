//! What the guard compares, read from one prompt ([`Features::of`]): its code, numbers, units,
//! negations, technologies, identifiers, opposite sides, the roles of its words around a
//! direction cue, its scope, operations and clauses, and the words no other rule judges (with
//! their synonyms). The comparisons themselves are in the parent module.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::lexicon::{
    OPPOSITES, narrowing, negation, number_word, operation, ordinal, scope, stop_word, technology,
    unit,
};
use super::synonym;

/// Words after which the rest of a prompt is the target of a change or a comparison.
const TOWARD: [&str; 7] = ["to", "into", "onto", "as", "reach", "but", "than"];
/// Words after which `to` marks an infinitive ("how to", "want to"), not a target.
const INFINITIVE: [&str; 10] = [
    "how", "way", "want", "wants", "need", "needs", "trying", "try", "able", "going",
];
/// The part a word plays around a direction cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Source,
    Target,
    /// Both, in one prompt ("a list of *strings* into one *string*"): no side to compare.
    Both,
}

impl Role {
    /// Records that `word` plays `role`.
    fn play(roles: &mut HashMap<String, Role>, word: String, role: Role) {
        roles
            .entry(word)
            .and_modify(|r| {
                if *r != role {
                    *r = Role::Both;
                }
            })
            .or_insert(role);
    }
}

/// Words that make the word after them one of a thing ("*the* build folder").
const SINGULAR: &[&str] = &["a", "an", "the", "this", "that", "my", "your", "our"];

/// Whether a word reads as a plural (`databases`, not `class`, `status` or `analysis`).
fn plural(w: &str) -> bool {
    w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is")
}

/// What [`verify`](super::verify) compares, extracted from one prompt.
#[derive(Debug, Default)]
pub(super) struct Features {
    /// The whole text, lowercased, whitespace collapsed, padded with spaces.
    pub(super) flat: String,
    pub(super) code: BTreeSet<String>,
    pub(super) numbers: BTreeSet<String>,
    pub(super) units: BTreeSet<&'static str>,
    pub(super) negations: BTreeSet<&'static str>,
    pub(super) tech: BTreeSet<&'static str>,
    pub(super) identifiers: BTreeSet<String>,
    /// Every token, lowercased (code included).
    pub(super) words: BTreeSet<String>,
    /// Stemmed content words of the prose.
    pub(super) content: BTreeSet<String>,
    /// Which side of each opposite pair appears: (pair, side).
    pub(super) sides: BTreeSet<(usize, u8)>,
    /// Content words outside a leading `topic:`, by the part they play around a direction cue
    /// (`from` marks a source, `to`/`into`/`as`/… a target); only in prompts that have a cue.
    pub(super) roles: HashMap<String, Role>,
    pub(super) scope: BTreeSet<&'static str>,
    /// A word that narrows to a part (`first`, `single`, `current`…) appears.
    pub(super) narrowing: bool,
    /// The words right after `a`, `the`, `this`, `my`…, lowercased, unless plural: one of a
    /// thing.
    pub(super) singled: BTreeSet<String>,
    /// What the request does to its object: create, read, update, delete.
    pub(super) ops: BTreeSet<&'static str>,
    /// Clause joiners: `and`, `, with`, `as well as`, `plus`, `then`, `vs`.
    pub(super) clauses: usize,
    /// The words that are not stop words, lowercased, in order.
    pub(super) sequence: Vec<String>,
    /// The words no other rule judges (not stop words, framing, technologies, numbers,
    /// negations, scope words, identifiers, units after a number), as [`synonym::lemma`] gives
    /// them, each with the word as written; a two-word synonym (`turn on`) is one.
    pub(super) meaning: BTreeMap<String, Word>,
}

/// A word of [`Features::meaning`]: as written, and what it can stand for.
#[derive(Debug)]
pub(super) struct Word {
    pub(super) written: String,
    pub(super) senses: &'static synonym::Senses,
}

impl Word {
    fn new(written: String, lemma: &str) -> Word {
        Word {
            written,
            senses: synonym::Senses::of(lemma),
        }
    }
}

impl Features {
    pub(super) fn of(text: &str) -> Features {
        let flat = format!(" {} ", flatten(text));
        // "X vs Y" asks what "the difference between X and Y" asks.
        let clauses = [
            " and ",
            ", with ",
            " as well as ",
            " plus ",
            " then ",
            " vs ",
            " vs. ",
            " versus ",
        ]
        .iter()
        .map(|j| flat.matches(j).count())
        .sum();
        let mut f = Features {
            flat,
            clauses,
            ..Features::default()
        };
        let prose = f.take_code(text);
        // `age > 30` is `more than 30`.
        for (at, sign) in prose.match_indices(['>', '<']) {
            let rest = prose[at + 1..].trim_start_matches('=').trim_start();
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                f.opposite(if sign == ">" { "more" } else { "less" });
            }
        }
        let tokens: Vec<&str> = prose
            .split(|c: char| c.is_whitespace() || ",;()[]{}\"!?<>=`|".contains(c))
            .filter(|t| !t.is_empty())
            .collect();
        // Each token without its surrounding punctuation, as written and lowercased.
        let words: Vec<(&str, String)> = tokens
            .iter()
            .map(|raw| {
                let token =
                    raw.trim_matches(|c: char| matches!(c, '.' | ':' | '\'' | '*' | '\u{2019}'));
                (token, token.to_lowercase())
            })
            .collect();
        // A leading "git log:" or "Python 3:" names the topic; its words never move.
        // So does a leading technology the request goes on after ("rust vec into hashset"),
        // unless a cue follows it ("java to kotlin").
        let leading_tech = words.first().is_some_and(|(_, w)| technology(w).is_some())
            && words.get(1).is_some_and(|(_, next)| {
                next != "from" && next != "->" && !TOWARD.contains(&next.as_str())
            });
        let topic = tokens
            .iter()
            .take(4)
            .position(|t| t.ends_with(':'))
            .map_or(usize::from(leading_tech), |p| p + 1);
        // Words before the first cue play the opposite part of the words after it.
        let mut role = None;
        let mut before_cue = Vec::new();
        let mut after_number = false;
        for (i, (raw, (token, lower))) in tokens.iter().zip(&words).enumerate() {
            if token.is_empty() {
                continue;
            }
            if !stop_word(lower) {
                f.sequence.push(lower.clone());
            }
            f.narrowing |= narrowing(lower);
            // "stop a service *from starting*": as "prevent", a negation.
            if lower.ends_with("ing")
                && i > 1
                && words[i - 1].1 == "from"
                && words[i.saturating_sub(6)..i - 1].iter().any(|(_, w)| {
                    matches!(w.as_str(), "stop" | "keep" | "block" | "stops" | "keeps")
                })
            {
                f.negations.insert("not");
            }
            // "the second highest" is the 2nd; "a second", "2 second(s)" and "per second" are
            // time.
            if let Some(n) = ordinal(lower)
                && !after_number
                && (i == 0 || !matches!(words[i - 1].1.as_str(), "a" | "an" | "per" | "one"))
            {
                f.numbers.insert(n.to_string());
            }
            if i > 0 && SINGULAR.contains(&words[i - 1].1.as_str()) && !plural(lower) {
                f.singled.insert(lower.clone());
            }
            if after_number && let Some(u) = unit(lower) {
                f.units.insert(u);
            }
            // A number inside a technology's name (`sqlite3`, `base64`) is part of the name.
            let number = technology(lower).is_none() && f.numbers_in(lower);
            after_number = number || number_word(lower).is_some();
            f.word(raw, token, lower);
            for part in lower.split(['-', '/']) {
                f.opposite(part);
            }
            let next = tokens.get(i + 1).map(|t| t.to_lowercase());
            let cue = match lower.as_str() {
                "from" => Some(Role::Source),
                "as" if next.as_deref() == Some("well") || i > 0 && tokens[i - 1] == "such" => None,
                // "how to count …", "I want to …": an infinitive, not a target.
                "to" if i > 0 && INFINITIVE.contains(&tokens[i - 1].to_lowercase().as_str()) => {
                    None
                }
                "->" | "\u{2192}" => Some(Role::Target),
                w if TOWARD.contains(&w) => Some(Role::Target),
                _ => None,
            };
            if let Some(cue) = cue {
                if role.is_none() {
                    let first = if cue == Role::Source {
                        Role::Target
                    } else {
                        Role::Source
                    };
                    for w in before_cue.drain(..) {
                        Role::play(&mut f.roles, w, first);
                    }
                }
                role = Some(cue);
            } else if i >= topic && !stop_word(lower) {
                let w = stem(lower);
                match role {
                    Some(r) => {
                        Role::play(&mut f.roles, w, r);
                    }
                    None => before_cue.push(w),
                }
            }
        }
        f.meaning_of(&tokens, &words);
        f
    }

    /// Fills [`Features::meaning`] from the prose's tokens.
    fn meaning_of(&mut self, tokens: &[&str], words: &[(&str, String)]) {
        let mut i = 0;
        while i < tokens.len() {
            let (raw, w) = (tokens[i], words[i].1.as_str());
            let previous = i.checked_sub(1).map(|p| (tokens[p], words[p].1.as_str()));
            i += 1;
            let next = words.get(i).map(|(_, lower)| lower.as_str());
            if let Some(p) = next.and_then(|next| synonym::phrase(w, next)) {
                // `regular expression` names a technology, which that rule judges.
                if technology(p).is_none() {
                    let written = format!("{w} {}", next.unwrap_or_default());
                    self.meaning.insert(p.to_string(), Word::new(written, p));
                }
                i += 1;
                continue;
            }
            // Shaped like code by its punctuation, read lowercased: by its case (`UUID`,
            // `DataFrame`) it would be a word here and no word in "uuid" / "dataframe".
            if is_identifier(raw, w) || technology(w).is_some() {
                continue;
            }
            // `list` opening a request or a clause is the verb ("Git: list the tags", "how do I
            // list …"); elsewhere it is the noun ("a Python list").
            if w == "list"
                && previous.is_none_or(|(raw, p)| {
                    raw.ends_with(':') || matches!(p, "i" | "to" | "and" | "then")
                })
            {
                self.meaning
                    .insert("show".into(), Word::new("list".into(), "show"));
                continue;
            }
            let counted = previous.is_some_and(|(_, p)| {
                p.chars().all(|c| c.is_ascii_digit() || c == '.') || number_word(p).is_some()
            });
            for part in w.split(['-', '/']) {
                // `get` is a stop word elsewhere, but here it is the verb that keeps "get the
                // extension" from matching "strip the extension".
                let judged = stop_word(part) && part != "get"
                    || counted && unit(part).is_some()
                    || part.len() < 2
                    || part.chars().any(|c| c.is_ascii_digit())
                    || technology(part).is_some()
                    || number_word(part).is_some()
                    || negation(part).is_some()
                    || scope(part).is_some();
                let lemma = synonym::lemma(part);
                if !judged && !synonym::framing(&lemma) {
                    let word = Word::new(part.to_string(), &lemma);
                    self.meaning.insert(lemma, word);
                }
            }
        }
    }

    /// Collects fenced and inline code and quoted strings (collapsed, lowercased); returns the
    /// text with the quote marks and fences replaced by spaces, so the rest of the rules see the
    /// same words whether or not a prompt put them in backticks.
    fn take_code(&mut self, text: &str) -> String {
        let mut prose = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(['`', '"']) {
            prose.push_str(&rest[..at]);
            let fence = ["```", "`", "\""]
                .into_iter()
                .find(|f| rest[at..].starts_with(f))
                .unwrap_or("\"");
            let body = &rest[at + fence.len()..];
            let Some(end) = body.find(fence) else {
                prose.push_str(fence);
                rest = body;
                continue;
            };
            let inner = &body[..end];
            let collapsed = flatten(inner);
            if !collapsed.is_empty() {
                self.code.insert(collapsed);
            }
            for w in inner.split(|c: char| !(c.is_alphanumeric() || "_.-/$@".contains(c))) {
                let w = w.trim_matches('.').to_lowercase();
                if !w.is_empty() {
                    self.words.insert(w);
                }
            }
            prose.push(' ');
            prose.push_str(inner);
            prose.push(' ');
            rest = &body[end + fence.len()..];
        }
        prose.push_str(rest);
        prose
    }

    fn word(&mut self, raw: &str, token: &str, lower: &str) {
        if let Some(n) = number_word(lower) {
            self.numbers.insert(n.to_string());
        }
        // `requests.get`, `tar.gz`: a dotted name starting with a technology names it.
        if let Some((head, _)) = lower.split_once('.')
            && let Some(t) = technology(head)
        {
            self.tech.insert(t);
        }
        if let Some(neg) = negation(lower) {
            self.negations.insert(neg);
        }
        let tech = technology(lower);
        if let Some(t) = tech {
            self.tech.insert(t);
        }
        if let Some(s) = scope(lower) {
            self.scope.insert(s);
        }
        if let Some(op) = operation(lower) {
            self.ops.insert(op);
        }
        if tech.is_none() && is_identifier(raw, token) {
            self.identifiers.insert(lower.to_string());
        }
        if !stop_word(lower) && (lower.len() > 1 || lower.chars().all(|c| c.is_ascii_digit())) {
            self.content.insert(stem(lower));
        }
        self.words.insert(lower.to_string());
    }

    /// Digit runs with their dots (`3.11`, `8080`, `1.2.3`) and a unit glued to them (`100mb`,
    /// `16-character`). Returns whether the token was a bare number (its unit may follow).
    fn numbers_in(&mut self, token: &str) -> bool {
        let bytes = token.as_bytes();
        let mut i = 0;
        let mut found = false;
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
            {
                i += 1;
            }
            self.numbers.insert(token[start..i].to_string());
            found = true;
            let suffix = token[i..].trim_start_matches('-');
            let end = suffix
                .find(|c: char| !c.is_alphabetic() && c != '%')
                .unwrap_or(suffix.len());
            if let Some(u) = unit(&suffix[..end]) {
                self.units.insert(u);
            }
        }
        found && token.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    }

    fn opposite(&mut self, word: &str) {
        for (p, (left, right)) in OPPOSITES.iter().enumerate() {
            if left.contains(&word) {
                self.sides.insert((p, 0));
            } else if right.contains(&word) {
                self.sides.insert((p, 1));
            }
        }
    }

    /// Whether an identifier of the other prompt is here: as a word, or a dotted name as all of
    /// its parts (`requests.get` in "a GET call with the requests library").
    pub(super) fn mentions(&self, identifier: &str) -> bool {
        self.words.contains(identifier)
            || identifier.contains('.')
                && identifier
                    .split('.')
                    .filter(|p| !p.is_empty())
                    .all(|p| self.words.contains(p))
    }

    /// Whether `phrase` occurs in the text between word boundaries.
    pub(super) fn contains_phrase(&self, phrase: &str) -> bool {
        let mut from = 0;
        while let Some(at) = self.flat[from..].find(phrase) {
            let start = from + at;
            let end = start + phrase.len();
            let before = self.flat[..start].chars().next_back();
            let after = self.flat[end..].chars().next();
            let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
            if boundary(before) && boundary(after) {
                return true;
            }
            // On to the next character (not byte: the match may open with a multi-byte one).
            from = start + self.flat[start..].chars().next().map_or(1, char::len_utf8);
        }
        false
    }
}

/// Lowercased with whitespace runs collapsed to one space.
fn flatten(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A light stem: plural `s` off (not `ss`, `us`, `is`, nor technology names such as `https`).
pub(super) fn stem(word: &str) -> String {
    if word.len() > 3
        && technology(word).is_none()
        && word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
        && !word.ends_with("is")
    {
        word[..word.len() - 1].to_string()
    } else {
        word.to_string()
    }
}

/// Whether a token is shaped like code: a path, file name, flag, `snake_case`, `camelCase`,
/// dotted name, `@decorator`, `$VAR`, `ENV_VAR`, `KEY=value` or a call.
fn is_identifier(raw: &str, token: &str) -> bool {
    if !token.chars().any(char::is_alphabetic) {
        return false;
    }
    let has = |c: char| token.contains(c);
    if raw.ends_with("()")
        || token.len() > 1 && (token.starts_with('-') || token.starts_with('@'))
        || token.starts_with('$')
        || token.starts_with('\\')
        || has('_')
        || has('/') && !matches!(token.to_lowercase().as_str(), "and/or" | "i/o" | "tcp/ip")
        || has('.') && token.len() > 2 && !matches!(token, "e.g" | "i.e" | "etc")
    {
        return true;
    }
    let chars: Vec<char> = token.chars().collect();
    let camel = chars
        .windows(2)
        .any(|w| w[0].is_lowercase() && w[1].is_uppercase());
    let caps = chars.len() >= 4
        && chars[0].is_uppercase()
        && chars.iter().all(|c| c.is_uppercase() || c.is_ascii_digit());
    camel || caps
}
