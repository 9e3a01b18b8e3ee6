//! `isartor update` for real: a copy of the built binary updates itself from a mock release API
//! on loopback (tag JSON with asset URLs, a tar.gz archive, SHA256SUMS). Upgrade; bad checksum
//! refused with the old binary untouched; a new binary that does not run is rolled back;
//! already-latest and `--check`; an unreachable API.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use bytes::Bytes;
use common::serve;
use http_body_util::Full;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_isartor");

/// A release API serving one release `tag` whose binary is `script`; `corrupt` spoils SHA256SUMS.
async fn release_server(tag: &str, script: &str, corrupt: bool) -> SocketAddr {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("isartor");
    std::fs::write(&bin, script).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let name = format!("isartor-{tag}-{}.tar.gz", isartor::update::target());
    let archive = dir.path().join(&name);
    let made = std::process::Command::new("tar")
        .arg("czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .arg("isartor")
        .status()
        .unwrap();
    assert!(made.success());
    let bytes = Bytes::from(std::fs::read(&archive).unwrap());
    let mut digest = hex::encode(Sha256::digest(&bytes));
    if corrupt {
        digest = digest.replace(&digest[..4], "0000");
    }
    let sums = Bytes::from(format!("{digest}  {name}\n"));
    // Asset URLs name the server's own address, known once it listens.
    let here = Arc::new(std::sync::OnceLock::<SocketAddr>::new());
    let at = here.clone();
    let tag = tag.to_string();
    let addr = serve(move |path, _| {
        let _keep = &dir;
        let addr = at.get().expect("the address is set before any request");
        let (status, body) = if path == "/repos/isartor-dev/isartor/releases/latest"
            || path == format!("/repos/isartor-dev/isartor/releases/tags/{tag}")
        {
            let release = json!({"tag_name": tag, "assets": [
                {"name": name, "browser_download_url": format!("http://{addr}/dl/{name}")},
                {"name": "SHA256SUMS", "browser_download_url": format!("http://{addr}/dl/SHA256SUMS")}]});
            (200, Bytes::from(release.to_string()))
        } else if path.ends_with(".tar.gz") {
            (200, bytes.clone())
        } else if path.ends_with("SHA256SUMS") {
            (200, sums.clone())
        } else {
            (404, Bytes::from_static(b"{\"message\":\"Not Found\"}"))
        };
        let mut r = hyper::Response::new(Full::new(body));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        std::future::ready(r)
    })
    .await;
    here.set(addr).unwrap();
    addr
}

/// A copy of the real binary in a directory of its own, to be updated.
fn installed() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("isartor");
    std::fs::copy(BIN, &exe).unwrap();
    (dir, exe)
}

/// Runs a freshly written executable. Another test's fork can briefly hold the file's write
/// descriptor (until its exec), which makes exec fail with ETXTBSY: retry that, nothing else.
async fn exec(make: impl Fn() -> Command) -> Output {
    for _ in 0..50 {
        match make().output().await {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            other => return other.unwrap(),
        }
    }
    panic!("the executable stayed busy")
}

async fn update(exe: &Path, api: &str, args: &[&str]) -> Output {
    update_with(exe, api, args, &[]).await
}

async fn update_with(exe: &Path, api: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = exe.parent().unwrap().join("home");
    exec(|| {
        let mut c = Command::new(exe);
        c.arg("update")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("ISARTOR__UPDATE__API_BASE", api)
            .envs(env.iter().copied());
        c
    })
    .await
}

async fn version(exe: &Path) -> String {
    let out = exec(|| {
        let mut c = Command::new(exe);
        c.arg("--version");
        c
    })
    .await;
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_checks_and_refuses_a_bad_checksum() {
    let current = format!("isartor {}", isartor::cli::VERSION);
    let newer = release_server("v9.9.9", "#!/bin/sh\necho isartor 9.9.9\n", false).await;
    let (_dir, exe) = installed();
    let api = format!("http://{newer}");

    let check = update(&exe, &api, &["--check"]).await;
    assert_eq!(check.status.code(), Some(10), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("latest: v9.9.9"));
    let dry = update(&exe, &api, &["--dry-run"]).await;
    assert!(dry.status.success());
    assert!(text(&dry.stdout).contains("would download"));
    assert_eq!(version(&exe).await, current);
    let no_tty = update(&exe, &api, &[]).await;
    assert!(!no_tty.status.success());
    assert!(text(&no_tty.stderr).contains("add --yes"));

    let bad = release_server("v9.9.9", "#!/bin/sh\necho isartor 9.9.9\n", true).await;
    let refused = update(&exe, &format!("http://{bad}"), &["--yes"]).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("checksum mismatch"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(version(&exe).await, current, "the old binary is untouched");

    let done = update(&exe, &api, &["--yes"]).await;
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(
        text(&done.stdout).contains("to isartor 9.9.9"),
        "{}",
        text(&done.stdout)
    );
    assert_eq!(version(&exe).await, "isartor 9.9.9");
    let left: Vec<String> = std::fs::read_dir(exe.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "home")
        .collect();
    assert_eq!(left, ["isartor"], "no backup or staging left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_that_does_not_run_is_rolled_back() {
    let broken = release_server("v9.9.9", "#!/bin/sh\nexit 3\n", false).await;
    let (_dir, exe) = installed();
    let out = update(&exe, &format!("http://{broken}"), &["--yes"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("the old one is back in place"));
    assert_eq!(
        version(&exe).await,
        format!("isartor {}", isartor::cli::VERSION)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn already_latest_and_an_unreachable_api() {
    let tag = format!("v{}", env!("CARGO_PKG_VERSION"));
    let same = release_server(&tag, "#!/bin/sh\necho never\n", false).await;
    let (_dir, exe) = installed();
    let out = update(&exe, &format!("http://{same}"), &["--yes"]).await;
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("is the latest release"));
    let check = update(&exe, &format!("http://{same}"), &["--check"]).await;
    assert_eq!(check.status.code(), Some(0));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = update(&exe, &nowhere, &["--check"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot reach the release API"),
        "{}",
        text(&out.stderr)
    );
}

/// A shell that sourced `isartor connect`'s env file still points HTTPS_PROXY at our own proxy
/// after the daemon stopped: our own calls must not go through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_loopback_proxy_in_the_environment_is_ignored() {
    let tag = format!("v{}", env!("CARGO_PKG_VERSION"));
    let same = release_server(&tag, "#!/bin/sh\necho never\n", false).await;
    let (_dir, exe) = installed();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stale = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let proxies = [
        ("HTTPS_PROXY", stale.as_str()),
        ("HTTP_PROXY", stale.as_str()),
        ("ALL_PROXY", stale.as_str()),
    ];
    let check = update_with(&exe, &format!("http://{same}"), &["--check"], &proxies).await;
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(
        text(&check.stdout).contains("latest"),
        "{}",
        text(&check.stdout)
    );
}
