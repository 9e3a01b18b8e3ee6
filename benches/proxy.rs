//! The CONNECT proxy's costs: minting a leaf certificate (and building its TLS configuration), and
//! one request over a kept-alive connection direct to the mock upstream against the same request
//! through the proxy (TLS to the proxy with a warm leaf cache): a forwarded call, an inference call
//! answered by L1a, and, for reference, the same L1a hit through the gateway.
//! Run: `cargo bench --bench proxy`.

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use isartor::paths::Paths;
use isartor::proxy::ca::LocalCa;
use serde_json::json;

fn mint(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut g = c.benchmark_group("proxy/leaf");
    g.bench_function("mint certificate", |b| {
        b.iter(|| ca.mint("api.openai.com").unwrap())
    });
    let n = AtomicU64::new(0);
    g.bench_function("first connection to a new host (mint + TLS config)", |b| {
        b.to_async(&rt).iter(|| {
            let host = format!("h{}.example.com", n.fetch_add(1, Ordering::Relaxed));
            let ca = &ca;
            async move { ca.server_config(&host).await }
        })
    });
    g.bench_function("cached leaf", |b| {
        b.to_async(&rt)
            .iter(|| async { ca.server_config("api.openai.com").await })
    });
    g.finish();
}

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    let (mock, daemon, base) = rt.block_on(async {
        let mock = common::Mock::start().await;
        let upstream = format!("http://{}", mock.addr);
        let (daemon, base) = common::daemon_in(&mock, &paths, |c| {
            c.proxy.enabled = true;
            c.proxy_port = "127.0.0.1:0".into();
            c.proxy.upstream_overrides = vec![format!("api.openai.com={upstream}")];
            c.log_format = isartor::config::LogFormat::Text;
        })
        .await;
        (mock, daemon, base)
    });
    let proxy = format!("http://{}", daemon.proxy_addr().unwrap());
    let ca = std::fs::read(paths.data_dir.join("isartor-ca.pem")).unwrap();
    let direct = reqwest::Client::builder().no_proxy().build().unwrap();
    let proxied = reqwest::Client::builder()
        .proxy(reqwest::Proxy::https(&proxy).unwrap())
        .tls_certs_merge([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let chat = json!({"model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "How do I undo the last git commit?"}]})
    .to_string();
    let upstream = format!("http://{}", mock.addr);
    let send = |client: &reqwest::Client, url: String| {
        let request = client
            .post(url)
            .header("authorization", "Bearer sk-bench")
            .header("content-type", "application/json")
            .body(chat.clone());
        async move {
            let r = request.send().await.unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap()
        }
    };
    // Warm: the leaf, the pooled connections and the cache entry.
    rt.block_on(async {
        send(
            &proxied,
            "https://api.openai.com/v1/chat/completions".into(),
        )
        .await;
        send(&direct, format!("{base}/v1/chat/completions")).await;
    });

    let mut g = c.benchmark_group("proxy/request");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("direct to the mock", |b| {
        b.to_async(&rt)
            .iter(|| send(&direct, format!("{upstream}/v1/other")))
    });
    g.bench_function("through the proxy, forwarded to the mock", |b| {
        b.to_async(&rt)
            .iter(|| send(&proxied, "https://api.openai.com/v1/other".into()))
    });
    g.bench_function("through the proxy, L1a hit", |b| {
        b.to_async(&rt).iter(|| {
            send(
                &proxied,
                "https://api.openai.com/v1/chat/completions".into(),
            )
        })
    });
    g.bench_function("through the gateway, L1a hit", |b| {
        b.to_async(&rt)
            .iter(|| send(&direct, format!("{base}/v1/chat/completions")))
    });
    g.finish();
    rt.block_on(daemon.stop());
}

criterion_group!(benches, mint, requests);
criterion_main!(benches);
