//! Claude Code: variables in the `env` object of `~/.claude/settings.json` (or
//! `$CLAUDE_CONFIG_DIR/settings.json`). By default `ANTHROPIC_BASE_URL` (and
//! `ANTHROPIC_AUTH_TOKEN` when the gateway has a key); with `--proxy`, `HTTPS_PROXY` and
//! `NODE_EXTRA_CA_CERTS` so first-party mode goes through the CONNECT proxy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

/// The settings file Claude Code reads.
pub fn settings_path(home: &Path) -> PathBuf {
    match std::env::var_os("CLAUDE_CONFIG_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("settings.json"),
        _ => home.join(".claude").join("settings.json"),
    }
}

/// The variables for each way of connecting.
pub fn variables(
    proxy: bool,
    gateway_url: &str,
    gateway_key: Option<&str>,
    proxy_url: &str,
    ca: &Path,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if proxy {
        env.insert("HTTPS_PROXY".into(), proxy_url.to_string());
        env.insert("NODE_EXTRA_CA_CERTS".into(), ca.display().to_string());
    } else {
        env.insert("ANTHROPIC_BASE_URL".into(), gateway_url.to_string());
        if let Some(key) = gateway_key {
            env.insert("ANTHROPIC_AUTH_TOKEN".into(), key.to_string());
        }
    }
    env
}

fn parse(bytes: Option<&[u8]>, path: &Path) -> Result<Map<String, Value>> {
    let Some(bytes) = bytes.filter(|b| !b.iter().all(u8::is_ascii_whitespace)) else {
        return Ok(Map::new());
    };
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => bail!("{} is not a JSON object; fix it first", path.display()),
        Err(e) => Err(e).with_context(|| {
            format!(
                "{} is not valid JSON; fix it first (nothing was changed)",
                path.display()
            )
        }),
    }
}

/// The settings with `ours` removed again: each of our variables goes back to its value in
/// `original` (or away), and an `env` object we created is removed when left empty.
fn without(
    mut settings: Map<String, Value>,
    ours: &BTreeMap<String, String>,
    original: &Map<String, Value>,
) -> Map<String, Value> {
    let before = original.get("env").and_then(Value::as_object);
    if let Some(Value::Object(env)) = settings.get_mut("env") {
        for (key, value) in ours {
            if env.get(key).and_then(Value::as_str) != Some(value) {
                continue; // someone else set it since: theirs now
            }
            match before.and_then(|b| b.get(key)) {
                Some(old) => env.insert(key.clone(), old.clone()),
                None => env.remove(key),
            };
        }
        if env.is_empty() && before.is_none() {
            settings.remove("env");
        }
    }
    settings
}

fn render(settings: &Map<String, Value>) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(settings).expect("JSON values serialise");
    out.push(b'\n');
    out
}

/// The new settings bytes: `current` with an earlier connection's variables (`prior`) taken out
/// and `env` put in.
pub fn connected(
    path: &Path,
    current: Option<&[u8]>,
    original: Option<&[u8]>,
    prior: Option<&BTreeMap<String, String>>,
    env: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut settings = parse(current, path)?;
    if let Some(prior) = prior {
        settings = without(settings, prior, &parse(original, path)?);
    }
    let block = settings
        .entry("env")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(block) = block else {
        bail!("{}: \"env\" is not an object; fix it first", path.display());
    };
    for (k, v) in env {
        block.insert(k.clone(), Value::String(v.clone()));
    }
    Ok(render(&settings))
}

/// The settings bytes with our variables taken out (when the file changed since connect, so the
/// exact old bytes cannot simply be put back).
pub fn disconnected(
    path: &Path,
    current: &[u8],
    original: Option<&[u8]>,
    ours: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let settings = without(parse(Some(current), path)?, ours, &parse(original, path)?);
    Ok(render(&settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn switching_modes_replaces_our_variables_and_keeps_the_users() {
        let p = Path::new("settings.json");
        let original = br#"{"model":"opus","env":{"HTTPS_PROXY":"http://corp:3128","FOO":"1"}}"#;
        let base = vars(&[("ANTHROPIC_BASE_URL", "http://127.0.0.1:8080")]);
        let one = connected(p, Some(original), Some(original), None, &base).unwrap();
        let v: Value = serde_json::from_slice(&one).unwrap();
        assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:8080");
        assert_eq!(v["env"]["FOO"], "1");
        assert_eq!(v["model"], "opus");

        let proxy = vars(&[("HTTPS_PROXY", "http://127.0.0.1:8081")]);
        let two = connected(p, Some(&one), Some(original), Some(&base), &proxy).unwrap();
        let v: Value = serde_json::from_slice(&two).unwrap();
        assert_eq!(v["env"].get("ANTHROPIC_BASE_URL"), None);
        assert_eq!(v["env"]["HTTPS_PROXY"], "http://127.0.0.1:8081");

        // Taking ours out puts the user's own proxy back.
        let back = disconnected(p, &two, Some(original), &proxy).unwrap();
        let v: Value = serde_json::from_slice(&back).unwrap();
        assert_eq!(v["env"]["HTTPS_PROXY"], "http://corp:3128");
        assert_eq!(v["env"]["FOO"], "1");
    }

    #[test]
    fn an_env_block_we_made_is_removed_and_broken_files_are_left_alone() {
        let p = Path::new("settings.json");
        let ours = vars(&[("ANTHROPIC_BASE_URL", "http://x")]);
        let made = connected(p, None, None, None, &ours).unwrap();
        let back = disconnected(p, &made, None, &ours).unwrap();
        assert_eq!(back, b"{}\n");
        assert!(connected(p, Some(b"{oops"), None, None, &ours).is_err());
        assert!(connected(p, Some(br#"{"env":3}"#), None, None, &ours).is_err());
    }
}
