//! Requests whose answer is beyond a small local model, told from their words before any
//! embedding: one that names the user's own source files or systems (which the model never
//! sees), and one that lists several parts to build (a feature set, not a snippet). These hold
//! whatever the examples' neighbourhood says; the embedding vote decides the rest.

/// Extensions of source files: a request naming one (`utils.js`, `config.py`) is about the
/// user's own code, which the local model never sees.
const SOURCE_EXTENSIONS: &[&str] = &[
    "py", "js", "ts", "tsx", "jsx", "rs", "go", "java", "rb", "cs", "cpp", "c", "h", "php", "kt",
    "swift", "scala", "vue",
];

/// Things a team owns: "our service", "the whole frontend" is work on code the model has not seen.
const SYSTEMS: &[&str] = &[
    "app",
    "application",
    "codebase",
    "code",
    "project",
    "repo",
    "repository",
    "monorepo",
    "pipeline",
    "service",
    "services",
    "module",
    "frontend",
    "backend",
    "website",
    "site",
    "system",
    "api",
    "platform",
    "stack",
    "infrastructure",
    "database",
    "tests",
    "suite",
];

/// What is built from several parts: "a chat application with A, B and C".
const BUILT: &[&str] = &[
    "app",
    "application",
    "service",
    "microservice",
    "system",
    "api",
    "server",
    "platform",
    "pipeline",
    "cli",
    "tool",
    "engine",
    "compiler",
    "interpreter",
    "parser",
    "library",
    "framework",
    "website",
    "game",
    "bot",
    "dashboard",
    "backend",
    "frontend",
];

/// Verbs that ask for a whole piece of work whatever its object; the weaker "write", "create",
/// "make" only when the object is one of [`BUILT`].
const BUILD_VERBS: &[&str] = &[
    "build",
    "implement",
    "develop",
    "design",
    "architect",
    "add",
];
const MAKE_VERBS: &[&str] = &["write", "create", "make", "generate", "code", "set"];

/// Parts listed before a request counts as several pieces of work.
const MANY_PARTS: usize = 3;

/// Whether the request is beyond a local answer, by the rules above.
pub fn beyond_a_local_answer(request: &str) -> bool {
    names_a_source_file(request) || about_their_own_system(request) || lists_many_parts(request)
}

pub fn names_a_source_file(request: &str) -> bool {
    request
        .split(|c: char| c.is_whitespace() || matches!(c, '`' | '\'' | '"' | ',' | '(' | ')'))
        .filter_map(|word| word.trim_end_matches(['.', '?', '!', ':']).rsplit_once('.'))
        .any(|(stem, ext)| {
            // Capitalised `X.js` is a product (Node.js, Vue.js, Next.js), not a file.
            let product = ext == "js" && stem.starts_with(|c: char| c.is_uppercase());
            !stem.is_empty()
                && !product
                && stem
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_-/".contains(c))
                && SOURCE_EXTENSIONS.contains(&ext)
        })
}

/// A text's words, lower case, punctuation trimmed.
pub fn words(request: &str) -> Vec<String> {
    request
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// "our payment service", "the whole React frontend", "every function in …": work on the
/// user's own system. ("my" alone is not: "why is my variable undefined" is a snippet.)
fn about_their_own_system(request: &str) -> bool {
    let words = words(request);
    words.iter().enumerate().any(|(i, w)| {
        let owner = w == "our" || (w == "whole" || w == "entire") && i > 0 && words[i - 1] == "the";
        // The thing owned is within the next three words ("our Python data pipeline").
        owner
            && words[i + 1..]
                .iter()
                .take(3)
                .any(|n| SYSTEMS.contains(&n.as_str()))
    })
}

/// A work request (not a question) listing [`MANY_PARTS`] or more parts, joined by commas,
/// "and" or "plus": "a B-tree with insertion, deletion and range queries". Text in brackets,
/// backticks or quotes (arguments, code) is not counted.
fn lists_many_parts(request: &str) -> bool {
    let request = request.trim();
    if request.ends_with('?') {
        return false;
    }
    let mut plain = String::with_capacity(request.len());
    let mut depth = 0usize;
    let mut quoted = false;
    for c in request.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '`' | '"' => quoted = !quoted,
            _ if depth == 0 && !quoted => plain.push(c),
            _ => {}
        }
    }
    let words = words(&plain);
    let verb = words
        .iter()
        .position(|w| w != "please")
        .map(|i| words[i].as_str());
    let strong = verb.is_some_and(|v| BUILD_VERBS.contains(&v));
    let weak = verb.is_some_and(|v| MAKE_VERBS.contains(&v))
        && words.iter().any(|w| BUILT.contains(&w.as_str()));
    if !strong && !weak {
        return false;
    }
    let parts = plain
        .split([',', ';', ':'])
        .flat_map(|clause| {
            clause
                .split(" and ")
                .flat_map(|p| p.split(" plus "))
                .collect::<Vec<_>>()
        })
        .filter(|part| part.chars().any(char::is_alphanumeric))
        .count();
    parts >= MANY_PARTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_file_names_are_spotted() {
        assert!(names_a_source_file(
            "Convert every function in utils.js to promises"
        ));
        assert!(names_a_source_file("Add type hints to `config.py`."));
        assert!(names_a_source_file("fix src/main.rs"));
        assert!(!names_a_source_file("Generate a tsconfig.json"));
        assert!(!names_a_source_file(
            "What is Node.js? Explain e.g. the event loop"
        ));
        assert!(!names_a_source_file(
            "Why does npm generate a package-lock.json file"
        ));
    }

    #[test]
    fn work_on_their_own_system_is_spotted() {
        assert!(about_their_own_system(
            "Add logging and tracing to our payment service"
        ));
        assert!(about_their_own_system(
            "Speed up our test suite, it takes 40 minutes"
        ));
        assert!(about_their_own_system(
            "Translate the whole React frontend into German"
        ));
        assert!(!about_their_own_system("Why is my variable undefined?"));
        assert!(!about_their_own_system(
            "How do I make my local main match origin/main?"
        ));
        assert!(!about_their_own_system(
            "What is our best option for a regex"
        ));
    }

    #[test]
    fn a_list_of_parts_to_build_is_spotted() {
        assert!(lists_many_parts(
            "Create a todo app in Vue with login, drag-and-drop reordering and offline sync"
        ));
        assert!(lists_many_parts(
            "Implement an LRU cache with get, put and eviction callbacks"
        ));
        assert!(lists_many_parts(
            "Write an interpreter for a tiny language: tokenizer, parser, evaluator"
        ));
        // Arguments, questions and lists without a whole piece of work are not.
        assert!(!lists_many_parts(
            "Write a Python function merge(a, b, c) that merges three lists"
        ));
        assert!(!lists_many_parts(
            "What do git fetch, git pull and git merge each do?"
        ));
        assert!(!lists_many_parts(
            "Write a TypeScript type for an Order with id, items, total and status"
        ));
        assert!(!lists_many_parts(
            "Write a Python function that returns the min, max and mean of a list"
        ));
    }
}
