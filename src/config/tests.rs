//! Unit tests of configuration loading and validation.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("isartor.toml");
    if let Some(text) = file {
        std::fs::write(&path, text).unwrap();
    }
    Config::load(None, &path, env(vars))
}

#[test]
fn defaults_match_the_documented_values() {
    let c = load(None, &[]).unwrap().config;
    assert_eq!(c, Config::default());
    assert_eq!(c.host_port, "127.0.0.1:8080");
    assert_eq!(c.cache_mode, CacheMode::Both);
    assert_eq!(c.similarity_threshold, 0.85);
    assert_eq!(c.cache_ttl_secs, 300);
    assert_eq!(c.cache_max_capacity, 10_000);
    assert_eq!(c.cache_scope, CacheScope::Tenant);
    assert_eq!(c.llm_provider, Provider::Openai);
    assert_eq!(c.external_llm_model, "gpt-4o-mini");
    assert_eq!(
        c.validate().unwrap().providers[0].endpoint,
        "https://api.openai.com/v1/chat/completions"
    );
}

#[test]
fn env_overrides_file_overrides_defaults() {
    let file = "cache_ttl_secs = 60\ncache_mode = \"exact\"\nsimilarity_threshold = 0.9\n";
    let c = load(Some(file), &[]).unwrap().config;
    assert_eq!((c.cache_ttl_secs, c.cache_mode), (60, CacheMode::Exact));
    assert!(!c.json_logs());
    let c = load(
        Some(file),
        &[
            ("ISARTOR__CACHE_TTL_SECS", "7"),
            ("ISARTOR__OFFLINE_MODE", "yes"),
            ("ISARTOR__SIMILARITY_THRESHOLD", "0.5"),
            ("ISARTOR__GATEWAY_API_KEY", "12345"),
        ],
    )
    .unwrap()
    .config;
    assert_eq!(c.cache_ttl_secs, 7);
    assert_eq!(c.cache_mode, CacheMode::Exact);
    assert!(c.offline_mode);
    assert_eq!(c.similarity_threshold, 0.5);
    assert_eq!(c.gateway_api_key.expose(), "12345");
    assert_eq!(format!("{:?}", c.gateway_api_key), "\"***\"");
}

#[test]
fn single_underscore_lookalike_warns_with_the_right_spelling() {
    let vars = [
        ("ISARTOR_CACHE_MODE", "exact"),
        ("ISARTOR_CONFIG", "x"),
        ("ISARTOR__CACHE_TTL_SECS", "5"),
    ];
    let loaded = load(None, &vars).unwrap();
    assert_eq!(loaded.config.cache_mode, CacheMode::Both);
    let warnings = env_warnings(vars);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("did you mean ISARTOR__CACHE_MODE"));
}

#[test]
fn bad_values_name_the_key_the_value_and_what_is_allowed() {
    // (file text, environment, words the error must contain)
    type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            None,
            &[("ISARTOR__CACHE_MODE", "fuzzy")],
            &["ISARTOR__CACHE_MODE", "fuzzy", "exact", "semantic", "both"],
        ),
        (
            None,
            &[("ISARTOR__CACHE_TTL_SECS", "soon")],
            &["ISARTOR__CACHE_TTL_SECS", "soon", "whole number"],
        ),
        (
            None,
            &[("ISARTOR__NO_SUCH_KEY", "1")],
            &["ISARTOR__NO_SUCH_KEY", "unknown"],
        ),
        (
            Some("cache_mode = \"fuzzy\""),
            &[],
            &["cache_mode", "fuzzy", "semantic"],
        ),
        (Some("no_such_key = 1"), &[], &["no_such_key"]),
        (
            None,
            &[("ISARTOR__SIMILARITY_THRESHOLD", "1.5")],
            &["similarity_threshold", "1.5", "at most 1"],
        ),
        (
            None,
            &[("ISARTOR__HOST_PORT", "nowhere")],
            &["host_port", "nowhere", "IP:PORT"],
        ),
        (
            None,
            &[("ISARTOR__CACHE_MAX_CAPACITY", "0")],
            &["cache_max_capacity", "at least 1"],
        ),
        (
            None,
            &[("ISARTOR__CACHE_BACKEND", "redis")],
            &["redis_url", "redis://"],
        ),
        (
            None,
            &[("ISARTOR__LLM_PROVIDER", "azure")],
            &["external_llm_url"],
        ),
        (
            None,
            &[("ISARTOR__EXTERNAL_LLM_URL", "ftp://x")],
            &["external_llm_url", "http"],
        ),
        (
            None,
            &[("ISARTOR__OTEL_EXPORTER_ENDPOINT", "127.0.0.1:4318")],
            &["otel_exporter_endpoint", "127.0.0.1:4318", "http://"],
        ),
        (
            None,
            &[("ISARTOR__LOG_FORMAT", "xml")],
            &["log_format", "xml", "json"],
        ),
        (
            None,
            &[("ISARTOR__EXTERNAL_LLM_API_KEY_FILE", "/no/such/file")],
            &["external_llm_api_key_file", "/no/such/file"],
        ),
    ];
    for (file, vars, needles) in cases {
        let e = load(*file, vars).unwrap_err().to_string();
        for n in *needles {
            assert!(e.contains(n), "{vars:?} {file:?}: {e:?} lacks {n:?}");
        }
    }
}

#[test]
fn explicit_config_path_must_exist() {
    let e = Config::load(Some(Path::new("/no/such.toml")), Path::new("/x"), env(&[])).unwrap_err();
    assert!(e.to_string().contains("/no/such.toml"));
}

#[test]
fn endpoint_completion_per_provider() {
    let endpoint = |vars: &[(&str, &str)]| {
        load(None, vars)
            .unwrap()
            .config
            .validate()
            .unwrap()
            .providers[0]
            .endpoint
            .clone()
    };
    assert_eq!(
        endpoint(&[("ISARTOR__EXTERNAL_LLM_URL", "https://api.openai.com/v1/")]),
        "https://api.openai.com/v1/chat/completions"
    );
    assert_eq!(
        endpoint(&[(
            "ISARTOR__EXTERNAL_LLM_URL",
            "http://127.0.0.1:9/v1/chat/completions"
        )]),
        "http://127.0.0.1:9/v1/chat/completions"
    );
    assert_eq!(
        endpoint(&[("ISARTOR__LLM_PROVIDER", "xai")]),
        "https://api.x.ai/v1/chat/completions"
    );
    assert_eq!(
        endpoint(&[("ISARTOR__LLM_PROVIDER", "anthropic")]),
        "https://api.anthropic.com/v1/messages"
    );
    assert_eq!(
        endpoint(&[("ISARTOR__LLM_PROVIDER", "gemini")]),
        "https://generativelanguage.googleapis.com/v1beta"
    );
    for base in [
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/v1",
        "http://127.0.0.1:9/v1/messages",
    ] {
        let vars = [
            ("ISARTOR__LLM_PROVIDER", "anthropic"),
            ("ISARTOR__EXTERNAL_LLM_URL", base),
        ];
        assert_eq!(endpoint(&vars), "http://127.0.0.1:9/v1/messages");
    }
    assert_eq!(
        endpoint(&[
            ("ISARTOR__LLM_PROVIDER", "azure"),
            ("ISARTOR__EXTERNAL_LLM_URL", "https://r.openai.azure.com"),
            ("ISARTOR__AZURE_DEPLOYMENT_ID", "gpt4"),
        ]),
        "https://r.openai.azure.com/openai/deployments/gpt4/chat/completions?api-version=2024-10-21"
    );
}

#[test]
fn key_file_is_read_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "sk-test\n").unwrap();
    let c = load(
        None,
        &[("ISARTOR__EXTERNAL_LLM_API_KEY_FILE", key.to_str().unwrap())],
    )
    .unwrap()
    .config;
    assert_eq!(
        c.validate().unwrap().providers[0]
            .key
            .as_ref()
            .unwrap()
            .expose(),
        "sk-test"
    );
}

#[test]
fn every_key_is_documented() {
    let docs = include_str!("../../docs/configuration.md");
    for (key, _) in Config::keys() {
        assert!(
            docs.contains(&format!("`{key}`")),
            "docs/configuration.md lacks `{key}`"
        );
        assert!(
            docs.contains(&env_name(&key)),
            "docs/configuration.md lacks {}",
            env_name(&key)
        );
    }
}

#[test]
fn fallback_providers_come_from_toml_and_are_validated_with_their_index() {
    let file = r#"
l3_retries = 2
[[fallback_providers]]
llm_provider = "anthropic"
external_llm_url = "http://127.0.0.1:9"
model = "claude-haiku"
[[fallback_providers]]
llm_provider = "ollama"
"#;
    let c = load(Some(file), &[]).unwrap().config;
    let providers = c.validate().unwrap().providers;
    assert_eq!(providers.len(), 3);
    assert_eq!(providers[0].provider, Provider::Openai);
    assert_eq!(providers[1].endpoint, "http://127.0.0.1:9/v1/messages");
    assert_eq!(providers[1].model.as_deref(), Some("claude-haiku"));
    assert_eq!(c.l3_retries, 2);

    let bad = "[[fallback_providers]]\nllm_provider = \"azure\"\n";
    let e = load(Some(bad), &[]).unwrap_err().to_string();
    assert!(e.contains("fallback_providers[0].external_llm_url"), "{e}");
    let e = load(None, &[("ISARTOR__FALLBACK_PROVIDERS", "x")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("[[fallback_providers]] in isartor.toml"), "{e}");
    let e = load(Some("[[fallback_providers]]\nurl = \"x\"\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("url"), "{e}");
}
