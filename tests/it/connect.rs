//! `isartor connect` with the real binary in a HOME of its own: Claude Code's settings survive a
//! connect/disconnect round trip byte for byte (with and without a file before, across a switch
//! of mode), env files for the proxy clients are written and removed, `--dry-run` writes nothing.

use std::path::{Path, PathBuf};
use std::process::Output;

const BIN: &str = env!("CARGO_BIN_EXE_isartor");

struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Home {
        Home(tempfile::tempdir().unwrap())
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.path().join(rel)
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = std::process::Command::new(BIN)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.0.path())
            .env("SHELL", "/bin/zsh")
            // Nothing listens here: the probes must say so, not hang.
            .env("ISARTOR__HOST_PORT", "127.0.0.1:9")
            .env("ISARTOR__PROXY_PORT", "127.0.0.1:9")
            .output()
            .expect("isartor runs");
        assert!(
            out.status.success(),
            "isartor {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn stdout(&self, args: &[&str]) -> String {
        String::from_utf8(self.run(args).stdout).unwrap()
    }
}

fn settings(home: &Home) -> PathBuf {
    home.path(".claude/settings.json")
}

fn env_of(path: &Path) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["env"].clone()
}

#[test]
fn claude_settings_come_back_byte_for_byte() {
    let home = Home::new();
    let path = settings(&home);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Odd spacing and key order that a JSON round trip would not keep.
    let before = b"{ \"model\" : \"opus\",\n  \"env\": {\"FOO\": \"1\"}, \"permissions\": {\"allow\": []} }\n";
    std::fs::write(&path, before).unwrap();

    let out = home.stdout(&["connect", "claude"]);
    assert!(
        out.contains("ANTHROPIC_BASE_URL=http://127.0.0.1:9"),
        "{out}"
    );
    let env = env_of(&path);
    assert_eq!(env["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9");
    assert_eq!(env["FOO"], "1");

    // Switching to the proxy replaces our variables, keeps the backup of the original.
    home.run(&["connect", "claude", "--proxy"]);
    let env = env_of(&path);
    assert_eq!(env.get("ANTHROPIC_BASE_URL"), None);
    assert_eq!(env["HTTPS_PROXY"], "http://127.0.0.1:9");
    let ca = home.path(".local/share/isartor/isartor-ca.pem");
    assert_eq!(env["NODE_EXTRA_CA_CERTS"], ca.display().to_string());
    assert!(ca.exists(), "the CA is made for the proxy mode");

    let status = home.stdout(&["connect", "status"]);
    assert!(status.contains("claude: connected (proxy)"), "{status}");
    assert!(status.contains("not answering"), "{status}");
    assert!(status.contains("copilot: not connected"), "{status}");

    home.run(&["connect", "claude", "--disconnect"]);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let status = home.stdout(&["connect", "status"]);
    assert!(status.contains("claude: not connected"), "{status}");
}

#[test]
fn a_settings_file_we_created_is_removed_and_edits_since_are_kept() {
    let home = Home::new();
    let path = settings(&home);
    home.run(&["connect", "claude"]);
    assert!(path.exists());
    home.run(&["connect", "claude", "--disconnect"]);
    assert!(!path.exists(), "there was no file before");

    // Edited after connect: only our variable goes.
    home.run(&["connect", "claude"]);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["theme"] = "dark".into();
    std::fs::write(&path, v.to_string()).unwrap();
    let out = home.stdout(&["connect", "claude", "--disconnect"]);
    assert!(out.contains("changed since connect"), "{out}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({"theme": "dark"}));
}

#[test]
fn a_symlinked_settings_file_stays_a_symlink() {
    let home = Home::new();
    let path = settings(&home);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let real = home.path("dotfiles-settings.json");
    std::fs::write(&real, b"{\"model\":\"opus\"}").unwrap();
    std::os::unix::fs::symlink(&real, &path).unwrap();
    home.run(&["connect", "claude"]);
    assert!(path.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("ANTHROPIC_BASE_URL")
    );
    home.run(&["connect", "claude", "--disconnect"]);
    assert!(path.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read(&real).unwrap(), b"{\"model\":\"opus\"}");
}

#[test]
fn dry_run_writes_nothing() {
    let home = Home::new();
    let out = home.stdout(&["connect", "claude", "--dry-run"]);
    assert!(out.contains("would write"), "{out}");
    assert!(!settings(&home).exists());
    let out = home.stdout(&["connect", "copilot", "--dry-run"]);
    assert!(out.contains("HTTPS_PROXY"), "{out}");
    assert!(!home.path(".config/isartor/env/copilot.zsh").exists());
}

#[test]
fn proxy_clients_get_an_env_file_per_shell_and_lose_it_on_disconnect() {
    let home = Home::new();
    let out = home.stdout(&["connect", "copilot"]);
    let file = home.path(".config/isartor/env/copilot.zsh");
    assert!(out.contains(&format!("source {}", file.display())), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    let bundle = home.path(".local/share/isartor/isartor-ca-bundle.pem");
    for line in [
        "export HTTPS_PROXY='http://127.0.0.1:9'".to_string(),
        "export ISARTOR_COPILOT_ENABLED='true'".to_string(),
        format!("export SSL_CERT_FILE='{}'", bundle.display()),
        format!("export REQUESTS_CA_BUNDLE='{}'", bundle.display()),
    ] {
        assert!(text.contains(&line), "{line} in\n{text}");
    }
    // The bundle is the system roots plus our CA (last).
    let bundle_text = std::fs::read_to_string(&bundle).unwrap();
    let ca = std::fs::read_to_string(home.path(".local/share/isartor/isartor-ca.pem")).unwrap();
    assert!(bundle_text.matches("BEGIN CERTIFICATE").count() > 10);
    assert!(bundle_text.trim_end().ends_with(ca.trim_end()));

    // fish for antigravity, and for `eval`.
    home.run(&["connect", "antigravity", "--shell", "fish"]);
    let fish = home.path(".config/isartor/env/antigravity.fish");
    assert!(
        std::fs::read_to_string(&fish)
            .unwrap()
            .contains("set -gx ISARTOR_ANTIGRAVITY_ENABLED 'true'")
    );
    let printed = home.stdout(&["connect", "antigravity", "--shell", "bash", "--print-env"]);
    assert!(
        printed.contains("export HTTPS_PROXY='http://127.0.0.1:9'"),
        "{printed}"
    );

    let out = home.stdout(&["connect", "copilot", "--disconnect"]);
    assert!(!file.exists());
    assert!(out.contains("unset HTTPS_PROXY"), "{out}");
    assert!(bundle.exists(), "antigravity still uses the bundle");
    let out = home.stdout(&["connect", "antigravity", "--disconnect"]);
    assert!(out.contains("set -e HTTPS_PROXY"), "{out}");
    assert!(!fish.exists());
    assert!(!bundle.exists(), "no client uses the bundle any more");
}
