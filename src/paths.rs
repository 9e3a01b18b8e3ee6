//! Every on-disk location Isartor uses, derived in one place from the XDG / platform directories
//! (`directories`): config file, data dir (CA, logs), cache dir, and the runtime dir (pid file,
//! control socket).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use directories::ProjectDirs;

/// Resolved directories for this user.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub runtime_dir: PathBuf,
}

impl Paths {
    /// Paths for the current user (`$XDG_*` or `$HOME` based).
    pub fn discover() -> Result<Paths> {
        let dirs = ProjectDirs::from("", "", "isartor")
            .context("cannot find a home directory: set HOME (or the XDG_* directories)")?;
        let data_dir = dirs.data_local_dir().to_path_buf();
        let runtime_dir = dirs
            .runtime_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| data_dir.join("run"));
        Ok(Paths {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir,
            cache_dir: dirs.cache_dir().to_path_buf(),
            runtime_dir,
        })
    }

    /// Everything under one root (tests, portable installs).
    pub fn under(root: &Path) -> Paths {
        Paths {
            config_dir: root.join("config"),
            data_dir: root.join("data"),
            cache_dir: root.join("cache"),
            runtime_dir: root.join("run"),
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("isartor.toml")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.runtime_dir.join("isartor.pid")
    }

    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join("isartor.log")
    }

    /// The control socket (`isartor top`, `stats`).
    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("isartor.sock")
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.data_dir.join("isartor-ca.pem")
    }

    pub fn ca_key(&self) -> PathBuf {
        self.data_dir.join("isartor-ca-key.pem")
    }

    /// Creates a directory (and parents) with owner-only permissions.
    pub fn ensure_private_dir(dir: &Path) -> Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory (so a reader never sees
/// half a file) with permissions `mode`. A symlink (a dotfile manager's) stays a symlink: its
/// target is what gets replaced.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let resolved = std::fs::canonicalize(path);
    let path = resolved.as_deref().unwrap_or(path);
    let dir = path.parent().context("a file path has a parent")?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".isartor-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
