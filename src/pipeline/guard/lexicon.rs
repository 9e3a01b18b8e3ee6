//! The word lists the guard matches against: named technologies (folded to one name each),
//! opposite pairs, scope words, negations, number words, units and stop words. Plain data, kept
//! apart from the rules in the parent module.

/// Words that widen or narrow a request, folded into classes.
pub fn scope(w: &str) -> Option<&'static str> {
    Some(match w {
        "all" | "every" | "each" | "everything" => "all",
        "whole" | "entire" => "whole",
        // `npm list packages` and `npm list global packages` differ; so do a variable and a
        // global one.
        "global" | "globally" | "everywhere" | "throughout" => "global",
        "also" | "additionally" | "plus" => "also",
        "recursive" | "recursively" | "subfolders" | "subfolder" | "subdirectories"
        | "subdirectory" => "recursive",
        "multiple" | "several" => "many",
        "both" => "both",
        "other" | "others" => "other",
        _ => return None,
    })
}

/// Words that narrow a request to part of what `all` would cover: "the *first* letter" and not
/// every word, "a *single* package" and not all of them.
pub fn narrowing(w: &str) -> bool {
    matches!(
        w,
        "one"
            | "single"
            | "first"
            | "last"
            | "specific"
            | "particular"
            | "current"
            | "currently"
            | "only"
            | "certain"
            | "given"
            | "individual"
            | "this"
            | "some"
            | "part"
            | "partial"
            | "partially"
            | "few"
            | "selected"
            | "specified"
    )
}

/// What a request does to the thing it is about: the four operations on data (create, read,
/// update, delete), for the verbs that name one and nothing else. A closed class: verbs that
/// can name several (`get`, `make`, `run`, `set up`) are left out, and so are those that are as
/// often nouns (`list`, `view`, `search`). Matched as written, so a plural noun (`changes`) is
/// no verb.
pub fn operation(w: &str) -> Option<&'static str> {
    Some(match w {
        "create" | "add" | "insert" | "install" | "init" | "initialize" | "initialise" => "create",
        "find" | "show" | "read" | "see" | "display" | "print" | "check" | "select" | "fetch"
        | "inspect" | "lookup" | "locate" => "read",
        "update" | "change" | "modify" | "edit" | "rename" | "alter" | "replace" | "amend" => {
            "update"
        }
        "delete" | "remove" | "drop" | "erase" | "clear" | "purge" | "uninstall" | "destroy"
        | "prune" | "wipe" | "discard" | "unset" => "delete",
        _ => return None,
    })
}

/// Negation markers, folded.
pub fn negation(w: &str) -> Option<&'static str> {
    Some(match w {
        "not" | "cannot" | "nor" => "not",
        _ if w.ends_with("n't") || w.ends_with("n\u{2019}t") => "not",
        "no" | "none" | "nothing" => "no",
        "never" => "never",
        "without" => "without",
        "except" | "excluding" | "exclude" | "excludes" => "except",
        "unless" => "unless",
        "ignore" | "ignoring" | "skip" | "skipping" => "ignore",
        // "prevent the service from starting" does not start it.
        "prevent" | "prevents" | "preventing" | "avoid" | "avoiding" => "not",
        _ => return None,
    })
}

/// Number words as numbers.
pub fn number_word(w: &str) -> Option<u32> {
    const WORDS: [&str; 13] = [
        "zero", "", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    match w {
        // "one" and "single" are left out: far more often a pronoun or "just one" than a count.
        "twice" | "double" | "pair" => Some(2),
        "hundred" => Some(100),
        "thousand" => Some(1000),
        "million" => Some(1_000_000),
        _ => WORDS.iter().position(|n| *n == w).map(|n| n as u32),
    }
}

/// Ordinal words from `second` (`first` is left out: "the first letter" is a part more often
/// than a rank), so "the second highest" and "the 2nd highest" carry the same number.
pub fn ordinal(w: &str) -> Option<u32> {
    const WORDS: [&str; 9] = [
        "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    ];
    WORDS.iter().position(|n| *n == w).map(|n| n as u32 + 2)
}

/// Units of time, size and length, folded (a number's unit changes the answer as much as the
/// number).
pub fn unit(w: &str) -> Option<&'static str> {
    Some(match w {
        "ms" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "second",
        "m" | "min" | "mins" | "minute" | "minutes" => "minute",
        "h" | "hr" | "hrs" | "hour" | "hours" | "hourly" => "hour",
        "d" | "day" | "days" | "daily" => "day",
        "week" | "weeks" | "weekly" => "week",
        "month" | "months" | "monthly" => "month",
        "year" | "years" | "yearly" => "year",
        "b" | "byte" | "bytes" => "byte",
        "kb" | "kib" | "kilobyte" | "kilobytes" => "kb",
        "mb" | "mib" | "megabyte" | "megabytes" => "mb",
        "gb" | "gib" | "gigabyte" | "gigabytes" => "gb",
        "tb" | "tib" => "tb",
        "bit" | "bits" => "bit",
        "px" | "pixel" | "pixels" => "px",
        "%" | "percent" => "percent",
        "character" | "characters" | "char" | "chars" => "character",
        "digit" | "digits" => "digit",
        "line" | "lines" => "line",
        "row" | "rows" => "row",
        "decimal" | "decimals" => "decimal",
        _ => return None,
    })
}

/// Words that carry no content of their own: articles, pronouns, auxiliaries, question words,
/// prepositions and politeness.
pub fn stop_word(w: &str) -> bool {
    matches!(
        w,
        "a" | "an"
            | "the"
            | "this"
            | "that"
            | "these"
            | "those"
            | "it"
            | "its"
            | "it's"
            | "i"
            | "i'm"
            | "i've"
            | "me"
            | "my"
            | "we"
            | "our"
            | "you"
            | "your"
            | "they"
            | "their"
            | "them"
            | "he"
            | "she"
            | "his"
            | "her"
            | "is"
            | "are"
            | "was"
            | "were"
            | "be"
            | "been"
            | "being"
            | "am"
            | "do"
            | "does"
            | "did"
            | "doing"
            | "done"
            | "have"
            | "has"
            | "had"
            | "can"
            | "could"
            | "would"
            | "should"
            | "will"
            | "shall"
            | "may"
            | "might"
            | "must"
            | "how"
            | "what"
            | "what's"
            | "whats"
            | "why"
            | "when"
            | "where"
            | "which"
            | "who"
            | "whom"
            | "whose"
            | "there"
            | "here"
            | "of"
            | "in"
            | "on"
            | "at"
            | "by"
            | "for"
            | "with"
            | "about"
            | "as"
            | "into"
            | "to"
            | "from"
            | "onto"
            | "and"
            | "or"
            | "so"
            | "if"
            | "then"
            | "than"
            | "but"
            | "up"
            | "out"
            | "via"
            | "some"
            | "any"
            | "way"
            | "ways"
            | "get"
            | "got"
            | "use"
            | "using"
            | "used"
            | "make"
            | "need"
            | "want"
            | "like"
            | "just"
            | "only"
            | "very"
            | "really"
            | "please"
            | "thanks"
            | "thank"
            | "thx"
            | "hello"
            | "hi"
            | "hey"
            | "advance"
            | "kindly"
            | "help"
            | "anyone"
            | "someone"
            | "tell"
            | "know"
            | "quick"
            | "quickly"
            | "best"
            | "correct"
            | "right"
            | "proper"
            | "properly"
            | "possible"
            | "question"
            | "vs"
            | "versus"
            | "e.g"
            | "i.e"
            | "etc"
            | "also"
            | "too"
            | "instead"
    )
}

/// Opposite pairs: two sides, each a list of forms (the first names the side).
/// The opposite pairs (by their first word) that qualify how a thing is done, where leaving the
/// qualifier out means a default: "sort" sorts ascending, "join" is an inner join, "git diff"
/// shows what is not staged, "delete a branch" deletes a local one. Saying one side where the
/// other prompt says neither asks for something the default may not be.
pub fn qualifier(pair: usize) -> bool {
    OPPOSITES.get(pair).is_some_and(|(left, _)| {
        matches!(
            left.first(),
            Some(
                &("ascending"
                    | "sync"
                    | "horizontal"
                    | "inner"
                    | "left"
                    | "utc"
                    | "local"
                    | "stage")
            )
        )
    })
}

pub const OPPOSITES: &[(&[&str], &[&str])] = &[
    (
        &["ascending", "asc", "increasing"],
        &["descending", "desc", "decreasing", "reverse"],
    ),
    (
        &["encode", "encoding", "encoder"],
        &["decode", "decoding", "decoder"],
    ),
    (
        &[
            "serialize",
            "serialise",
            "serialization",
            "marshal",
            "stringify",
        ],
        &[
            "deserialize",
            "deserialise",
            "deserialization",
            "unmarshal",
            "parse",
        ],
    ),
    (
        &["compress", "compression", "gzip"],
        &["decompress", "decompression", "unzip", "gunzip", "extract"],
    ),
    (&["encrypt", "encryption"], &["decrypt", "decryption"]),
    (&["upload", "uploads"], &["download", "downloads"]),
    (&["import", "imports"], &["export", "exports"]),
    (&["push"], &["pull"]),
    (
        &["increase", "increment", "raise"],
        &["decrease", "decrement", "lower"],
    ),
    (
        &["min", "minimum", "smallest", "lowest", "shortest"],
        &["max", "maximum", "largest", "biggest", "highest", "longest"],
    ),
    (
        &["before", "prepend", "leading"],
        &["after", "append", "trailing"],
    ),
    (
        &["first", "oldest", "earliest"],
        &["last", "newest", "latest", "final"],
    ),
    (&["client", "browser", "frontend"], &["server", "backend"]),
    (&["read", "reading"], &["write", "writing"]),
    (&["input", "stdin"], &["output", "stdout"]),
    (&["left"], &["right"]),
    (&["uppercase", "upper"], &["lowercase", "lower-case"]),
    (
        &["start", "begin", "beginning", "prefix", "startswith"],
        &["end", "ending", "suffix", "endswith"],
    ),
    (&["open", "opening"], &["close", "closing"]),
    (
        &["add", "adding", "insert", "create"],
        &["remove", "removing", "delete", "deleting", "drop"],
    ),
    (
        &["enable", "enabled", "enabling"],
        &["disable", "disabled", "disabling"],
    ),
    (&["lock"], &["unlock"]),
    (&["show", "display"], &["hide"]),
    (&["inner"], &["outer"]),
    (&["parent"], &["child", "children"]),
    (&["local", "locally", "laptop"], &["remote", "remotely"]),
    (
        &["source", "src"],
        &["destination", "dest", "dst", "target"],
    ),
    (&["long"], &["wide"]),
    (&["row", "rows"], &["column", "columns"]),
    (&["dump", "backup"], &["restore"]),
    (
        &["sync", "synchronous", "synchronously"],
        &["async", "asynchronous", "asynchronously"],
    ),
    (&["public"], &["private"]),
    (&["horizontal", "horizontally"], &["vertical", "vertically"]),
    (
        &["inbound", "ingress", "incoming"],
        &["outbound", "egress", "outgoing"],
    ),
    (&["utc"], &["localtime"]),
    (&["merge"], &["rebase"]),
    (&["upgrade", "upgrades"], &["downgrade", "downgrades"]),
    (&["install", "installing"], &["uninstall", "uninstalling"]),
    (&["older"], &["newer"]),
    // Size and amount, comparatives included (the bound of "files over 100 MB").
    (
        &["small", "smaller", "less", "fewer", "under", "shorter"],
        &[
            "big", "bigger", "large", "larger", "greater", "more", "over", "longer",
        ],
    ),
    (
        &["allow", "allowed", "whitelist"],
        &["deny", "denied", "block", "blacklist"],
    ),
    (&["stage", "staged"], &["unstage", "unstaged"]),
    // The closed class of spatial and ordinal opposites (not open-class verbs: those are told
    // apart by their form, see `morphology`).
    (
        &["up", "upward", "upwards", "above", "top", "ceil", "ceiling"],
        &["down", "downward", "downwards", "below", "bottom", "floor"],
    ),
    (
        &["previous", "prev", "preceding"],
        &["next", "following", "subsequent"],
    ),
];

/// Named technologies, folded to one name each.
pub fn technology(w: &str) -> Option<&'static str> {
    let w = w.trim_end_matches(['.', ',', ':']);
    Some(match w {
        "python" | "python3" | "py" => "python",
        "javascript" | "js" | "node" | "node.js" | "nodejs" => "javascript",
        "typescript" | "ts" => "typescript",
        "rust" | "cargo" => "rust",
        "go" | "golang" => "go",
        "java" => "java",
        "kotlin" => "kotlin",
        "c#" | "csharp" | ".net" | "dotnet" => "csharp",
        "c++" | "cpp" => "cpp",
        "c" => "c",
        "ruby" | "rails" => "ruby",
        "php" | "laravel" => "php",
        "swift" => "swift",
        "scala" => "scala",
        "elixir" => "elixir",
        "haskell" => "haskell",
        "lua" => "lua",
        "r" => "r",
        "perl" => "perl",
        "bash" | "sh" => "bash",
        "zsh" => "zsh",
        "fish" => "fish",
        "powershell" | "pwsh" => "powershell",
        "sql" => "sql",
        "postgres" | "postgresql" | "psql" => "postgresql",
        "mysql" | "mariadb" => "mysql",
        "sqlite" | "sqlite3" => "sqlite",
        "mongodb" | "mongo" | "mongoose" => "mongodb",
        "redis" => "redis",
        "elasticsearch" => "elasticsearch",
        "dynamodb" => "dynamodb",
        "oracle" => "oracle",
        "react" | "reactjs" | "jsx" => "react",
        "vue" | "vuejs" | "vue.js" => "vue",
        "angular" => "angular",
        "svelte" => "svelte",
        "next.js" | "nextjs" | "next" => "nextjs",
        "django" => "django",
        "flask" => "flask",
        "fastapi" => "fastapi",
        "express" | "express.js" | "expressjs" => "express",
        "spring" => "spring",
        "vite" => "vite",
        "webpack" => "webpack",
        "jest" => "jest",
        "vitest" => "vitest",
        "mocha" => "mocha",
        "pytest" => "pytest",
        "unittest" => "unittest",
        "junit" => "junit",
        "pandas" => "pandas",
        "numpy" => "numpy",
        "polars" => "polars",
        "docker" | "docker-compose" => "docker",
        // The build file is not the command line: an option of `docker run` is no instruction of it.
        "dockerfile" => "dockerfile",
        "podman" => "podman",
        "kubernetes" | "k8s" | "kubectl" => "kubernetes",
        "helm" => "helm",
        "terraform" => "terraform",
        "ansible" => "ansible",
        "nginx" => "nginx",
        "apache" => "apache",
        "aws" | "s3" | "lambda" | "ec2" => "aws",
        "gcp" | "gcloud" => "gcp",
        "azure" => "azure",
        "linux" => "linux",
        "ubuntu" => "ubuntu",
        "debian" => "debian",
        "alpine" => "alpine",
        "centos" | "rhel" | "fedora" => "redhat",
        "arch" => "arch",
        "macos" | "mac" | "osx" => "macos",
        "windows" => "windows",
        "git" => "git",
        "github" => "github",
        "gitlab" => "gitlab",
        "npm" => "npm",
        "yarn" => "yarn",
        "pnpm" => "pnpm",
        "pip" => "pip",
        "poetry" => "poetry",
        "conda" => "conda",
        "apt" | "apt-get" => "apt",
        "brew" | "homebrew" => "homebrew",
        "maven" => "maven",
        "gradle" => "gradle",
        "vim" | "vi" | "neovim" | "nvim" => "vim",
        "emacs" => "emacs",
        "vscode" => "vscode",
        "json" => "json",
        "yaml" | "yml" => "yaml",
        "xml" => "xml",
        "csv" => "csv",
        "toml" => "toml",
        "ini" => "ini",
        "markdown" | "md" => "markdown",
        "html" => "html",
        "css" | "scss" | "sass" => "css",
        "tailwind" => "tailwind",
        "graphql" => "graphql",
        "grpc" => "grpc",
        "rest" => "rest",
        "websocket" | "websockets" => "websocket",
        "http" => "http",
        "https" | "tls" | "ssl" => "https",
        "tcp" => "tcp",
        "udp" => "udp",
        "ssh" => "ssh",
        "curl" => "curl",
        "wget" => "wget",
        "jq" => "jq",
        "sed" => "sed",
        "awk" => "awk",
        "grep" | "ripgrep" | "rg" => "grep",
        "cron" | "crontab" | "cronjob" => "cron",
        "systemd" | "systemctl" => "systemd",
        "regex" | "regexp" => "regex",
        "base64" => "base64",
        "hex" => "hex",
        "utf-8" | "utf8" => "utf-8",
        "celsius" => "celsius",
        "fahrenheit" => "fahrenheit",
        "kafka" => "kafka",
        "rabbitmq" => "rabbitmq",
        "jwt" => "jwt",
        "oauth" => "oauth",
        "ios" => "ios",
        "android" => "android",
        "flutter" | "dart" => "flutter",
        "excel" => "excel",
        "pdf" => "pdf",
        "png" => "png",
        "jpg" | "jpeg" => "jpeg",
        "svg" => "svg",
        "tensorflow" => "tensorflow",
        "pytorch" | "torch" => "pytorch",
        "sqlalchemy" => "sqlalchemy",
        "prisma" => "prisma",
        "celery" => "celery",
        "graphviz" => "graphviz",
        "black" => "black",
        "prettier" => "prettier",
        "eslint" => "eslint",
        "ruff" => "ruff",
        "mypy" => "mypy",
        "flake8" => "flake8",
        "pylint" => "pylint",
        "redux" => "redux",
        "zustand" => "zustand",
        "mobx" => "mobx",
        "alembic" => "alembic",
        "configparser" => "configparser",
        "argparse" => "argparse",
        "requests" => "requests",
        "axios" => "axios",
        "fetch" => "fetch",
        "tmux" => "tmux",
        "zip" => "zip",
        "tar" => "tar",
        _ => return None,
    })
}
