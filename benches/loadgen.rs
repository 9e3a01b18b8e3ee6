//! A constant-rate (open-loop) HTTP load generator, wrk2-style: request `i` is due at
//! `start + i / rate` whatever happened before it, and a request sent late because its
//! connection was still waiting for an answer counts its latency from the due time, so a stall
//! shows up as the queue it causes instead of hiding (coordinated omission).
//! `connections` kept-alive HTTP/1.1 connections share the schedule round-robin.
//!
//! Run: `cargo bench --bench loadgen -- URL RATE SECONDS [BODY_FILE] [CONNECTIONS=16]`
//! (POST with BODY_FILE as a JSON body, else GET; `{n}` in the body becomes the request's number,
//! so every request can be a new prompt). Prints one line: achieved rate, p50, p90, p99,
//! p99.9 and max in microseconds, and errors. Without arguments (as in a plain `cargo bench`) it
//! only says how to use it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

struct Plan {
    url: hyper::Uri,
    rate: f64,
    duration: Duration,
    body: Option<Bytes>,
    connections: usize,
}

fn plan() -> Option<Plan> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let url = args.first()?.parse().ok()?;
    let rate: f64 = args.get(1)?.parse().ok()?;
    let secs: f64 = args.get(2)?.parse().ok()?;
    let body = match args.get(3).map(String::as_str) {
        None | Some("-") => None,
        Some(path) => Some(Bytes::from(std::fs::read(path).ok()?)),
    };
    let connections = args.get(4).and_then(|c| c.parse().ok()).unwrap_or(16);
    Some(Plan {
        url,
        rate,
        duration: Duration::from_secs_f64(secs),
        body,
        connections,
    })
}

/// `body` with each `{n}` replaced by `n` (the body itself when it has none).
fn numbered(body: &Bytes, n: u64) -> Bytes {
    match std::str::from_utf8(body) {
        Ok(text) if text.contains("{n}") => Bytes::from(text.replace("{n}", &n.to_string())),
        _ => body.clone(),
    }
}

#[derive(Default)]
struct Tally {
    histogram: Option<Histogram<u64>>,
    errors: u64,
    done: u64,
}

async fn worker(plan: Arc<Plan>, index: usize, start: Instant, tally: Arc<Mutex<Tally>>) {
    let authority = plan
        .url
        .authority()
        .expect("URL has a host")
        .as_str()
        .to_string();
    let stream = TcpStream::connect(&authority).await.expect("connects");
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1 handshake");
    tokio::spawn(conn);
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let (mut errors, mut done) = (0, 0);
    let total = (plan.rate * plan.duration.as_secs_f64()) as u64;
    let mut i = index as u64;
    while i < total {
        let due = start + Duration::from_secs_f64(i as f64 / plan.rate);
        // Behind schedule (the previous answer came late): the wait counts from the due time.
        // On time: from when the timer fired, since tokio's timer wakes up to a millisecond late
        // and that lateness is ours, not the server's.
        let from = if Instant::now() >= due {
            due
        } else {
            tokio::time::sleep_until(due.into()).await;
            Instant::now()
        };
        let mut request = Request::builder()
            .uri(plan.url.path_and_query().map_or("/", |p| p.as_str()))
            .header("host", &authority);
        let body = match &plan.body {
            Some(b) => {
                request = request
                    .method("POST")
                    .header("content-type", "application/json");
                numbered(b, i)
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(body)).unwrap();
        let ok = match sender.send_request(request).await {
            Ok(response) => {
                let success = response.status().is_success();
                response.into_body().collect().await.is_ok() && success
            }
            Err(_) => false,
        };
        let micros = from.elapsed().as_micros() as u64;
        histogram.saturating_record(micros.max(1));
        done += 1;
        if !ok {
            errors += 1;
        }
        i += plan.connections as u64;
    }
    let mut t = tally.lock().await;
    match &mut t.histogram {
        Some(h) => h.add(&histogram).unwrap(),
        None => t.histogram = Some(histogram),
    }
    t.errors += errors;
    t.done += done;
}

fn main() {
    let Some(plan) = plan() else {
        println!(
            "loadgen: constant-rate load; run `cargo bench --bench loadgen -- URL RATE SECONDS [BODY_FILE] [CONNECTIONS]`"
        );
        return;
    };
    let plan = Arc::new(plan);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    runtime.block_on(async {
        // Connections first, then the clock starts.
        let start = Instant::now() + Duration::from_millis(200);
        let workers: Vec<_> = (0..plan.connections)
            .map(|i| tokio::spawn(worker(plan.clone(), i, start, tally.clone())))
            .collect();
        for w in workers {
            w.await.unwrap();
        }
    });
    let elapsed = started.elapsed().as_secs_f64() - 0.2;
    let t = runtime.block_on(tally.lock());
    let h = t.histogram.as_ref().unwrap();
    println!(
        "rate {:.0} req/s  p50 {} us  p90 {} us  p99 {} us  p99.9 {} us  max {} us  errors {}",
        t.done as f64 / elapsed,
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
        t.errors
    );
}
