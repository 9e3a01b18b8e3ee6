//! Env files for the proxy clients (Copilot CLI, Antigravity): one file per client and shell
//! under the config dir, sourced by the user. `SSL_CERT_FILE` and `REQUESTS_CA_BUNDLE` replace
//! the whole trust store of the programs that read them, so they point at a combined bundle:
//! the system roots plus our CA.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    /// The user's shell from `$SHELL` (bash when unknown).
    pub fn from_env() -> Shell {
        let shell = std::env::var("SHELL").unwrap_or_default();
        match Path::new(&shell).file_name().and_then(|n| n.to_str()) {
            Some("zsh") => Shell::Zsh,
            Some("fish") => Shell::Fish,
            _ => Shell::Bash,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }

    /// The file's text: one assignment per variable.
    pub fn render(self, env: &BTreeMap<String, String>) -> String {
        let mut out = String::from(
            "# Written by `isartor connect`; `isartor connect <client> --disconnect` removes it.\n",
        );
        for (k, v) in env {
            let quoted = format!("'{}'", v.replace('\'', r"'\''"));
            match self {
                Shell::Bash | Shell::Zsh => out.push_str(&format!("export {k}={quoted}\n")),
                Shell::Fish => out.push_str(&format!("set -gx {k} {quoted}\n")),
            }
        }
        out
    }

    /// The line that removes the variables from a shell that sourced the file.
    pub fn unset_line(self, env: &BTreeMap<String, String>) -> String {
        let names: Vec<&str> = env.keys().map(String::as_str).collect();
        match self {
            Shell::Bash | Shell::Zsh => format!("unset {}", names.join(" ")),
            Shell::Fish => format!("set -e {}", names.join(" ")),
        }
    }

    /// The line that loads the file.
    pub fn source_line(self, path: &Path) -> String {
        format!("source {}", path.display())
    }
}

/// The env file of `client` for `shell`.
pub fn path(config_dir: &Path, client: &str, shell: Shell) -> PathBuf {
    config_dir
        .join("env")
        .join(format!("{client}.{}", shell.name()))
}

/// The variables a proxy client gets.
pub fn variables(
    client: &str,
    proxy_url: &str,
    ca: &Path,
    bundle: &Path,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("HTTPS_PROXY".into(), proxy_url.to_string());
    env.insert("NODE_EXTRA_CA_CERTS".into(), ca.display().to_string());
    env.insert("SSL_CERT_FILE".into(), bundle.display().to_string());
    env.insert("REQUESTS_CA_BUNDLE".into(), bundle.display().to_string());
    env.insert(
        format!("ISARTOR_{}_ENABLED", client.to_ascii_uppercase()),
        "true".into(),
    );
    env
}

/// The system's trust roots plus our CA, as PEM.
pub fn combined_bundle(ca_pem: &[u8]) -> Result<Vec<u8>> {
    let ours = pem::parse_many(ca_pem).context("the CA file is not PEM")?;
    let Some(ca) = ours.first() else {
        bail!("the CA file holds no certificate");
    };
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        bail!(
            "no system trust roots found ({} errors): install ca-certificates",
            found.errors.len()
        );
    }
    let mut pems: Vec<pem::Pem> = found
        .certs
        .iter()
        .filter(|der| der.as_ref() != ca.contents())
        .map(|der| pem::Pem::new("CERTIFICATE", der.as_ref()))
        .collect();
    pems.push(ca.clone());
    let lf = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    Ok(pem::encode_many_config(&pems, lf).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_each_shell() {
        let env = BTreeMap::from([("A".to_string(), "it's /x y".to_string())]);
        assert_eq!(
            Shell::Bash.render(&env).lines().nth(1),
            Some(r"export A='it'\''s /x y'")
        );
        assert_eq!(
            Shell::Fish.render(&env).lines().nth(1),
            Some(r"set -gx A 'it'\''s /x y'")
        );
        assert_eq!(Shell::Fish.unset_line(&env), "set -e A");
    }
}
