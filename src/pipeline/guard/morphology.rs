//! Operations and their inverses told apart by their form, not by a list of words: a prefix that
//! reverses a stem (`mount` / `unmount`, `compress` / `decompress`, `able` / `disable`) or two
//! prefixes of opposite sense on one stem (`encrypt` / `decrypt`, `attach` / `detach`,
//! `upload` / `download`, `include` / `exclude`, `prepend` / `append`). A verb the lexicon has
//! never seen (`unsubscribe`, `deactivate`, `unfreeze`, `upscale`) is still caught.

/// Prefixes that reverse the stem they are put on.
const REVERSING: [&str; 3] = ["un", "de", "dis"];

/// Prefixes of opposite sense, each pair put on one shared stem.
const OPPOSED: [(&str, &str); 10] = [
    ("en", "de"),
    ("en", "dis"),
    ("in", "de"),
    ("in", "ex"),
    ("im", "ex"),
    ("in", "out"),
    ("at", "de"),
    ("up", "down"),
    ("over", "under"),
    ("pre", "ap"),
];

/// The shortest stem a prefix rule looks at (so `de` + `bug` or `un` + `it` are not read as
/// inverses of `bug` and `it`).
const STEM: usize = 4;

/// A word without its inflection or a final `e` (`unmounting` → `unmount`, `paused` → `paus`,
/// `compresses` → `compress`), so forms of one verb compare equal.
pub fn base(word: &str) -> &str {
    let long = |b: &&str| b.len() >= STEM;
    let w = word
        .strip_suffix("ing")
        .filter(long)
        .or_else(|| word.strip_suffix("ed").filter(long))
        .or_else(|| {
            word.strip_suffix("es")
                .filter(|b| long(b) && (b.ends_with('s') || b.ends_with('x') || b.ends_with('h')))
        })
        .or_else(|| {
            word.strip_suffix('s')
                .filter(|b| long(b) && !b.ends_with('s') && !b.ends_with('u'))
        })
        .unwrap_or(word);
    w.strip_suffix('e').filter(long).unwrap_or(w)
}

/// Whether `x` and `y` name an operation and its inverse.
pub fn inverse(x: &str, y: &str) -> bool {
    let (x, y) = (base(x), base(y));
    if x == y {
        return false;
    }
    let reversed = |plain: &str, marked: &str| {
        REVERSING
            .iter()
            .any(|p| marked.strip_prefix(p) == Some(plain) && plain.len() >= STEM)
    };
    let opposed = |a: &str, b: &str| {
        OPPOSED
            .iter()
            .any(|(p, q)| match (a.strip_prefix(p), b.strip_prefix(q)) {
                (Some(s), Some(t)) => s == t && s.len() >= STEM - 1,
                _ => false,
            })
    };
    reversed(x, y) || reversed(y, x) || opposed(x, y) || opposed(y, x)
}

#[cfg(test)]
mod tests {
    use super::inverse;

    #[test]
    fn inverses_by_form() {
        for (x, y) in [
            ("mount", "unmount"),
            ("unsubscribe", "subscribe"),
            ("compress", "decompressing"),
            ("activate", "deactivate"),
            ("encrypt", "decrypted"),
            ("attach", "detach"),
            ("upload", "download"),
            ("include", "exclude"),
            ("import", "export"),
            ("prepend", "append"),
            ("enable", "disable"),
            ("increase", "decrease"),
            ("overflow", "underflow"),
            ("inbound", "outbound"),
            ("pause", "unpause"),
        ] {
            assert!(inverse(x, y), "{x} / {y}");
        }
        for (x, y) in [
            ("mount", "mounting"),
            ("bug", "debug"),
            ("install", "installer"),
            ("deploy", "employ"),
            ("parse", "parser"),
            ("upload", "uploads"),
            ("exit", "quit"),
        ] {
            assert!(!inverse(x, y), "{x} / {y}");
        }
    }
}
