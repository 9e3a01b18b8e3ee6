//! The real `isartor` binary: `up --detach` / `status` / `stop`, stale pid files, a second `up`,
//! configuration errors, and a graceful drain of in-flight requests on `stop`.
//! Each test runs in its own HOME, so pid files and logs never collide.

use crate::common;

use std::path::PathBuf;
use std::process::{Output, Stdio};

use common::*;
use serde_json::{Value, json};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_isartor");

/// A HOME of its own; stops (by pid, from its own pid file) any daemon it started when dropped.
struct Home {
    dir: tempfile::TempDir,
    upstream: String,
}

impl Home {
    fn new(mock: &Mock) -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
            upstream: mock.url(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("RUST_LOG", "info")
            .env("ISARTOR__HOST_PORT", "127.0.0.1:0")
            .env("ISARTOR__PROXY_PORT", "127.0.0.1:0")
            .env("ISARTOR__EXTERNAL_LLM_URL", &self.upstream)
            .env("ISARTOR__EXTERNAL_LLM_API_KEY", "sk-upstream")
            // The model cache of the machine (filled by scripts/fetch-models.sh), so the daemon
            // never tries the Hub from a test.
            .env(
                "ISARTOR_HF_CACHE_DIR",
                isartor::inference::models::hub_cache_dir(),
            )
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().await.expect("isartor runs")
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.path().join(".local/share/isartor/run/isartor.pid")
    }

    /// Waits (bounded) until a daemon started in the foreground is healthy; returns its address.
    async fn healthy_addr(&self) -> String {
        let wait = async {
            loop {
                let (_, v) = self.status().await;
                if v["healthy"] == json!(true) {
                    return v["addr"].as_str().unwrap().to_string();
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), wait)
            .await
            .expect("the daemon became healthy")
    }

    async fn status(&self) -> (i32, Value) {
        let out = self.run(&["status", "--json"]).await;
        let v = serde_json::from_slice(&out.stdout).expect("status --json prints JSON");
        (out.status.code().unwrap(), v)
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let pid_file = self.pid_file();
        if let Ok(text) = std::fs::read_to_string(&pid_file)
            && let Ok(info) = serde_json::from_str::<Value>(&text)
            && let Some(pid) = info["pid"].as_i64()
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// The first file named `name` under `dir`.
fn find(dir: &std::path::Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find(&path, name)
        {
            return Some(found);
        }
    }
    None
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detach_status_stop_round_trip() {
    let mock = Mock::start().await;
    let home = Home::new(&mock);
    let (code, v) = home.status().await;
    assert_eq!((code, &v["running"]), (3, &json!(false)));
    let usage = home.run(&["usage"]).await;
    assert!(usage.status.success());
    assert!(text(&usage.stdout).contains("no usage recorded yet"));

    let up = home.run(&["up", "--detach"]).await;
    assert!(up.status.success(), "up --detach: {}", text(&up.stderr));
    let said = text(&up.stdout);
    assert!(said.contains("started in the background"), "{said}");

    let (code, v) = home.status().await;
    assert_eq!(code, 0);
    assert_eq!((&v["running"], &v["healthy"]), (&json!(true), &json!(true)));
    let addr = v["addr"].as_str().unwrap().to_string();
    let pid = v["pid"].as_u64().unwrap();
    assert!(
        said.contains(&format!("(pid {pid}) on http://{addr}")),
        "{said}"
    );
    let human = text(&home.run(&["status"]).await.stdout);
    assert!(
        human.contains("isartor is running") && human.contains(&addr),
        "{human}"
    );

    let base = format!("http://{addr}");
    let (_, h, _) = post(
        &base,
        "/v1/chat/completions",
        &chat("via the detached daemon"),
    )
    .await;
    assert_eq!(layer(&h), "l3");
    let (_, h, _) = post(
        &base,
        "/v1/chat/completions",
        &chat("via the detached daemon"),
    )
    .await;
    assert_eq!(layer(&h), "l1a");

    // `stats` reads the live numbers over the control socket.
    let stats = home.run(&["stats", "--json"]).await;
    assert!(stats.status.success(), "{}", text(&stats.stderr));
    let snap: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(
        (&snap["requests"], &snap["deflected"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(snap["layers"]["l1a"]["requests"], 1);
    let report = text(&home.run(&["stats"]).await.stdout);
    assert!(report.contains("deflected: 1 (50.0%)"), "{report}");
    assert!(report.contains(&format!("on http://{addr}")), "{report}");

    // A daemon whose control socket was removed (a temp cleaner) is still found, and the
    // message says how to get a new socket.
    let socket = find(home.dir.path(), "isartor.sock").expect("the control socket exists");
    let kept = socket.with_extension("kept");
    std::fs::rename(&socket, &kept).unwrap();
    let stats = home.run(&["stats"]).await;
    assert!(!stats.status.success());
    let said = text(&stats.stderr);
    assert!(
        said.contains(&format!("isartor is running (pid {pid})"))
            && said.contains("isartor stop && isartor up --detach"),
        "{said}"
    );
    std::fs::rename(&kept, &socket).unwrap();

    let stop = home.run(&["stop"]).await;
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    assert!(text(&stop.stdout).contains(&format!("stopped (pid {pid})")));
    assert!(!home.pid_file().exists());
    // "stopped" means the process has exited (gone, or a zombie its parent has not reaped).
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = state
        .rsplit_once(')')
        .map(|(_, r)| r.trim_start().chars().next());
    assert!(
        matches!(state, None | Some(Some('Z'))),
        "pid {pid} still runs after stop returned: {state:?}"
    );
    let (code, v) = home.status().await;
    assert_eq!((code, &v["running"]), (3, &json!(false)));
    assert!(
        client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err(),
        "port closed"
    );
    // The log file got the request lines, without the prompt.
    let log =
        std::fs::read_to_string(home.dir.path().join(".local/share/isartor/isartor.log")).unwrap();
    assert!(
        log.contains("isartor.final_layer=\"L1a_ExactCache\""),
        "{log}"
    );
    assert!(!log.contains("via the detached daemon"));
    assert!(
        log.contains("stop requested over the control socket"),
        "{log}"
    );
    // The stopped daemon left its history: `usage` reads it without a daemon.
    let usage = home.run(&["usage", "--json", "--by", "client"]).await;
    assert!(usage.status.success(), "{}", text(&usage.stderr));
    let usage: Value = serde_json::from_slice(&usage.stdout).unwrap();
    assert_eq!(
        (&usage["total"]["requests"], &usage["total"]["deflected"]),
        (&json!(2), &json!(1)),
        "{usage}"
    );
    assert_eq!(usage["rows"][0]["key"], "unknown", "{usage}");
    let bad = home.run(&["usage", "--since", "yesterday"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("expected a number and m, h, d or w"));
    // Stopping again is harmless.
    let again = home.run(&["stop"]).await;
    assert!(again.status.success());
    assert!(text(&again.stdout).contains("not running"));
    let stats = home.run(&["stats"]).await;
    assert_eq!(stats.status.code(), Some(3));
    assert!(text(&stats.stdout).contains("not running"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_pid_file_is_cleaned_and_never_blocks_up() {
    let mock = Mock::start().await;
    let home = Home::new(&mock);
    let stale =
        json!({"pid": 4_000_000, "addr": "127.0.0.1:9", "started_at": 1, "version": "0.0.0"});
    std::fs::create_dir_all(home.pid_file().parent().unwrap()).unwrap();
    std::fs::write(home.pid_file(), stale.to_string()).unwrap();
    let out = home.run(&["status"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stdout).contains("stale pid file left by pid 4000000"),
        "{}",
        text(&out.stdout)
    );
    assert!(!home.pid_file().exists());

    std::fs::write(home.pid_file(), stale.to_string()).unwrap();
    let up = home.run(&["up", "--detach"]).await;
    assert!(up.status.success(), "{}", text(&up.stderr));
    let (code, _) = home.status().await;
    assert_eq!(code, 0);
    assert!(home.run(&["stop"]).await.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_up_fails_with_a_clear_message() {
    let mock = Mock::start().await;
    let home = Home::new(&mock);
    assert!(home.run(&["up", "--detach"]).await.status.success());
    let (_, v) = home.status().await;
    let (pid, addr) = (
        v["pid"].as_u64().unwrap(),
        v["addr"].as_str().unwrap().to_string(),
    );

    for args in [&["up", "--detach"][..], &["up"][..]] {
        let again = home.run(args).await;
        assert!(!again.status.success());
        let err = text(&again.stderr);
        assert!(
            err.contains(&format!("already running (pid {pid}")),
            "{args:?}: {err}"
        );
    }
    // Another user (HOME) on the same port.
    let other = Home::new(&mock);
    let out = other
        .cmd(&["up"])
        .env("ISARTOR__HOST_PORT", &addr)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{addr} is already in use")), "{err}");
    // The first daemon is unharmed.
    let (code, v) = home.status().await;
    assert_eq!((code, &v["healthy"]), (0, &json!(true)));
    assert!(home.run(&["stop"]).await.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_fail_fast_and_lookalikes_warn() {
    let mock = Mock::start().await;
    let home = Home::new(&mock);
    let out = home
        .cmd(&["up"])
        .env("ISARTOR__CACHE_MODE", "fuzzy")
        .env("ISARTOR_CACHE_TTL_SECS", "5")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    for needle in ["ISARTOR__CACHE_MODE", "fuzzy", "exact", "semantic", "both"] {
        assert!(err.contains(needle), "{needle} missing from {err}");
    }
    assert!(
        err.contains("did you mean ISARTOR__CACHE_TTL_SECS"),
        "{err}"
    );

    let missing = home.run(&["--config", "/no/such/isartor.toml", "up"]).await;
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("/no/such/isartor.toml does not exist"));

    // A config file in the XDG location is read.
    let cfg = home.dir.path().join(".config/isartor");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("isartor.toml"), "cache_ttl_secs = -3\n").unwrap();
    let bad = home.run(&["up"]).await;
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("cache_ttl_secs"),
        "{}",
        text(&bad.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_drains_in_flight_requests() {
    let mock = Mock::start().await;
    mock.set(Mode::StreamHeld);
    let home = Home::new(&mock);
    let mut daemon = home
        .cmd(&["up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = std::time::Duration::from_secs(30);
    let addr = home.healthy_addr().await;

    let (res, got) = stream_until(&format!("http://{addr}"), "a long answer", "first ").await;

    let stop = home.cmd(&["stop"]).spawn().unwrap();
    // Once the daemon has taken the signal it stops accepting: wait for that, then let the
    // upstream finish. The in-flight stream must still complete.
    tokio::time::timeout(guard, async {
        while tokio::net::TcpStream::connect(&addr).await.is_ok() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("listener closed after SIGTERM");
    mock.release();
    let got = read_rest(res, got).await;
    let (answer, done) = sse_text(&bytes::Bytes::from(got));
    assert_eq!((answer.as_str(), done), ("first second", true));

    let stopped = stop.wait_with_output().await.unwrap();
    assert!(stopped.status.success());
    let exit = daemon.wait().await.unwrap();
    assert!(exit.success(), "daemon exit: {exit}");
    assert!(!home.pid_file().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_final_layer() {
    let mock = Mock::start().await;
    let home = Home::new(&mock);
    let daemon = home
        .cmd(&["up"])
        .env("ISARTOR__LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://{}", home.healthy_addr().await);
    for expected in ["l3", "l1a"] {
        let (_, h, _) = post(&base, "/v1/chat/completions", &chat("a json log line")).await;
        assert_eq!(layer(&h), expected);
    }
    assert!(home.run(&["stop"]).await.status.success());
    let out = daemon.wait_with_output().await.unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = text(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let layers: Vec<&str> = lines
        .iter()
        .filter(|l| l["message"] == "request")
        .map(|l| {
            l["isartor.final_layer"]
                .as_str()
                .expect("a top-level field")
        })
        .collect();
    assert_eq!(layers, ["L3_Cloud", "L1a_ExactCache"]);
    assert!(lines.iter().any(|l| l["message"] == "stopped"));
    assert!(
        !text(&out.stderr).contains("a json log line"),
        "no prompts in logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_force_kills_and_cleans_the_pid_file() {
    let mock = Mock::start().await;
    let home = Home::new(&mock);
    assert!(home.run(&["up", "--detach"]).await.status.success());
    let (_, v) = home.status().await;
    let pid = v["pid"].as_u64().unwrap();
    let stop = home.run(&["stop", "--force"]).await;
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    assert!(text(&stop.stdout).contains(&format!("stopped (pid {pid})")));
    // SIGKILL leaves the daemon no chance to remove its pid file: stop cleans it.
    assert!(!home.pid_file().exists());
    let (code, v) = home.status().await;
    assert_eq!((code, &v["running"]), (3, &json!(false)));
}

/// Runs `tmux` with a socket of this test's own, so sessions never touch the user's server.
fn tmux(home: &Home, args: &[&str]) -> std::process::Output {
    let socket = home.dir.path().join("tmux.sock");
    std::process::Command::new("tmux")
        .arg("-S")
        .arg(&socket)
        .args(args)
        .output()
        .expect("tmux is installed (.ci/run installs it)")
}

/// The `top` pane once it shows `needle` (within 20 s).
async fn pane_showing(home: &Home, needle: &str) -> String {
    let wait = async {
        loop {
            let pane = text(&tmux(home, &["capture-pane", "-t", "top", "-p"]).stdout);
            if pane.contains(needle) {
                return pane;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("top never showed {needle:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_shows_live_numbers_in_a_real_terminal_and_quits_on_q() {
    let mock = Mock::start().await;
    let home = Home::new(&mock);
    assert!(home.run(&["up", "--detach"]).await.status.success());
    let (_, v) = home.status().await;
    let base = format!("http://{}", v["addr"].as_str().unwrap());
    for _ in 0..3 {
        post(
            &base,
            "/v1/chat/completions",
            &chat("what does git add -p do"),
        )
        .await;
    }
    let command = format!("HOME={} {BIN} top", home.dir.path().display());
    let started = tmux(
        &home,
        &[
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "110",
            "-y",
            "32",
            &command,
        ],
    );
    assert!(started.status.success(), "{}", text(&started.stderr));
    let screen = pane_showing(&home, "(2 of 3)").await;
    assert!(screen.contains("66.7%"), "{screen}");
    assert!(screen.contains("what does git add -p do"), "{screen}");
    let l1a = screen
        .lines()
        .find(|l| l.contains("│l1a"))
        .expect("an l1a row");
    assert!(l1a.contains(" 2 "), "{l1a}");
    // `w` swaps the recent requests for why the last miss missed (the first request).
    tmux(&home, &["send-keys", "-t", "top", "w"]);
    let why = pane_showing(&home, "no recent request still cached resembles it").await;
    assert!(why.contains("why the last miss missed"), "{why}");
    tmux(&home, &["send-keys", "-t", "top", "q"]);
    let gone = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while tmux(&home, &["has-session", "-t", "top"]).status.success() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    if gone.is_err() {
        tmux(&home, &["kill-server"]);
        panic!("top did not quit on q");
    }
    assert!(home.run(&["stop"]).await.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_completion_loads_and_completes_subcommands() {
    let mock = Mock::start().await;
    let home = Home::new(&mock);
    let out = home.run(&["completions", "bash"]).await;
    assert!(out.status.success());
    let script = home.dir.path().join("isartor.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // Source it in a real bash and ask the completion function for `isartor s<TAB>`.
    let probe = format!(
        "source {}; COMP_WORDS=(isartor s); COMP_CWORD=1; _isartor isartor s isartor; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let bash = Command::new("bash")
        .args(["-c", &probe])
        .output()
        .await
        .unwrap();
    assert!(bash.status.success(), "{}", text(&bash.stderr));
    let mut offered: Vec<String> = text(&bash.stdout).lines().map(str::to_string).collect();
    offered.sort();
    assert_eq!(offered, ["stats", "status", "stop"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_commands_explain_a_miss_and_carry_a_cache_to_another_start() {
    let mock = Mock::start().await;
    let home = Home::new(&mock);
    // The exact cache alone: the semantic one would load while the requests arrive.
    let up = home
        .cmd(&["up", "--detach"])
        .env("ISARTOR__CACHE_MODE", "exact")
        .output()
        .await
        .unwrap();
    assert!(up.status.success(), "up --detach: {}", text(&up.stderr));
    let base = format!("http://{}", home.healthy_addr().await);
    let run = |id: &str| {
        json!({"model": "gpt-4o-mini", "messages": [
            {"role": "system", "content": format!("You are a coding agent.\nRun id: {id}\nBe brief.")},
            {"role": "user", "content": "list the files"}]})
    };
    for id in ["7f3a1", "9c2e4"] {
        let (_, h, _) = post(&base, "/v1/chat/completions", &run(id)).await;
        assert_eq!(layer(&h), "l3");
    }

    let why = home.run(&["cache", "why", "--last"]).await;
    assert!(why.status.success(), "{}", text(&why.stderr));
    let said = text(&why.stdout);
    assert!(
        said.contains("system prompt:")
            && said.contains("- Run id: 7f3a1")
            && said.contains("+ Run id: 9c2e4"),
        "{said}"
    );
    let ls = text(&home.run(&["cache", "ls"]).await.stdout);
    assert_eq!(ls.matches("list the files").count(), 2, "{ls}");
    assert!(ls.contains("exact") && ls.contains("L3"), "{ls}");

    let file = home.dir.path().join("warm.jsonl");
    let export = home.run(&["cache", "export", file.to_str().unwrap()]).await;
    assert!(
        text(&export.stdout).contains("exported 2 entries"),
        "{}",
        text(&export.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let cleared = home.run(&["cache", "clear"]).await;
    assert!(
        text(&cleared.stdout).contains("cleared 2 exact"),
        "{}",
        text(&cleared.stdout)
    );
    let import = home.run(&["cache", "import", file.to_str().unwrap()]).await;
    assert!(
        text(&import.stdout).contains("imported 2 entries"),
        "{}",
        text(&import.stderr)
    );
    let (_, h, _) = post(&base, "/v1/chat/completions", &run("9c2e4")).await;
    assert_eq!(layer(&h), "l1a", "served from the imported entry");
    assert_eq!(mock.count(), 2);

    let forgot = home.run(&["cache", "forget", "--last"]).await;
    assert!(forgot.status.success());
    assert!(text(&forgot.stdout).contains("forgot 1 exact"));
    let nothing = home.run(&["cache", "forget", "abcdef12"]).await;
    assert_eq!(nothing.status.code(), Some(1), "nothing was forgotten");
    assert!(home.run(&["stop"]).await.status.success());
}
