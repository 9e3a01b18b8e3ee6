//! When two prompts say one thing in other words: the words that only frame a request ("write a
//! query", "explain"), the short forms of coding words (`dict`, `str`, `repo`), and small groups
//! of verbs and nouns that ask for the same thing in a coding request (`remove` / `delete`,
//! `folder` / `directory`). The guard's unmatched-word rule serves a pair only when every word
//! one prompt has and the other lacks is matched here, so a missing group costs a hit and never
//! serves a wrong answer: the lists may be short, and they must hold only true synonyms, never
//! two members of one kind (`grow` / `shrink` are both resizes and stay apart).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::lexicon::OPPOSITES;
use super::morphology::base;

/// Words that frame a request without naming what it is about.
const FRAMING: &[&str] = &[
    "query",
    "command",
    "code",
    "snippet",
    "example",
    "explain",
    "explanation",
    "mean",
    "meaning",
    "difference",
    "between",
    "syntax",
    "work",
    "whether",
    "simple",
    "easy",
    "easiest",
    "exactly",
    "actually",
    "currently",
    "existing",
    "something",
    "thing",
    "stuff",
    "let",
    "say",
    "go",
    "again",
    "ok",
    "okay",
    "now",
    "across",
    "over",
    "through",
    "inside",
    "within",
    "whatever",
];

/// Whether a word (as [`lemma`] gives it) only frames a request.
pub fn framing(w: &str) -> bool {
    static LEMMAS: LazyLock<HashSet<String>> =
        LazyLock::new(|| FRAMING.iter().map(|w| lemma(w)).collect());
    LEMMAS.contains(w)
}

/// Groups of words (as [`lemma`] gives them) that ask for the same thing in a coding request.
/// A word may sit in two groups; two words match when they share one.
const GROUPS: &[&[&str]] = &[
    // Verbs.
    &[
        "remove", "delete", "erase", "rm", "del", "drop", "get rid", "clean up",
    ],
    &[
        "show", "display", "print", "view", "see", "echo", "output", "inspect", "find", "get",
    ],
    &[
        "check",
        "test",
        "verify",
        "determine",
        "detect",
        "tell",
        "find",
    ],
    &["find", "search", "locate", "look up", "lookup"],
    &["create", "generate", "new"],
    &["add", "install", "insert", "create"],
    &[
        "convert",
        "turn",
        "transform",
        "cast",
        "serialize",
        "serialise",
    ],
    &["combine", "merge"],
    &["combine", "squash"],
    &["concatenate", "concat", "join", "combine"],
    &["copy", "clone", "cp"],
    &["run", "execute", "exec", "invoke"],
    &["start", "launch", "begin", "spin up"],
    &["kill", "terminate"],
    &["quit", "exit", "leave", "stop"],
    &["stop", "halt"],
    &["extract", "unpack", "unzip", "decompress", "untar"],
    &["boot", "startup"],
    &["iterate", "loop", "traverse", "walk", "go through"],
    &["change", "modify", "edit", "alter", "amend"],
    &["fix", "resolve", "solve"],
    &["sort", "order"],
    &["trim", "strip"],
    &["contain", "include"],
    &["clear", "flush", "empty", "purge", "wipe"],
    &["enable", "activate", "turn on", "switch on"],
    &["disable", "deactivate", "turn off", "switch off"],
    &["grow", "extend", "expand", "enlarge"],
    &["shrink", "reduce"],
    &["read", "load", "access", "get", "fetch"],
    &["read", "load", "parse"],
    &["write", "save", "dump"],
    &["reclaim", "free up"],
    &["wait", "sleep", "delay"],
    &["compare", "diff"],
    &["set", "define", "assign"],
    &["count", "how many", "number"],
    &["reverse", "backward", "backwards"],
    &["make sure", "ensure"],
    // Nouns and their short forms.
    &["directory", "folder", "dir"],
    &["dictionary", "dict"],
    &["string", "str", "text"],
    &["variable", "var"],
    &["environment", "env"],
    &["image", "img"],
    &["repository", "repo"],
    &["configuration", "config", "conf"],
    &["function", "func", "fn", "helper"],
    &["argument", "arg", "parameter", "param"],
    &["package", "pkg", "library", "lib"],
    &["terminal", "shell", "console", "command line", "cli"],
    &["running", "active"],
    &["development", "dev"],
    &["production", "prod"],
    &["application", "app"],
    &["database", "db"],
    &["message", "msg"],
    &["error", "err"],
    &["length", "len", "size"],
    &["documentation", "docs", "doc"],
    &["regex", "regular expression"],
    &["keypair", "key pair"],
    &["single", "one", "individual"],
    &["last", "previous", "recent", "latest"],
    &["memory", "ram"],
    &["colour", "color"],
    &["identifier", "id"],
    &["property", "field"],
    &["integer", "int"],
    &["number", "num"],
    &["boolean", "bool"],
    &["object", "obj"],
    &["attribute", "attr"],
    &["column", "col"],
    &["reference", "ref"],
    &["temporary", "temp", "tmp"],
    &["specification", "spec"],
    &["insensitive", "insensitively"],
    &["character", "char"],
    &["unique", "distinct"],
    &["specific", "exact", "particular", "given"],
    &["link", "hyperlink", "anchor"],
    // Ranks.
    &[
        "largest", "biggest", "highest", "greatest", "maximum", "max", "top",
    ],
    &["smallest", "lowest", "least", "minimum", "min", "bottom"],
];

/// A two-word phrase of a group (`turn on`, `regular expression`), read as one word: the
/// group's first.
pub fn phrase(first: &str, second: &str) -> Option<&'static str> {
    static PHRASES: LazyLock<Vec<(&str, &str, &str)>> = LazyLock::new(|| {
        GROUPS
            .iter()
            .flat_map(|g| {
                g.iter()
                    .filter_map(|p| p.split_once(' '))
                    .map(|(x, y)| (x, y, g[0]))
            })
            .collect()
    });
    let second = second.strip_suffix('s').unwrap_or(second);
    PHRASES
        .iter()
        .find(|(x, y, _)| *x == first && *y == second)
        .map(|(_, _, word)| *word)
}

/// What a word (as [`lemma`] gives it) can stand for: the groups above and the sides of the
/// lexicon's opposite pairs (`big`, `larger` and `over` are one side) it belongs to.
#[derive(Debug, Default)]
pub struct Senses {
    groups: Vec<usize>,
    sides: Vec<(usize, u8)>,
}

impl Senses {
    pub fn of(word: &str) -> &'static Senses {
        static NONE: Senses = Senses {
            groups: Vec::new(),
            sides: Vec::new(),
        };
        static ALL: LazyLock<HashMap<String, Senses>> = LazyLock::new(|| {
            let mut all: HashMap<String, Senses> = HashMap::new();
            for (g, words) in GROUPS.iter().enumerate() {
                for w in *words {
                    all.entry(lemma(w)).or_default().groups.push(g);
                }
            }
            for (p, (left, right)) in OPPOSITES.iter().enumerate() {
                for (side, words) in [(0, left), (1, right)] {
                    for w in words.iter() {
                        all.entry(lemma(w)).or_default().sides.push((p, side));
                    }
                }
            }
            all
        });
        ALL.get(word).unwrap_or(&NONE)
    }

    /// The opposite pairs this word takes a side of.
    pub fn pairs(&self) -> impl Iterator<Item = usize> + '_ {
        self.sides.iter().map(|(pair, _)| *pair)
    }

    /// Whether two words share a group or a side.
    pub fn shared(&self, other: &Senses) -> bool {
        self.groups.iter().any(|g| other.groups.contains(g))
            || self.sides.iter().any(|s| other.sides.contains(s))
    }
}

/// A word without its inflection, so `removes`, `removed` and `removing`, or `directories` and
/// `directory`, compare equal.
pub fn lemma(word: &str) -> String {
    let w = word.strip_suffix("'s").unwrap_or(word);
    if w.contains(' ') {
        return w.to_string();
    }
    // `vars`, `runs`, `args`: plurals too short for `base` (which keeps four letters).
    let w = match w.strip_suffix('s') {
        Some(b) if b.len() == 3 && !b.ends_with(['s', 'u', 'i']) => b,
        _ => w,
    };
    let b = base(w);
    let bytes = b.as_bytes();
    // `stopped` → `stopp` → `stop`; `installed` keeps its `ll`.
    let b = match bytes {
        [.., x, y]
            if x == y && x.is_ascii_alphabetic() && b.len() > 3 && !b"lsfzaeiou".contains(x) =>
        {
            &b[..b.len() - 1]
        }
        _ => b,
    };
    match b.strip_suffix('i') {
        Some(stem) if stem.len() >= 3 => format!("{stem}y"),
        _ => b.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_one_word_share_a_lemma() {
        for (x, y) in [
            ("removes", "remove"),
            ("removing", "removed"),
            ("directories", "directory"),
            ("stopped", "stop"),
            ("copies", "copy"),
            ("copied", "copy"),
            ("installed", "install"),
            ("france's", "france"),
            ("vars", "var"),
            ("runs", "run"),
        ] {
            assert_eq!(lemma(x), lemma(y), "{x} / {y}");
        }
        assert_ne!(lemma("file"), lemma("fill"));
        // Any script: no byte of a character is cut off.
        for w in ["我本人", "日日", "ёё", "éé", "naïve", "😀😀", "ßß"] {
            assert!(!lemma(w).is_empty(), "{w}");
        }
    }

    #[test]
    fn synonyms_match_and_kinds_do_not() {
        let sense = |x: &str, y: &str| Senses::of(&lemma(x)).shared(Senses::of(&lemma(y)));
        assert!(sense("deleting", "removes"));
        assert!(sense("folders", "directory"));
        assert!(sense("dict", "dictionaries"));
        assert!(sense("highest", "top"));
        assert!(sense("integers", "int") && sense("unique", "distinct"));
        assert!(!sense("grow", "shrink"));
        assert!(!sense("highest", "bottom"));
        assert!(sense("bigger", "over"));
        assert!(!sense("bigger", "under"));
        assert!(!sense("column", "table"));
        assert!(!sense("file", "directory"));
        assert_eq!(phrase("regular", "expressions"), Some("regex"));
        assert_eq!(phrase("turn", "on"), Some("enable"));
        assert!(framing(&lemma("examples")) && framing("query") && !framing("column"));
    }
}
