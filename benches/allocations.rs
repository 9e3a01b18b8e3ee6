//! Heap allocations per request on the hot paths, counted by a global allocator: the real daemon
//! in-process (`cache_mode = exact`, request log lines on, usage history on), in front of a canned
//! upstream on loopback that answers from a fixed buffer, driven by a raw keep-alive HTTP/1.1
//! client that allocates nothing in its loop. Prints allocations and bytes per exact hit and per
//! pass-through miss (upstream and client included: they add nothing).
//!
//! Run: `cargo bench --bench allocations 2>/dev/null` (the daemon's log lines go to stderr).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's layout, as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: a block this allocator returned, with its layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, with the caller's new size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BODY: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Use git reset --soft HEAD~1."},"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":20,"total_tokens":50}}"#;

/// Reads one HTTP/1.1 message (head and a content-length body) into `buf`; false at EOF.
fn read_message(stream: &mut TcpStream, buf: &mut [u8]) -> bool {
    let mut filled = 0;
    loop {
        let head_end = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n");
        if let Some(end) = head_end {
            let head = &buf[..end];
            let length = head
                .split(|b| *b == b'\n')
                .find_map(|line| {
                    let line = std::str::from_utf8(line).ok()?.trim();
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            while filled < end + 4 + length {
                match stream.read(&mut buf[filled..]) {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => filled += n,
                }
            }
            return true;
        }
        match stream.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => filled += n,
        }
    }
}

/// The canned upstream: every request on every connection gets `BODY`.
fn upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reply: std::sync::Arc<[u8]> = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    )
    .into_bytes()
    .into();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let reply = reply.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = vec![0u8; 1 << 16];
                while read_message(&mut stream, &mut buf) {
                    if stream.write_all(&reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Sends `n` requests on one connection: the same prompt each time, or with `numbered_from` a
/// new one each (numbered from it, so every one is a miss). Returns the allocations and bytes
/// counted meanwhile.
fn drive(port: u16, n: u64, numbered_from: Option<u64>) -> (u64, u64) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut request = [0u8; 512];
    let mut response = vec![0u8; 1 << 16];
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    for i in 0..n {
        let number = numbered_from.map_or(0, |from| from + i);
        let body_len = {
            let mut body = &mut request[200..];
            let before = body.len();
            write!(
                body,
                "{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"How do I undo the last git commit but keep my changes? {number:>10}\"}}]}}"
            )
            .unwrap();
            before - body.len()
        };
        let mut head = &mut request[..200];
        let room = head.len();
        write!(
            head,
            "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {body_len:>5}\r\n\r\n"
        )
        .unwrap();
        let head_len = room - head.len();
        stream.write_all(&request[..head_len]).unwrap();
        stream.write_all(&request[200..200 + body_len]).unwrap();
        assert!(read_message(&mut stream, &mut response), "an answer");
    }
    (
        ALLOCS.load(Ordering::Relaxed) - a0,
        BYTES.load(Ordering::Relaxed) - b0,
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let _log = isartor::telemetry::logs::init(false);
    let up = upstream();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let daemon = runtime.block_on(async {
        let config = isartor::config::Config {
            host_port: "127.0.0.1:0".into(),
            cache_mode: isartor::config::CacheMode::Exact,
            external_llm_url: format!("http://127.0.0.1:{up}/v1"),
            external_llm_api_key: isartor::config::Secret("bench".into()),
            cache_max_capacity: 1_000_000,
            proxy: isartor::config::ProxyConfig {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        };
        isartor::daemon::start(config, &isartor::paths::Paths::under(dir.path()))
            .await
            .unwrap()
    });
    let port = daemon.addr().port();
    let n = 20_000;
    // Warm up: the entry, the connection pools, the lazily built statics.
    drive(port, 1000, None);
    drive(port, 1000, Some(1_000_000));
    let (hit_allocs, hit_bytes) = drive(port, n, None);
    let (miss_allocs, miss_bytes) = drive(port, n, Some(1));
    // The paths measured are the ones named: every hit an L1a hit, every miss an L3 call.
    let snap = daemon.bus().snapshot();
    let served = |layer: &str| snap.layers.get(layer).map_or(0, |l| l.requests);
    assert_eq!(served("l1a"), 999 + n, "hits");
    assert_eq!(served("l3"), 1 + 1000 + n, "misses");
    println!(
        "allocations per exact hit:         {:>6.1} ({:>7.0} bytes)",
        hit_allocs as f64 / n as f64,
        hit_bytes as f64 / n as f64
    );
    println!(
        "allocations per pass-through miss: {:>6.1} ({:>7.0} bytes)",
        miss_allocs as f64 / n as f64,
        miss_bytes as f64 / n as f64
    );
    runtime.block_on(daemon.stop());
}
