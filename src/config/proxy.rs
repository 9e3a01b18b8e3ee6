//! `[proxy]`: the MITM CONNECT proxy for clients that cannot change their base URL. Which hosts
//! are decrypted, and where an intercepted host's traffic goes instead of the host itself.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The hosts intercepted by default: the inference APIs of Claude Code, Codex, Copilot,
/// Antigravity and Gemini CLI. `*.` matches exactly one more label (`api.*.githubcopilot.com`).
pub const DEFAULT_INTERCEPT_HOSTS: &[&str] = &[
    "api.anthropic.com",
    "api.openai.com",
    "api.githubcopilot.com",
    "api.*.githubcopilot.com",
    "copilot-proxy.githubusercontent.com",
    "cloudcode-pa.googleapis.com",
    "daily-cloudcode-pa.googleapis.com",
    // Gemini CLI (and other Gemini clients) with an API key.
    "generativelanguage.googleapis.com",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Whether the daemon listens on `proxy_port` at all.
    pub enabled: bool,
    /// Hosts whose TLS is decrypted; every other CONNECT is tunnelled byte-for-byte.
    pub intercept_hosts: Vec<String>,
    /// `host=URL` entries: an intercepted host's requests go to URL (scheme, host, port and an
    /// optional path prefix) instead of the host itself.
    pub upstream_overrides: Vec<String>,
}

impl Default for ProxyConfig {
    fn default() -> ProxyConfig {
        ProxyConfig {
            enabled: true,
            intercept_hosts: DEFAULT_INTERCEPT_HOSTS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            upstream_overrides: Vec::new(),
        }
    }
}

/// One parsed `upstream_overrides` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub host: String,
    /// The base URL without a trailing slash, e.g. `http://127.0.0.1:9000` or `https://egress/x`.
    pub base: String,
}

impl ProxyConfig {
    /// The overrides, checked: each is `host=URL` with an http(s) URL.
    pub fn overrides(&self) -> Result<Vec<Override>, ConfigError> {
        self.upstream_overrides
            .iter()
            .map(|entry| {
                let bad = |why: &str| {
                    ConfigError(format!(
                        "proxy.upstream_overrides entry {entry:?}: {why}; expected host=URL such as \
                         api.openai.com=http://127.0.0.1:9000"
                    ))
                };
                let (host, url) = entry.split_once('=').ok_or_else(|| bad("no '='"))?;
                let host = host.trim().to_ascii_lowercase();
                let url = url.trim().trim_end_matches('/');
                if host.is_empty() || host.contains('/') {
                    return Err(bad("the host must be a bare host name"));
                }
                match url.parse::<http::Uri>() {
                    Ok(u)
                        if matches!(u.scheme_str(), Some("http" | "https"))
                            && u.authority().is_some() => {}
                    _ => return Err(bad("the target must be an http:// or https:// URL")),
                }
                Ok(Override {
                    host,
                    base: url.to_string(),
                })
            })
            .collect()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        for pattern in &self.intercept_hosts {
            let ok = !pattern.is_empty()
                && !pattern.contains(['/', ':', ' '])
                && pattern
                    .split('.')
                    .all(|label| label == "*" || !label.contains('*'));
            if !ok {
                return Err(ConfigError(format!(
                    "proxy.intercept_hosts entry {pattern:?}: expected a host name, where a whole \
                     label may be * (api.*.githubcopilot.com)"
                )));
            }
        }
        self.overrides().map(|_| ())
    }
}

/// Whether `host` matches an allow-list `pattern` (case-insensitive; `*` is one whole label).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    let (mut p, mut h) = (pattern.split('.'), host.split('.'));
    loop {
        match (p.next(), h.next()) {
            (None, None) => return true,
            (Some("*"), Some(label)) if !label.is_empty() => {}
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_label() {
        assert!(host_matches("api.openai.com", "API.OpenAI.com"));
        assert!(host_matches(
            "api.*.githubcopilot.com",
            "api.business.githubcopilot.com"
        ));
        assert!(!host_matches(
            "api.*.githubcopilot.com",
            "api.githubcopilot.com"
        ));
        assert!(!host_matches(
            "api.*.githubcopilot.com",
            "api.a.b.githubcopilot.com"
        ));
        assert!(!host_matches(
            "api.openai.com",
            "api.openai.com.evil.example"
        ));
        assert!(!host_matches("api.openai.com", "xapi.openai.com"));
        assert!(host_matches("api.openai.com", "api.openai.com."));
    }

    #[test]
    fn overrides_are_parsed_and_checked() {
        let mut p = ProxyConfig {
            upstream_overrides: vec!["API.openai.com = http://127.0.0.1:9000/".into()],
            ..ProxyConfig::default()
        };
        assert_eq!(
            p.overrides().unwrap(),
            vec![Override {
                host: "api.openai.com".into(),
                base: "http://127.0.0.1:9000".into()
            }]
        );
        for bad in [
            "api.openai.com",
            "api.openai.com=ftp://x",
            "=http://x",
            "a/b=http://x",
        ] {
            p.upstream_overrides = vec![bad.into()];
            assert!(p.validate().is_err(), "{bad}");
        }
        p.upstream_overrides.clear();
        p.intercept_hosts = vec!["api.*x.com".into()];
        assert!(p.validate().is_err());
    }
}
