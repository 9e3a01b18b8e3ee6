//! Sorting a request by the work its answer needs (TEMPLATE / SNIPPET / COMPLEX) from its
//! sentence embedding, against labelled example requests (nearest neighbours, cosine). One
//! embedding costs ~15 ms on this class of CPU, where asking the chat model for a label costs
//! seconds. Anything unclear is COMPLEX: a wrong local answer costs more than a cloud call.

use anyhow::Result;

use super::embedder::Embedder;
use super::scope;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Boilerplate or a standard file: configs, type definitions, docs, scaffolding.
    Template,
    /// One short self-contained piece: a function, a command, a regex, a short explanation.
    Snippet,
    /// Several files, a feature, tests, debugging, design, refactoring.
    Complex,
}

/// Requests longer than this carry context (code, logs) that a small model should not judge.
const MAX_LOCAL_CHARS: usize = 600;

/// Whether a request is COMPLEX before any model looks at it: too long to judge, or beyond a
/// local answer by the word rules of [`scope`]. Both engines ask this first (a sidecar model
/// labels only what passes).
pub fn complex_on_its_face(request: &str) -> bool {
    request.chars().count() > MAX_LOCAL_CHARS || scope::beyond_a_local_answer(request)
}

/// Neighbours that vote.
const K: usize = 3;
/// The nearest example must be at least this close, or the request is unlike all of them.
const MIN_SIMILARITY: f32 = 0.15;

/// Example requests per intent (our own wording; the trace in shared/data is held out to measure
/// accuracy, see tests/data/l2-labels.jsonl).
const EXAMPLES: &[(Intent, &str)] = &[
    (
        Intent::Template,
        "Generate a tsconfig.json for a Node project",
    ),
    (Intent::Template, "Write a Dockerfile for a Python web app"),
    (Intent::Template, "Create a .gitignore for a Rust project"),
    (
        Intent::Template,
        "package.json with eslint and prettier scripts",
    ),
    (Intent::Template, "Write a README template for a CLI tool"),
    (
        Intent::Template,
        "A TypeScript interface for a User with id, name and email",
    ),
    (
        Intent::Template,
        "docker-compose file with postgres and redis",
    ),
    (
        Intent::Template,
        "GitHub Actions workflow that runs cargo test",
    ),
    (
        Intent::Template,
        "Give me an nginx config that proxies to port 3000",
    ),
    (
        Intent::Template,
        "Makefile with build, test and clean targets",
    ),
    (
        Intent::Template,
        "pyproject.toml for a package using pytest",
    ),
    (Intent::Template, "Write a LICENSE file for MIT"),
    (Intent::Template, "editorconfig with 4 space indentation"),
    (Intent::Template, "Boilerplate for an Express server"),
    (
        Intent::Snippet,
        "Write a Python function that reverses a string",
    ),
    (
        Intent::Snippet,
        "cron expression to run a job every 5 minutes",
    ),
    (Intent::Snippet, "Regex that matches an email address"),
    (
        Intent::Snippet,
        "How do I undo the last git commit but keep my changes",
    ),
    (
        Intent::Snippet,
        "Bash one-liner to count lines in all .rs files",
    ),
    (Intent::Snippet, "What does git rebase do"),
    (
        Intent::Snippet,
        "Convert a list of dicts to a pandas DataFrame",
    ),
    (
        Intent::Snippet,
        "SQL query to find duplicate emails in a users table",
    ),
    (
        Intent::Snippet,
        "Sort an array of objects by a key in JavaScript",
    ),
    (
        Intent::Snippet,
        "What's the difference between let and const",
    ),
    (Intent::Snippet, "Read a file line by line in Go"),
    (Intent::Snippet, "Generate a random UUID in Rust"),
    (Intent::Snippet, "Explain what a closure is"),
    (
        Intent::Snippet,
        "How to check if a key exists in a Python dict",
    ),
    (
        Intent::Snippet,
        "What is the difference between a process and a thread",
    ),
    (Intent::Snippet, "How do I delete a remote git tag"),
    (Intent::Snippet, "Kill the process listening on port 8080"),
    (
        Intent::Snippet,
        "Why is my variable undefined after an async call in JavaScript",
    ),
    (Intent::Snippet, "How do I parse a date string in Java"),
    (Intent::Snippet, "What does the volatile keyword mean in C"),
    (Intent::Snippet, "Python: merge two dictionaries"),
    (
        Intent::Snippet,
        "How do I find files larger than 1GB on Linux",
    ),
    (Intent::Snippet, "Docker: remove all stopped containers"),
    (Intent::Snippet, "Postgres: show the size of each table"),
    (Intent::Snippet, "Why does my CSS flexbox item not shrink"),
    (Intent::Snippet, "How do I make an HTTP request in Rust"),
    (Intent::Snippet, "Is Python's sort stable?"),
    (
        Intent::Snippet,
        "npm: update a single package to the latest version",
    ),
    (
        Intent::Snippet,
        "What does this error mean: permission denied (publickey)",
    ),
    (
        Intent::Snippet,
        "Go: how do I return an error from a function",
    ),
    (
        Intent::Snippet,
        "How do I write a simple unit test with unittest",
    ),
    (
        Intent::Snippet,
        "TypeScript: make every property of a type optional",
    ),
    (
        Intent::Snippet,
        "React: how do I pass data from a child to its parent",
    ),
    (
        Intent::Snippet,
        "Explain the difference between SQL INNER JOIN and LEFT JOIN",
    ),
    (Intent::Snippet, "How can I quit less in the terminal"),
    (Intent::Snippet, "Vim: search and replace in the whole file"),
    (
        Intent::Complex,
        "Build a full CRUD API with tests across five files",
    ),
    (
        Intent::Complex,
        "Refactor the authentication module to use dependency injection",
    ),
    (
        Intent::Complex,
        "Why does my app crash on startup? Here is the stack trace",
    ),
    (
        Intent::Complex,
        "Add pagination to every list endpoint and update the tests",
    ),
    (
        Intent::Complex,
        "Design a database schema for a multi-tenant SaaS with billing",
    ),
    (Intent::Complex, "Migrate this project from webpack to vite"),
    (
        Intent::Complex,
        "Write integration tests for the payment service",
    ),
    (
        Intent::Complex,
        "Review this pull request and suggest improvements",
    ),
    (
        Intent::Complex,
        "Implement OAuth login with Google and GitHub end to end",
    ),
    (
        Intent::Complex,
        "Find and fix the memory leak in our worker pool",
    ),
    (
        Intent::Complex,
        "Set up a microservice architecture with a message queue",
    ),
    (
        Intent::Complex,
        "Port this Python module to Rust keeping the same API",
    ),
    (Intent::Complex, "Fix the failing tests in the CI pipeline"),
    (
        Intent::Complex,
        "Implement a rate limiter middleware with Redis and tests",
    ),
    (
        Intent::Complex,
        "Write unit tests for my existing parser module",
    ),
    (
        Intent::Complex,
        "Add docstrings to every function in utils.py",
    ),
    (
        Intent::Complex,
        "Rename this method everywhere in the codebase and update the callers",
    ),
    (
        Intent::Complex,
        "Our service got slow after the last deploy, here are the logs, find the cause",
    ),
    (
        Intent::Complex,
        "Convert all the class components in src/ to hooks",
    ),
];

pub struct IntentClassifier {
    embedder: Embedder,
    examples: Vec<(Intent, Vec<f32>)>,
}

impl IntentClassifier {
    /// Embeds the examples (once, at start-up), all queued at once so the embedder batches them.
    pub async fn new(embedder: Embedder) -> Result<IntentClassifier> {
        let vectors = futures_util::future::try_join_all(
            EXAMPLES.iter().map(|(_, text)| embedder.embed(text)),
        )
        .await?;
        let examples = EXAMPLES.iter().map(|(i, _)| *i).zip(vectors).collect();
        Ok(IntentClassifier { embedder, examples })
    }

    /// The intent of a request, and the similarity of its nearest example.
    pub async fn classify(&self, request: &str) -> Result<(Intent, f32)> {
        if complex_on_its_face(request) {
            return Ok((Intent::Complex, 0.0));
        }
        let v = self.embedder.embed(request).await?;
        let mut scored: Vec<(f32, Intent)> = self
            .examples
            .iter()
            .map(|(intent, e)| (e.iter().zip(&v).map(|(a, b)| a * b).sum(), *intent))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let best = scored[0].0;
        if best < MIN_SIMILARITY {
            return Ok((Intent::Complex, best));
        }
        // Similarity-weighted vote of the nearest K; a tie goes to the more work.
        let mut votes = [0f32; 3];
        for (score, intent) in scored.iter().take(K) {
            votes[*intent as usize] += score;
        }
        // `max_by` keeps the last of equals: order by increasing work.
        let intent = [Intent::Template, Intent::Snippet, Intent::Complex]
            .into_iter()
            .max_by(|a, b| votes[*a as usize].total_cmp(&votes[*b as usize]))
            .unwrap_or(Intent::Complex);
        Ok((intent, best))
    }
}
