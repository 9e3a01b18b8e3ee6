//! The pid file: JSON `{pid, addr, started_at, version}`, held under an exclusive `flock` for the
//! daemon's whole life. The lock — not the pid — decides whether a daemon runs: the kernel drops
//! it when the process dies, so a stale file (crash, SIGKILL) is always recognised and cleaned,
//! and a recycled pid can never be mistaken for us.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::paths::Paths;

/// What a running daemon records about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidInfo {
    pub pid: u32,
    pub addr: String,
    /// The CONNECT proxy's address, when it runs.
    #[serde(default)]
    pub proxy_addr: Option<String>,
    /// Unix seconds.
    pub started_at: u64,
    pub version: String,
}

/// The state of the pid file.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    NotRunning,
    /// A file was left by a daemon that is gone; it has been removed.
    Stale(Option<PidInfo>),
    /// A daemon holds the lock; `None` while it is still starting up.
    Running(Option<PidInfo>),
}

/// The daemon's hold on the pid file; removes the file when dropped.
pub struct PidLock {
    file: Flock<File>,
    path: PathBuf,
}

fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        Paths::ensure_private_dir(dir)?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open pid file {}", path.display()))
}

fn read_info(file: &mut File) -> Option<PidInfo> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// How long `acquire` retries a lock that a passing `probe` (from `status`/`stop`) may hold.
const ACQUIRE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(300);

/// Takes the lock, or says who holds it.
pub fn acquire(path: &Path) -> Result<PidLock> {
    let deadline = std::time::Instant::now() + ACQUIRE_PATIENCE;
    loop {
        let file = open(path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(file) => {
                // A concurrent probe may have removed the path between our open and our lock:
                // then we hold an orphaned inode, so start again on the new path.
                if same_file(path, &file) {
                    return Ok(PidLock {
                        file,
                        path: path.to_path_buf(),
                    });
                }
            }
            Err((mut file, Errno::EWOULDBLOCK)) => {
                if std::time::Instant::now() >= deadline {
                    return Err(match read_info(&mut file) {
                        Some(info) => anyhow::anyhow!(
                            "isartor is already running (pid {}, http://{}); `isartor stop` stops it",
                            info.pid,
                            info.addr
                        ),
                        None => anyhow::anyhow!(
                            "isartor is already starting (pid file {} is locked)",
                            path.display()
                        ),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err((_, e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
}

fn same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Reads the pid file without locking it (for a parent waiting on the daemon it started).
pub fn read(path: &Path) -> Option<PidInfo> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

impl PidLock {
    /// Records the running daemon.
    pub fn write(&mut self, info: &PidInfo) -> Result<()> {
        let text = serde_json::to_string(info)?;
        let file: &mut File = &mut self.file;
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        Ok(())
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // Remove while still holding the lock, so nobody sees a file with no owner.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Looks at the pid file without disturbing a running daemon; cleans a stale one.
pub fn probe(path: &Path) -> Result<Probe> {
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Probe::NotRunning),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut held) => {
            let info = read_info(&mut held);
            let _ = std::fs::remove_file(path);
            Ok(Probe::Stale(info))
        }
        Err((mut file, Errno::EWOULDBLOCK)) => Ok(Probe::Running(read_info(&mut file))),
        Err((_, e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PidInfo {
        PidInfo {
            pid: 42,
            addr: "127.0.0.1:1".into(),
            proxy_addr: None,
            started_at: 1,
            version: "0".into(),
        }
    }

    #[test]
    fn lock_blocks_a_second_daemon_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/isartor.pid");
        assert_eq!(probe(&path).unwrap(), Probe::NotRunning);
        let mut lock = acquire(&path).unwrap();
        assert_eq!(probe(&path).unwrap(), Probe::Running(None));
        lock.write(&info()).unwrap();
        assert_eq!(probe(&path).unwrap(), Probe::Running(Some(info())));
        let second = acquire(&path).err().unwrap().to_string();
        assert!(second.contains("already running (pid 42"), "{second}");
        drop(lock);
        assert!(!path.exists());
        assert_eq!(probe(&path).unwrap(), Probe::NotRunning);
    }

    #[test]
    fn a_file_nobody_holds_is_stale_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isartor.pid");
        std::fs::write(&path, serde_json::to_string(&info()).unwrap()).unwrap();
        assert_eq!(probe(&path).unwrap(), Probe::Stale(Some(info())));
        assert!(!path.exists());
        // And a stale file never blocks a new daemon.
        std::fs::write(&path, "garbage").unwrap();
        assert!(acquire(&path).is_ok());
    }
}
