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

mod features;
mod lexicon;
mod morphology;
pub mod shared;
mod synonym;

use features::{Features, Role, Word, stem};
use lexicon::OPPOSITES;

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

/// A prompt that is the other plus a clause with this many content words asks for more.
const WIDER_BY: usize = 1;

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

#[cfg(test)]
mod tests;
