//! Self-upgrade from this project's GitHub releases (or a mirror of the release API): find the
//! release, download `isartor-<tag>-<target>.tar.gz` and the release's `SHA256SUMS`, check the
//! archive's sha256, extract the binary (self_update), and swap it in with renames in the binary's
//! own directory. The old binary is kept until the new one answers `--version`, and put back when
//! it does not, so a failed update never leaves a half-written or broken `isartor`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The target triple of this build, as release archives name it.
pub fn target() -> String {
    let os = match std::env::consts::OS {
        "linux" => "unknown-linux-gnu",
        "macos" => "apple-darwin",
        other => other,
    };
    format!("{}-{os}", std::env::consts::ARCH)
}

/// A release and the two files an update needs from it.
#[derive(Debug, Clone)]
pub struct Release {
    pub tag: String,
    pub archive_name: String,
    pub archive_url: String,
    pub sums_url: String,
}

/// `v1.2.3` / `1.2.3` → (1, 2, 3); anything unparsable sorts lowest.
pub fn version_of(tag: &str) -> (u64, u64, u64) {
    let mut parts = tag
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// Looks up the latest release (or `tag`) through the release API at `api_base`.
pub async fn find(api_base: &str, repo: &str, tag: Option<&str>) -> Result<Release> {
    let client = crate::upstream::http_client(Duration::from_secs(10))?;
    let url = match tag {
        Some(t) => format!(
            "{}/repos/{repo}/releases/tags/{t}",
            api_base.trim_end_matches('/')
        ),
        None => format!(
            "{}/repos/{repo}/releases/latest",
            api_base.trim_end_matches('/')
        ),
    };
    let response = client
        .get(&url)
        .header("accept", "application/vnd.github+json")
        .header("user-agent", concat!("isartor/", env!("CARGO_PKG_VERSION")))
        .send()
        .await
        .with_context(|| {
            format!("cannot reach the release API at {url} (network down, or a proxy in the way?)")
        })?;
    if !response.status().is_success() {
        bail!("the release API at {url} answered {}", response.status());
    }
    let release: Value = serde_json::from_slice(&response.bytes().await?)
        .with_context(|| format!("the release API at {url} sent no JSON"))?;
    let tag = release["tag_name"]
        .as_str()
        .ok_or_else(|| anyhow!("the release at {url} has no tag_name"))?
        .to_string();
    let archive_name = format!("isartor-{tag}-{}.tar.gz", target());
    let asset = |name: &str| {
        release["assets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["name"] == name)
            .and_then(|a| a["browser_download_url"].as_str())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("release {tag} has no {name}"))
    };
    Ok(Release {
        archive_url: asset(&archive_name)?,
        sums_url: asset("SHA256SUMS")?,
        archive_name,
        tag,
    })
}

/// Downloads the archive into `dir` and checks it against the release's `SHA256SUMS`.
pub async fn download(release: &Release, dir: &Path) -> Result<PathBuf> {
    let client = crate::upstream::http_client(Duration::from_secs(10))?;
    let get = |url: String| {
        let client = client.clone();
        async move {
            let r = client
                .get(&url)
                .send()
                .await
                .with_context(|| format!("cannot download {url}"))?;
            if !r.status().is_success() {
                bail!("{url} answered {}", r.status());
            }
            Ok::<_, anyhow::Error>(r.bytes().await?)
        }
    };
    let archive = get(release.archive_url.clone()).await?;
    let sums = get(release.sums_url.clone()).await?;
    let expected = String::from_utf8_lossy(&sums)
        .lines()
        .find_map(|l| {
            let (sum, name) = l.split_once(char::is_whitespace)?;
            (name.trim().trim_start_matches('*') == release.archive_name).then(|| sum.to_string())
        })
        .ok_or_else(|| {
            anyhow!(
                "SHA256SUMS of {} does not list {}",
                release.tag,
                release.archive_name
            )
        })?;
    let actual = hex::encode(Sha256::digest(&archive));
    if actual != expected {
        bail!(
            "checksum mismatch for {} (expected {expected}, got {actual}): nothing was replaced",
            release.archive_name
        );
    }
    let path = dir.join(&release.archive_name);
    std::fs::write(&path, &archive)?;
    Ok(path)
}

/// Replaces the binary at `exe` with the one in `archive`: extract beside it, rename the old one
/// aside, rename the new one in, run it with `--version`, then drop the old one (or put it back).
/// Returns what the new binary says its version is.
pub fn install(archive: &Path, exe: &Path) -> Result<String> {
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", exe.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".isartor-update-")
        .tempdir_in(dir)
        .map_err(|e| permission_hint(e, dir))?;
    self_update::Extract::from_source(archive)
        .archive(self_update::ArchiveKind::Tar(Some(
            self_update::Compression::Gz,
        )))
        .extract_file(staging.path(), "isartor")
        .map_err(|e| anyhow!("the archive has no isartor binary at its root: {e}"))?;
    let new = staging.path().join("isartor");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755))?;
    }
    let old = dir.join(".isartor.old");
    std::fs::rename(exe, &old).map_err(|e| permission_hint(e, dir))?;
    if let Err(e) = std::fs::rename(&new, exe) {
        std::fs::rename(&old, exe)?;
        return Err(permission_hint(e, dir));
    }
    let version = run_version(exe);
    match version {
        Some(v) => {
            let _ = std::fs::remove_file(&old);
            Ok(v)
        }
        None => {
            std::fs::rename(&old, exe)?;
            bail!("the new binary does not run on this machine; the old one is back in place")
        }
    }
}

/// What `exe --version` prints, if it runs. A just-written file can be briefly "busy" (ETXTBSY)
/// while another thread's fork still holds its descriptor: that is retried, not a failure.
fn run_version(exe: &Path) -> Option<String> {
    for _ in 0..50 {
        match std::process::Command::new(exe).arg("--version").output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(o) if o.status.success() => {
                return Some(String::from_utf8_lossy(&o.stdout).trim().to_string());
            }
            _ => return None,
        }
    }
    None
}

fn permission_hint(e: std::io::Error, dir: &Path) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        anyhow!(
            "cannot write to {}: permission denied. Install isartor in a directory you own \
             (install.sh uses ~/.local/bin) and update it there; do not update with sudo",
            dir.display()
        )
    } else {
        anyhow!("cannot replace the binary in {}: {e}", dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_of("v0.10.0") > version_of("v0.9.9"));
        assert_eq!(version_of("1.2.3"), (1, 2, 3));
        assert_eq!(version_of("v2.0.0-rc1"), (2, 0, 0));
        assert!(version_of("garbage") < version_of("v0.0.1"));
    }
}
