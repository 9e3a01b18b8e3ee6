//! Client integrations (`isartor connect`): what each client is told, and how it is untold.
//! [`claude`] edits `~/.claude/settings.json`; [`envfile`] writes per-shell env files for the
//! proxy clients (Copilot, Antigravity). Every file is backed up before its first write, and
//! `--disconnect` puts back the exact previous bytes (or removes a file that did not exist). What
//! was done is kept in one JSON state file in the data dir.

pub mod claude;
pub mod envfile;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::paths::{Paths, write_atomically};

/// A file we wrote, and how to undo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: PathBuf,
    /// The copy of the file as it was before our first write (`None`: it did not exist).
    pub backup: Option<PathBuf>,
    /// SHA-256 of what we last wrote, to tell whether someone changed it since.
    pub written_sha256: String,
}

/// One connected client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// `base_url` or `proxy`.
    pub how: String,
    pub files: Vec<FileRecord>,
    /// The variables we set, with their values.
    pub env: BTreeMap<String, String>,
    /// Unix seconds.
    pub at: u64,
}

/// Everything `connect` has done, by client name.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub clients: BTreeMap<String, Connection>,
}

/// Where connect keeps its state and backups, and the daemon addresses it points clients at.
pub struct Setup {
    pub paths: Paths,
    pub home: PathBuf,
    /// `http://127.0.0.1:8080` (an unspecified listen address becomes loopback).
    pub gateway_url: String,
    pub proxy_url: String,
    pub gateway_key: Option<String>,
}

fn client_address(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

impl Setup {
    pub fn new(config: &Config, paths: Paths) -> Result<Setup> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .context("HOME is not set")?;
        let key = config.gateway_api_key.expose();
        Ok(Setup {
            paths,
            home,
            gateway_url: format!("http://{}", client_address(config.listen_addr()?)),
            proxy_url: format!("http://{}", client_address(config.proxy_addr()?)),
            gateway_key: (!key.is_empty()).then(|| key.to_string()),
        })
    }

    fn state_file(&self) -> PathBuf {
        self.paths.data_dir.join("connect.json")
    }

    fn backup_dir(&self) -> PathBuf {
        self.paths.data_dir.join("backups")
    }

    pub fn load(&self) -> Result<State> {
        match read_if_exists(&self.state_file())? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not valid", self.state_file().display())),
            None => Ok(State::default()),
        }
    }

    pub fn save(&self, state: &State) -> Result<()> {
        Paths::ensure_private_dir(&self.paths.data_dir)?;
        write_atomically(
            &self.state_file(),
            &serde_json::to_vec_pretty(state)?,
            0o600,
        )
    }

    /// Writes `bytes` to `path`, first backing the file up unless `prior` (an earlier connect)
    /// already holds the original.
    pub fn write(
        &self,
        client: &str,
        path: &Path,
        bytes: &[u8],
        prior: Option<&FileRecord>,
    ) -> Result<FileRecord> {
        let backup = match prior {
            Some(p) => p.backup.clone(),
            None if path.exists() => {
                Paths::ensure_private_dir(&self.backup_dir())?;
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
                let backup = self
                    .backup_dir()
                    .join(format!("{client}-{}-{name}", crate::exchange::unix_now()));
                std::fs::copy(path, &backup)
                    .with_context(|| format!("cannot back up {}", path.display()))?;
                Some(backup)
            }
            None => None,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_atomically(path, bytes, mode_or_private(path))?;
        Ok(FileRecord {
            path: path.to_path_buf(),
            backup,
            written_sha256: sha256(bytes),
        })
    }
}

/// What undoing one file did.
#[derive(Debug, PartialEq, Eq)]
pub enum Undone {
    /// The previous bytes are back.
    Restored,
    /// The file did not exist before; it is gone again.
    Removed,
    /// Someone changed the file since we wrote it; the caller must undo only its own part.
    ChangedSince,
}

/// Puts a file back as it was before `connect`, if nobody changed it since.
pub fn undo(record: &FileRecord) -> Result<Undone> {
    let current = read_if_exists(&record.path)?;
    if current.as_deref().map(sha256).as_deref() != Some(record.written_sha256.as_str()) {
        return Ok(Undone::ChangedSince);
    }
    match &record.backup {
        Some(backup) => {
            let bytes = std::fs::read(backup)
                .with_context(|| format!("the backup {} is gone", backup.display()))?;
            write_atomically(&record.path, &bytes, mode_or_private(&record.path))?;
            let _ = std::fs::remove_file(backup);
            Ok(Undone::Restored)
        }
        None => {
            std::fs::remove_file(&record.path)
                .with_context(|| format!("cannot remove {}", record.path.display()))?;
            Ok(Undone::Removed)
        }
    }
}

/// The original bytes of a file we changed (`None`: it did not exist).
pub fn original(record: &FileRecord) -> Result<Option<Vec<u8>>> {
    record
        .backup
        .as_ref()
        .map(|b| std::fs::read(b).with_context(|| format!("the backup {} is gone", b.display())))
        .transpose()
}

/// A file's bytes, or `None` when it does not exist.
pub fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The permissions a rewrite keeps: the file's own, or owner-only for a new file (settings can
/// hold a gateway key).
fn mode_or_private(path: &Path) -> u32 {
    std::fs::metadata(path)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .unwrap_or(0o600)
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
