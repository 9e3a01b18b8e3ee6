//! Whether a local model's answer may be served: checks that fit what was asked. A small model is
//! often almost right, and an almost-right config file is a wrong one; anything that fails here
//! goes to L3 with the reason on its event.
//!
//! - Every answer: at least ten characters, not opening with a hedge ("I'm not sure", …).
//! - A whole answer ([`complete`]) also: its code fences are closed; a fenced block tagged
//!   `json` or `toml` parses; a request for a JSON file (`tsconfig.json`, "a JSON config") gets
//!   JSON that parses; a request for a `.gitignore` gets ignore patterns, and the one its
//!   ecosystem cannot do without (`target` for Rust, `node_modules` for Node, …); a package
//!   manifest (`package.json`, `requirements.txt`, `Cargo.toml`, …) lists the packages the
//!   request names ("for an Express server", "served by uvicorn", "depends on serde"); a
//!   settings file (a JSON, YAML, TOML or INI block) names what the request lists after "with",
//!   "that", "which" or "where" ("with single quotes and no semicolons": `singleQuote`, `semi`).
//!
//! A streamed answer is checked on its opening only: the client has the rest as it comes.

use crate::inference::scope;

/// Openings of answers that hedge instead of answering.
const UNCERTAIN: [&str; 12] = [
    "i don't know",
    "i do not know",
    "i'm not sure",
    "i am not sure",
    "as an ai",
    "i cannot",
    "i can't",
    "i'm unable",
    "i am unable",
    "i'm sorry",
    "i am sorry",
    "unfortunately",
];

/// What a `.gitignore` for an ecosystem the request names must ignore.
const GITIGNORE: [(&[&str], &[&str]); 5] = [
    (&["rust", "cargo"], &["target"]),
    (
        &[
            "node",
            "javascript",
            "typescript",
            "react",
            "npm",
            "next.js",
        ],
        &["node_modules"],
    ),
    (&["python", "django", "flask"], &["__pycache__", ".pyc"]),
    (&["java", "maven", "gradle"], &[".class", "target", "build"]),
    (&["go", "golang"], &["vendor", ".exe", "bin"]),
];

/// Package manifests: a request for one names packages it must list.
const MANIFESTS: [&str; 7] = [
    "package.json",
    "composer.json",
    "requirements.txt",
    "pyproject.toml",
    "cargo.toml",
    "go.mod",
    "gemfile",
];

/// Words after which a lower-case word names a package: "depends on serde", "served by uvicorn".
const NAMING: [&str; 8] = [
    "on", "with", "by", "uses", "using", "requires", "and", "for",
];

/// Capitalised words that name a language, a runtime or a kind of thing, not a package to list.
const NOT_PACKAGES: [&str; 20] = [
    "python",
    "node",
    "node.js",
    "javascript",
    "typescript",
    "php",
    "rust",
    "go",
    "ruby",
    "java",
    "cli",
    "api",
    "json",
    "rest",
    "http",
    "ui",
    "ci",
    "sql",
    "sdk",
    "orm",
];

/// Lower-case words that follow a [`NAMING`] word without being a package.
const GENERIC: [&str; 16] = [
    "a", "an", "the", "my", "our", "small", "simple", "basic", "new", "default", "dev", "tests",
    "testing", "scripts", "version", "python",
];

/// Fenced block languages of settings files: keys and values, where what a request asks for has
/// a name of its own.
const SETTINGS: [&str; 9] = [
    "json",
    "jsonc",
    "yaml",
    "yml",
    "toml",
    "ini",
    "editorconfig",
    "properties",
    "conf",
];

/// Words after which a request lists what a file must do.
const ASKING: [&str; 4] = ["with", "that", "which", "where"];

/// Words after which the next one names what a file must leave out (so it need not appear).
const LEAVING_OUT: [&str; 2] = ["without", "except"];

/// Words of such a list that name no setting (besides its [`ASKING`] joints): verbs that say a
/// file does something without naming what (`uses`, `sets`, `runs`), and the like.
const NO_SETTING: [&str; 54] = [
    "file",
    "files",
    "config",
    "configuration",
    "project",
    "projects",
    "setting",
    "settings",
    "enabled",
    "enable",
    "support",
    "supports",
    "default",
    "defaults",
    "basic",
    "simple",
    "only",
    "just",
    "also",
    "both",
    "each",
    "every",
    "when",
    "then",
    "into",
    "from",
    "have",
    "should",
    "must",
    "will",
    "your",
    "this",
    "these",
    "those",
    "what",
    "using",
    "like",
    "some",
    "make",
    "need",
    "uses",
    "sets",
    "runs",
    "contains",
    "includes",
    "defines",
    "adds",
    "gives",
    "provides",
    "named",
    "called",
    "does",
    "makes",
    "used",
];

/// The word that ends the list: what follows says what the file is for, not what it holds
/// ("… that extends eslint:recommended for a Node project").
const PURPOSE: &str = "for";

/// What a settings file asked for in `request` must name: each word after the first
/// [`ASKING`] word, as the start of its stem (`semicolons`: `semi`; `source maps`: `sour`,
/// `map`), and numbers whole (`ES2020`, `python:3.12`).
fn asked_settings(request: &str) -> Vec<String> {
    let words = scope::words(request);
    let Some(at) = words.iter().position(|w| ASKING.contains(&w.as_str())) else {
        return Vec::new();
    };
    let mut needles = Vec::new();
    for (i, w) in words.iter().enumerate().skip(at + 1) {
        if w == PURPOSE {
            break;
        }
        if LEAVING_OUT.contains(&w.as_str()) || LEAVING_OUT.contains(&words[i - 1].as_str()) {
            continue;
        }
        if w.chars().any(|c| c.is_ascii_digit()) {
            needles.push(w.clone());
        } else if w.len() >= 4
            && w.chars().all(|c| c.is_ascii_alphabetic())
            && !NO_SETTING.contains(&w.as_str())
            && !ASKING.contains(&w.as_str())
        {
            let stem = ["ing", "es", "ed", "s"]
                .iter()
                .find_map(|s| w.strip_suffix(s).filter(|r| r.len() >= 3))
                .unwrap_or(w);
            needles.push(stem.chars().take(4).collect());
        }
    }
    needles
}

/// The packages a request for a manifest names: capitalised words past its first ("an Express
/// server", "FastAPI") and lower-case ones after a [`NAMING`] word ("served by uvicorn").
fn named_packages(request: &str) -> Vec<String> {
    let words: Vec<&str> = request
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '.'))
        .collect();
    let mut names = Vec::new();
    for (i, word) in words.iter().enumerate().skip(1) {
        let lower = word.to_lowercase();
        let capital = word.chars().any(char::is_uppercase);
        let after_naming = NAMING.contains(&words[i - 1].to_lowercase().as_str());
        let named = if capital {
            !NOT_PACKAGES.contains(&lower.as_str())
        } else {
            after_naming
                && lower.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && !GENERIC.contains(&lower.as_str())
        };
        if named && !lower.is_empty() && !lower.contains('.') {
            names.push(lower);
        }
    }
    names
}

/// The opening of an answer to `request` (or a short whole one): long enough, not a hedge, and
/// not the request said back (a small model sometimes restates the question, or asks another).
pub fn opening(request: &str, answer: &str) -> Result<(), &'static str> {
    let trimmed = answer.trim();
    if trimmed.chars().count() < 10 {
        return Err("too short");
    }
    let lower = trimmed.to_lowercase().replace('\u{2019}', "'");
    if UNCERTAIN.iter().any(|u| lower.starts_with(u)) {
        return Err("uncertain");
    }
    // Its first eight words (all of a shorter one, from four words up) are the answer's first.
    let (asked, said) = (scope::words(request), scope::words(trimmed));
    let head = &asked[..asked.len().min(8)];
    if head.len() >= 4 && said.starts_with(head) {
        return Err("restates the question");
    }
    Ok(())
}

/// A whole answer to `request`.
pub fn complete(request: &str, answer: &str) -> Result<(), &'static str> {
    opening(request, answer)?;
    let trimmed = answer.trim();
    if trimmed.ends_with('?') && !trimmed.contains("```") && trimmed.lines().count() <= 2 {
        return Err("a question, not an answer");
    }
    let blocks = fenced(answer).ok_or("unclosed code fence")?;
    for (tag, body) in &blocks {
        match tag.as_str() {
            "json" if serde_json::from_str::<serde_json::Value>(body).is_err() => {
                return Err("a json block does not parse");
            }
            "toml" if toml::from_str::<toml::Table>(body).is_err() => {
                return Err("a toml block does not parse");
            }
            _ => {}
        }
    }
    let asked = request;
    let request = request.to_lowercase();
    let asks = |what: &str| {
        request.split(|c: char| c.is_whitespace()).any(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '.' && c != '_')
                .ends_with(what)
        })
    };
    let makes = ["generate", "write", "create", "give me", "make"]
        .iter()
        .any(|w| request.contains(w));
    let json_file = asks(".json")
        || asks("json")
            && ["config", "file", "schema"]
                .iter()
                .any(|w| request.contains(w));
    if makes && json_file {
        let parses = |text: &str| serde_json::from_str::<serde_json::Value>(text.trim()).is_ok();
        if !(blocks.iter().any(|(_, body)| parses(body)) || parses(answer)) {
            return Err("no JSON that parses for a JSON file");
        }
    }
    // The files themselves: the fenced blocks, or the whole answer when it has none.
    let text = if blocks.is_empty() {
        answer.to_string()
    } else {
        blocks
            .iter()
            .map(|(_, b)| b.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    if makes && MANIFESTS.iter().any(|m| asks(m)) {
        let listed = text.to_lowercase();
        if named_packages(asked)
            .iter()
            .any(|name| !listed.contains(name.as_str()))
        {
            return Err("a manifest missing a package the request names");
        }
    }
    if makes
        && blocks
            .iter()
            .any(|(tag, _)| SETTINGS.contains(&tag.as_str()))
    {
        let named = text.to_lowercase();
        if asked_settings(asked)
            .iter()
            .any(|needle| !named.contains(needle.as_str()))
        {
            return Err("a settings file missing something the request asks for");
        }
    }
    if asks(".gitignore") || asks("gitignore") {
        let patterns: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        if patterns.len() < 2 {
            return Err("a .gitignore without patterns");
        }
        let words: Vec<&str> = request
            .split(|c: char| !c.is_alphanumeric() && c != '.')
            .collect();
        for (names, needed) in GITIGNORE {
            if names.iter().any(|n| words.contains(n))
                && !patterns
                    .iter()
                    .any(|p| needed.iter().any(|n| p.contains(n)))
            {
                return Err("a .gitignore missing what its ecosystem needs");
            }
        }
    }
    Ok(())
}

/// The fenced code blocks of `text` as (language tag, body); `None` when a fence is not closed.
fn fenced(text: &str) -> Option<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, Vec<&str>)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match (&mut open, trimmed.strip_prefix("```")) {
            (None, Some(tag)) => open = Some((tag.trim().to_lowercase(), Vec::new())),
            (Some(_), Some(_)) => {
                let (tag, body) = open.take()?;
                blocks.push((tag, body.join("\n")));
            }
            (Some((_, body)), None) => body.push(line),
            (None, None) => {}
        }
    }
    open.is_none().then_some(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openings_refuse_short_and_hedging_answers() {
        assert_eq!(opening("Is it?", "ok"), Err("too short"));
        assert_eq!(opening("Is it?", "   yes, it is   "), Ok(()));
        assert_eq!(
            opening("Is it?", "I'm not sure, but maybe"),
            Err("uncertain")
        );
        assert_eq!(
            opening("Is it?", "I\u{2019}m not sure what you mean"),
            Err("uncertain")
        );
        assert_eq!(
            opening("Is it?", "As an AI language model, I"),
            Err("uncertain")
        );
    }

    #[test]
    fn a_manifest_lists_the_packages_the_request_names() {
        assert_eq!(
            named_packages("Create a package.json for a small Express server with a start script"),
            ["express"]
        );
        assert_eq!(
            named_packages("Write a requirements.txt for a FastAPI app served by uvicorn"),
            ["fastapi", "uvicorn"]
        );
        assert_eq!(
            named_packages(
                "Write a Cargo.toml for a crate that depends on serde with the derive feature"
            ),
            ["serde"]
        );
        assert!(named_packages("Create a package.json for a CLI tool in TypeScript").is_empty());
        let asked = "Write a requirements.txt for a FastAPI app served by uvicorn";
        assert_eq!(
            complete(asked, "```\nuvicorn[standard]\n```"),
            Err("a manifest missing a package the request names")
        );
        assert_eq!(
            complete(asked, "```\nfastapi==0.115\nuvicorn[standard]\n```"),
            Ok(())
        );
    }

    #[test]
    fn the_question_said_back_is_not_an_answer() {
        let asked = "How do I create a Python virtual environment?";
        assert_eq!(
            complete(asked, "How do I create a Python virtual environment?"),
            Err("restates the question")
        );
        assert_eq!(
            complete(
                "How do I read a JSON file in Python?",
                "How do I handle errors when reading a JSON file in Python?"
            ),
            Err("a question, not an answer")
        );
        assert_eq!(
            complete(
                asked,
                "Run `python3 -m venv .venv`, then `source .venv/bin/activate`."
            ),
            Ok(())
        );
        // A short request's words may open a real answer.
        assert_eq!(
            opening("Is it stable?", "Is it stable? Yes: sorted() is stable."),
            Ok(())
        );
    }

    #[test]
    fn files_must_be_what_was_asked_for() {
        let tsconfig = "Here it is:\n```json\n{\"compilerOptions\": {\"strict\": true}}\n```\n";
        assert_eq!(complete("Generate a tsconfig.json", tsconfig), Ok(()));
        let cut = "Here it is:\n```json\n{\"compilerOptions\": {\"strict\": tr";
        assert_eq!(
            complete("Generate a tsconfig.json", cut),
            Err("unclosed code fence")
        );
        let broken = "```json\n{\"compilerOptions\": {\"strict\": true,}}\n```";
        assert_eq!(
            complete("Generate a tsconfig.json", broken),
            Err("a json block does not parse")
        );
        let prose = "Set strict to true and target to es2022 in your compiler options.";
        assert_eq!(
            complete("Generate a tsconfig.json", prose),
            Err("no JSON that parses for a JSON file")
        );
        let bare = "{\"compilerOptions\": {\"strict\": true}}";
        assert_eq!(complete("Generate a tsconfig.json", bare), Ok(()));
        let toml = "```toml\n[package]\nname = \"x\"\nversion = \n```";
        assert_eq!(
            complete("Write a Cargo.toml", toml),
            Err("a toml block does not parse")
        );
    }

    #[test]
    fn a_settings_file_names_what_the_request_lists() {
        const MISSED: Result<(), &str> =
            Err("a settings file missing something the request asks for");
        let ask = "Give me a .prettierrc with single quotes and no semicolons";
        let one = "```json\n{\n  \"singleQuote\": true\n}\n```";
        assert_eq!(complete(ask, one), MISSED);
        let both = "```json\n{\n  \"singleQuote\": true,\n  \"semi\": false\n}\n```";
        assert_eq!(complete(ask, both), Ok(()));
        let ask = "Write a GitLab CI config that runs pytest in a python:3.12 image";
        let other = "```yaml\ntest:\n  image: python:latest\n  script: pytest\n```";
        assert_eq!(complete(ask, other), MISSED);
        let asked = "```yaml\ntest:\n  image: python:3.12\n  script: pytest\n```";
        assert_eq!(complete(ask, asked), Ok(()));
        // What the file is for, and what it must leave out, need not be named in it.
        let eslint = "```json\n{\"extends\": \"eslint:recommended\"}\n```";
        assert_eq!(
            complete(
                "Write an .eslintrc.json that extends eslint:recommended for a Node project",
                eslint
            ),
            Ok(())
        );
        let bare = "```yaml\nservices:\n  web:\n    image: nginx\n```";
        assert_eq!(
            complete(
                "Write a docker-compose.yml with nginx without volumes",
                bare
            ),
            Ok(())
        );
        // Only settings blocks are held to it.
        let script = "```sh\nnpm test\n```";
        assert_eq!(
            complete("Write a script that runs npm test on pull requests", script),
            Ok(())
        );
    }

    #[test]
    fn a_gitignore_ignores_what_its_ecosystem_needs() {
        let rust_wrong = "```\n*~\n*.swp\n```";
        assert_eq!(
            complete("Write a .gitignore for a Rust project", rust_wrong),
            Err("a .gitignore missing what its ecosystem needs")
        );
        let rust = "```gitignore\n/target\nCargo.lock\n*.swp\n```";
        assert_eq!(
            complete("Write a .gitignore for a Rust project", rust),
            Ok(())
        );
        let node = "node_modules/\ndist/\n.env\n";
        assert_eq!(complete("gitignore for node", node), Ok(()));
        assert_eq!(
            complete(
                "Write a .gitignore for a Python project",
                "Ignore your cache files."
            ),
            Err("a .gitignore without patterns")
        );
    }
}
