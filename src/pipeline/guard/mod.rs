//! The near-miss guard of the semantic cache. A cosine over sentence embeddings says two prompts
//! are *about* the same thing; it cannot see that "sort ascending" and "sort descending", "port
//! 8080" and "port 8443", or "with" and "without" want different answers. After the cosine has
//! passed, [`verify`] compares what decides an answer, on the whole text of both prompts, and
//! refuses the pair when any of it differs:
//!
//! - **code**: inline code, fenced code and quoted strings of either prompt must appear in the
//!   other (whitespace and case folded, so backticks alone change nothing);
//! - **numbers** (digits, versions, number words) and their **units** (`2 weeks` ≠ `2 days`);
//! - **negations** (`not`, `n't`, `without`, `except`, `never`, `prevent`, "stop … from
//!   -ing", …);
//! - **technologies**: languages, frameworks, databases, tools, OSes, clouds, file formats, with
//!   synonyms folded (`js` = `javascript`, `postgres` = `postgresql`);
//! - **identifiers**: code-shaped tokens (paths, file names, flags, `snake_case`, `camelCase`,
//!   dotted names, `@decorators`, `ENV_VARS`, calls) must appear in the other prompt;
//! - **operations**: what each prompt does to its object (create, read, update, delete) must
//!   overlap when both say ("find the duplicates" / "delete the duplicates");
//! - **inverse operations**, by the words' form (the `morphology` module): `mount` / `unmount`,
//!   `attach` / `detach`, `upload` / `download`;
//! - **direction**: the side of each opposite pair (ascending/descending, encode/decode, …), and
//!   the order of shared words across `to`/`into`/`from`/`reach`/`but` (JSON → YAML vs
//!   YAML → JSON, "from the host into the container" vs "from the container to the host");
//! - **scope**: words that widen a request (`all`, `recursively`, `also`, …; `all` is implied
//!   where the other prompt does not narrow to a part), and one prompt that is the other plus an
//!   `and …` clause ("… and backfills it from the sessions table");
//! - **minimal pairs**: the same words but one, when that one is not a misspelling of the other
//!   ("list all git remotes" / "list all git branches");
//! - **unmatched words**: of the words no rule above judges, each prompt has one the other has
//!   no match for, not even a synonym (the `synonym` module): "rename a column" / "rename a
//!   table", "a deep copy" / "a shallow clone". This rule fails closed: a difference it cannot
//!   explain is refused, where the rules above refuse only the differences they know;
//! - **added qualifiers**: a prompt that only adds words still may not add a side of a pair that
//!   qualifies how a thing is done (sort order, local/remote, …) where the other leaves the
//!   default ("sort the numbers" / "sort the numbers in descending order").
//!
//! Every rule is string work on two short texts (microseconds). The rules were chosen and are
//! measured on labelled pairs with `isartor eval semantic` (docs/semantic-cache.md).

mod lexicon;
mod morphology;
pub mod shared;
mod synonym;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lexicon::{
    OPPOSITES, narrowing, negation, number_word, operation, ordinal, scope, stop_word, technology,
    unit,
};

/// Why a candidate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reject {
    Code,
    Number,
    Negation,
    Technology,
    Identifier,
    Direction,
    /// An operation against its inverse, told by the words' form (`mount` / `unmount`).
    Inverse,
    /// Each prompt does something to its object that the other does not (find the duplicates /
    /// delete them).
    Operation,
    Scope,
    /// The prompts are the same words but one, and that one is not a typo of the other.
    Word,
    /// Each prompt has a word the other has no match for, not even a synonym ("rename a column"
    /// / "rename a table", "a deep copy" / "a shallow clone").
    Unmatched,
    /// The prompts share most of their text (a pasted document) and the parts that differ do
    /// not match on their own (see [`shared`]).
    SharedText,
    /// The guard itself failed on the pair (a bug): the candidate is refused, never served.
    Failed,
}

impl Reject {
    pub fn as_str(self) -> &'static str {
        match self {
            Reject::Code => "code",
            Reject::Number => "number",
            Reject::Negation => "negation",
            Reject::Technology => "technology",
            Reject::Identifier => "identifier",
            Reject::Direction => "direction",
            Reject::Inverse => "inverse",
            Reject::Operation => "operation",
            Reject::Scope => "scope",
            Reject::Word => "word",
            Reject::Unmatched => "unmatched",
            Reject::SharedText => "shared_text",
            Reject::Failed => "failed",
        }
    }
}

/// Words after which the rest of a prompt is the target of a change or a comparison.
const TOWARD: [&str; 7] = ["to", "into", "onto", "as", "reach", "but", "than"];
/// Words after which `to` marks an infinitive ("how to", "want to"), not a target.
const INFINITIVE: [&str; 10] = [
    "how", "way", "want", "wants", "need", "needs", "trying", "try", "able", "going",
];
/// A prompt that is the other plus a clause with this many content words asks for more.
const WIDER_BY: usize = 1;

/// The part a word plays around a direction cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
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

/// Whether the answer stored for `stored` may be served for `new`.
pub fn verify(stored: &str, new: &str) -> Result<(), Reject> {
    let (a, b) = (Features::of(stored), Features::of(new));
    if !a.code.iter().all(|c| b.contains_phrase(c)) || !b.code.iter().all(|c| a.contains_phrase(c))
    {
        return Err(Reject::Code);
    }
    if a.numbers != b.numbers || a.units != b.units {
        return Err(Reject::Number);
    }
    if a.negations != b.negations {
        return Err(Reject::Negation);
    }
    if tech_swapped(&a, &b) {
        return Err(Reject::Technology);
    }
    if !a.identifiers.iter().all(|i| b.mentions(i)) || !b.identifiers.iter().all(|i| a.mentions(i))
    {
        return Err(Reject::Identifier);
    }
    if opposed(&a, &b) || swapped(&a, &b) {
        return Err(Reject::Direction);
    }
    if inverted(&a, &b) {
        return Err(Reject::Inverse);
    }
    if !a.ops.is_empty() && !b.ops.is_empty() && a.ops.is_disjoint(&b.ops) {
        return Err(Reject::Operation);
    }
    if (a.scope != b.scope && !all_implied(&a, &b)) || wider(&a, &b) || wider(&b, &a) {
        return Err(Reject::Scope);
    }
    if substituted(&a.sequence, &b.sequence) {
        return Err(Reject::Word);
    }
    if lonely(&a, &b) && lonely(&b, &a) {
        return Err(Reject::Unmatched);
    }
    if takes_a_side(&a, &b) || takes_a_side(&b, &a) {
        return Err(Reject::Direction);
    }
    Ok(())
}

/// The words of each prompt the other has no match for (what [`Reject::Unmatched`] refused on),
/// for reports.
pub fn unmatched_words(stored: &str, new: &str) -> (Vec<String>, Vec<String>) {
    let (a, b) = (Features::of(stored), Features::of(new));
    (lonely_words(&a, &b), lonely_words(&b, &a))
}

fn lonely_words(x: &Features, y: &Features) -> Vec<String> {
    x.meaning
        .iter()
        .filter(|(w, word)| !matched(w, word, x, y))
        .map(|(_, word)| word.written.clone())
        .collect()
}

/// Whether `y` has the word `w` of `x`: the word, a synonym, a misspelling, or the word split or
/// joined (`callback` / `call back`).
fn matched(w: &str, word: &Word, x: &Features, y: &Features) -> bool {
    let written = word.written.as_str();
    y.meaning.contains_key(w)
        || y.meaning
            .iter()
            .any(|(v, other)| word.senses.shared(other.senses) || misspelt(w, v))
        || y.sequence.windows(2).any(|p| joined(&p[0], &p[1], written))
        || x.sequence.windows(2).any(|p| {
            (p[0] == written || p[1] == written)
                && y.words.iter().any(|whole| joined(&p[0], &p[1], whole))
        })
}

/// Whether `whole` is `first` and `second` written as one word.
fn joined(first: &str, second: &str, whole: &str) -> bool {
    whole.len() == first.len() + second.len() && whole.starts_with(first) && whole.ends_with(second)
}

/// Whether `x` has a word (of those no other rule judges) that `y` has no match for: not the
/// word, a synonym ([`synonym::Senses`]) or a misspelling. A prompt that only adds words
/// ("curl post json body" / "make a POST request with curl and a JSON body") is not lonely on
/// the shorter side; two prompts that each have one are about different things, unless the
/// synonyms pair them. A missing synonym costs a hit, never a wrong answer.
fn lonely(x: &Features, y: &Features) -> bool {
    x.meaning.iter().any(|(w, word)| !matched(w, word, x, y))
}

/// Whether `x` adds a word that takes a side of a qualifier pair ([`lexicon::qualifier`]) `y`
/// leaves unsaid ("sort the dicts by a key *in descending order*" / "sort the dicts by a key"):
/// what `y` leaves to the default may be the other side. A prompt that only adds words passes
/// the rule above, so this one looks at what it adds.
fn takes_a_side(x: &Features, y: &Features) -> bool {
    x.meaning.iter().any(|(w, word)| {
        word.senses
            .pairs()
            .any(|p| lexicon::qualifier(p) && !y.sides.iter().any(|(q, _)| *q == p))
            && !matched(w, word, x, y)
    })
}

/// Whether two word sequences are the same but for one word that is not a misspelling of the
/// other ("list all git remotes" / "list all git branches", "option b" / "option c"): such
/// minimal pairs are how near-misses are made, and the one word is what the question is about.
fn substituted(a: &[String], b: &[String]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut differing = a.iter().zip(b).filter(|(x, y)| x != y);
    match (differing.next(), differing.next()) {
        (Some((x, y)), None) => !typo(x, y),
        _ => false,
    }
}

/// Whether two words are one misspelt as the other: both at least four letters and at most two
/// edits apart, or the same stem.
fn typo(x: &str, y: &str) -> bool {
    stem(x) == stem(y) || x.chars().count().min(y.chars().count()) >= 4 && edits(x, y) <= 2
}

/// A stricter [`typo`] for words that need not be in the same place: one edit in five letters or
/// more, two in eight or more (`tags` / `tabs` and `line` / `link` are different words).
fn misspelt(x: &str, y: &str) -> bool {
    let shorter = x.len().min(y.len());
    let allowed = if shorter >= 8 { 2 } else { 1 };
    shorter >= 5 && x.len().abs_diff(y.len()) <= allowed && edits(x, y) <= allowed
}

/// The Levenshtein distance, one row at a time.
fn edits(x: &str, y: &str) -> usize {
    let (x, y): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
    let mut row: Vec<usize> = (0..=y.len()).collect();
    for (i, cx) in x.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cy) in y.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(cx != cy)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[y.len()]
}

/// Whether the prompts take different sides of an opposite pair both mention.
fn opposed(a: &Features, b: &Features) -> bool {
    (0..OPPOSITES.len()).any(|p| {
        let side = |f: &Features| [0u8, 1].map(|s| f.sides.contains(&(p, s)));
        let (sa, sb) = (side(a), side(b));
        sa != [false, false] && sb != [false, false] && sa != sb
    })
}

/// Whether a word only one prompt has is the inverse of a word only the other has.
fn inverted(a: &Features, b: &Features) -> bool {
    let only_a = a.content.difference(&b.content);
    only_a
        .flat_map(|x| b.content.difference(&a.content).map(move |y| (x, y)))
        .any(|(x, y)| morphology::inverse(x, y))
}

/// Whether a word is the source of a change in one prompt and its target in the other ("a dict
/// from a model" vs "a model into a dict").
fn swapped(a: &Features, b: &Features) -> bool {
    a.roles
        .iter()
        .filter(|(_, r)| **r != Role::Both)
        .any(|(w, ra)| {
            b.roles
                .get(w)
                .is_some_and(|rb| rb != ra && *rb != Role::Both)
        })
}

/// Whether the technologies differ by a swap: each prompt names one the other does not. (One
/// naming a technology the other leaves implied, "pandas read_csv" vs "CSV into pandas", is not
/// a swap.)
fn tech_swapped(a: &Features, b: &Features) -> bool {
    !a.tech.is_subset(&b.tech) && !b.tech.is_subset(&a.tech)
}

/// Whether the scopes differ only by `all` (`every`, `each`) or `whole` on one side, and the
/// other side does not narrow to a part. "list databases in mysql" asks what "show all
/// databases" asks, and "read a file" what "read the whole file" asks. But "update a single
/// package", "the first letter" and "the build folder" (against "every build folder") do not:
/// against `all`, one of a thing the wide side does not also name as one narrows too.
fn all_implied(a: &Features, b: &Features) -> bool {
    let mut differ = a.scope.symmetric_difference(&b.scope);
    let (Some(only), None) = (differ.next(), differ.next()) else {
        return false;
    };
    let (wide, narrow) = if a.scope.contains(only) {
        (a, b)
    } else {
        (b, a)
    };
    match *only {
        "whole" => !narrow.narrowing,
        "all" => !narrow.narrowing && narrow.singled.is_subset(&wide.singled),
        _ => false,
    }
}

/// Words that make the word after them one of a thing ("*the* build folder").
const SINGULAR: &[&str] = &["a", "an", "the", "this", "that", "my", "your", "our"];

/// Whether a word reads as a plural (`databases`, not `class`, `status` or `analysis`).
fn plural(w: &str) -> bool {
    w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is")
}

/// Whether `wide` adds a clause to `narrow`: it has more `and`s (or a `, with`), holds nearly
/// all of `narrow`'s content words and at least [`WIDER_BY`] more.
fn wider(wide: &Features, narrow: &Features) -> bool {
    if narrow.content.is_empty() || wide.clauses <= narrow.clauses {
        return false;
    }
    let covered = narrow
        .content
        .iter()
        .filter(|w| wide.content.contains(*w))
        .count();
    let extra = wide
        .content
        .iter()
        .filter(|w| !narrow.content.contains(*w))
        .count();
    covered * 10 >= narrow.content.len() * 9 && extra >= WIDER_BY
}

/// What [`verify`] compares, extracted from one prompt.
#[derive(Debug, Default)]
struct Features {
    /// The whole text, lowercased, whitespace collapsed, padded with spaces.
    flat: String,
    code: BTreeSet<String>,
    numbers: BTreeSet<String>,
    units: BTreeSet<&'static str>,
    negations: BTreeSet<&'static str>,
    tech: BTreeSet<&'static str>,
    identifiers: BTreeSet<String>,
    /// Every token, lowercased (code included).
    words: BTreeSet<String>,
    /// Stemmed content words of the prose.
    content: BTreeSet<String>,
    /// Which side of each opposite pair appears: (pair, side).
    sides: BTreeSet<(usize, u8)>,
    /// Content words outside a leading `topic:`, by the part they play around a direction cue
    /// (`from` marks a source, `to`/`into`/`as`/… a target); only in prompts that have a cue.
    roles: HashMap<String, Role>,
    scope: BTreeSet<&'static str>,
    /// A word that narrows to a part (`first`, `single`, `current`…) appears.
    narrowing: bool,
    /// The words right after `a`, `the`, `this`, `my`…, lowercased, unless plural: one of a
    /// thing.
    singled: BTreeSet<String>,
    /// What the request does to its object: create, read, update, delete.
    ops: BTreeSet<&'static str>,
    /// Clause joiners: `and`, `, with`, `as well as`, `plus`, `then`, `vs`.
    clauses: usize,
    /// The words that are not stop words, lowercased, in order.
    sequence: Vec<String>,
    /// The words no other rule judges (not stop words, framing, technologies, numbers,
    /// negations, scope words, identifiers, units after a number), as [`synonym::lemma`] gives
    /// them, each with the word as written; a two-word synonym (`turn on`) is one.
    meaning: BTreeMap<String, Word>,
}

/// A word of [`Features::meaning`]: as written, and what it can stand for.
#[derive(Debug)]
struct Word {
    written: String,
    senses: &'static synonym::Senses,
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
    fn of(text: &str) -> Features {
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
    fn mentions(&self, identifier: &str) -> bool {
        self.words.contains(identifier)
            || identifier.contains('.')
                && identifier
                    .split('.')
                    .filter(|p| !p.is_empty())
                    .all(|p| self.words.contains(p))
    }

    /// Whether `phrase` occurs in the text between word boundaries.
    fn contains_phrase(&self, phrase: &str) -> bool {
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
fn stem(word: &str) -> String {
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

#[cfg(test)]
mod tests;
