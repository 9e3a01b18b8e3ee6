//! The MITM CONNECT proxy with a real client (curl): an intercepted host's inference calls go
//! through the pipeline (second request from L1a) with the client's own credentials at its own
//! upstream (a mock behind `proxy.upstream_overrides`); other paths are forwarded untouched;
//! other hosts are tunnelled with their own certificate; both HTTP/1.1 and h2 work.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{Mock, daemon_in};
use isartor::daemon::Daemon;
use isartor::exchange::Surface;
use isartor::paths::Paths;
use isartor::telemetry::Layer;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

struct Proxied {
    daemon: Daemon,
    base: String,
    proxy: SocketAddr,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

/// The daemon with its proxy on a free port, `api.openai.com` and `api.anthropic.com` routed
/// to the mock.
async fn proxied(mock: &Mock) -> Proxied {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    let upstream = format!("http://{}", mock.addr);
    let (daemon, base) = daemon_in(mock, &paths, |c| {
        c.proxy.enabled = true;
        c.proxy_port = "127.0.0.1:0".into();
        c.proxy.upstream_overrides = vec![
            format!("api.openai.com={upstream}"),
            format!("api.anthropic.com={upstream}"),
            format!("cloudcode-pa.googleapis.com={upstream}"),
        ];
    })
    .await;
    let proxy = daemon.proxy_addr().expect("the proxy listens");
    Proxied {
        daemon,
        base,
        proxy,
        ca: paths.data_dir.join("isartor-ca.pem"),
        _dir: dir,
    }
}

/// What curl got.
#[derive(Debug)]
struct Got {
    status: u16,
    /// `1.1` or `2`.
    http_version: String,
    headers: String,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Runs curl through `proxy`, trusting `cacert`; `Err` carries curl's stderr.
async fn curl(proxy: SocketAddr, cacert: &Path, args: &[&str]) -> Result<Got, String> {
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("headers");
    let body = dir.path().join("body");
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "--noproxy", ""])
        .arg("--proxy")
        .arg(format!("http://{proxy}"))
        .arg("--cacert")
        .arg(cacert)
        .arg("-D")
        .arg(&headers)
        .arg("-o")
        .arg(&body)
        .args(["-w", "%{http_code} %{http_version}"])
        .args(args)
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .output()
        .await
        .expect("curl runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let w = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, version) = w.split_once(' ').unwrap();
    Ok(Got {
        status: status.parse().unwrap(),
        http_version: version.to_string(),
        headers: std::fs::read_to_string(headers).unwrap(),
        body: std::fs::read_to_string(body).unwrap(),
    })
}

fn chat_body(prompt: &str, stream: bool) -> String {
    json!({"model": "gpt-4o-mini", "stream": stream,
        "messages": [{"role": "user", "content": prompt}]})
    .to_string()
}

async fn post_chat(p: &Proxied, http: &str, prompt: &str) -> Got {
    let body = chat_body(prompt, false);
    curl(
        p.proxy,
        &p.ca,
        &[
            http,
            "https://api.openai.com/v1/chat/completions",
            "-H",
            "authorization: Bearer sk-client-own",
            "-H",
            "content-type: application/json",
            "--data",
            &body,
        ],
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn an_intercepted_inference_call_is_cached_and_reaches_the_clients_own_upstream() {
    let mock = Mock::start().await;
    let p = proxied(&mock).await;
    let mut events = p.daemon.bus().subscribe();

    let first = post_chat(&p, "--http1.1", "What is a monad?").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.http_version, "1.1");
    assert_eq!(first.header("x-isartor-layer").as_deref(), Some("l3"));
    assert_eq!(
        first.json()["choices"][0]["message"]["content"],
        "echo #1: What is a monad?"
    );
    // The client's own key went up, not the configured provider key.
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.headers["authorization"], "Bearer sk-client-own");
    assert_eq!(seen.json()["messages"][0]["content"], "What is a monad?");

    let second = post_chat(&p, "--http1.1", "What is a monad?").await;
    assert_eq!(second.status, 200);
    assert_eq!(second.header("x-isartor-layer").as_deref(), Some("l1a"));
    assert_eq!(
        second.json()["choices"][0]["message"]["content"],
        "echo #1: What is a monad?"
    );
    assert_eq!(mock.count(), 1, "the repeat never left the machine");

    let a = events.recv().await.unwrap();
    let b = events.recv().await.unwrap();
    assert_eq!((a.surface, b.surface), (Surface::Proxy, Surface::Proxy));
    assert_eq!(a.layer, Some(Layer::L3));
    assert_eq!(a.provider.as_deref(), Some("openai"));
    assert_eq!(b.layer, Some(Layer::L1a));

    // The gateway serves its own clients from its own namespace: the same body there is a miss
    // that goes to the configured provider with the configured key.
    let (status, headers, reply) = common::post(
        &p.base,
        "/v1/chat/completions",
        &serde_json::from_str::<Value>(&chat_body("What is a monad?", false)).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{reply:?}");
    assert_eq!(common::layer(&headers), "l3");
    assert_eq!(mock.count(), 2);
    assert_eq!(mock.last().headers["authorization"], "Bearer sk-upstream");
    p.daemon.stop().await;
}

#[tokio::test]
async fn clients_that_offer_h2_are_served_over_h2_and_streams_pass_through() {
    let mock = Mock::start().await;
    let p = proxied(&mock).await;
    let first = post_chat(&p, "--http2", "h2 please").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.http_version, "2");
    assert_eq!(first.header("x-isartor-layer").as_deref(), Some("l3"));
    let again = post_chat(&p, "--http2", "h2 please").await;
    assert_eq!(again.header("x-isartor-layer").as_deref(), Some("l1a"));

    let body = chat_body("stream it", true);
    let streamed = curl(
        p.proxy,
        &p.ca,
        &[
            "https://api.openai.com/v1/chat/completions",
            "-H",
            "authorization: Bearer sk-client-own",
            "--data",
            &body,
        ],
    )
    .await
    .unwrap();
    assert_eq!(streamed.status, 200);
    assert!(
        streamed
            .header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (text, done) = common::sse_text(&bytes::Bytes::from(streamed.body.clone()));
    assert_eq!(text, "echo #2: stream it");
    assert!(done);
    p.daemon.stop().await;
}

#[tokio::test]
async fn other_paths_of_an_intercepted_host_are_forwarded_untouched() {
    let mock = Mock::start().await;
    let p = proxied(&mock).await;
    let mut events = p.daemon.bus().subscribe();
    let got = curl(
        p.proxy,
        &p.ca,
        &[
            "https://api.anthropic.com/api/claude_code/metrics?x=1",
            "-H",
            "x-api-key: sk-ant-own",
            "-H",
            "x-custom: kept",
            "--data",
            "{\"metrics\":[1,2]}",
        ],
    )
    .await
    .unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.header("x-isartor-layer"), None, "not a pipeline answer");
    assert_eq!(got.header("x-request-id").as_deref(), Some("req-mock"));
    let seen = mock.last();
    assert_eq!(seen.path, "/api/claude_code/metrics?x=1");
    assert_eq!(seen.headers["x-api-key"], "sk-ant-own");
    assert_eq!(seen.headers["x-custom"], "kept");
    assert_eq!(seen.body, "{\"metrics\":[1,2]}");
    // A GET with no body arrives as one.
    let models = curl(p.proxy, &p.ca, &["https://api.openai.com/v1/models"])
        .await
        .unwrap();
    assert_eq!(models.status, 200);
    assert_eq!(mock.last().path, "/v1/models");
    assert!(mock.last().body.is_empty());
    assert!(
        events.try_recv().is_err(),
        "forwarded calls are not pipeline requests"
    );
    p.daemon.stop().await;
}

/// A TLS server on a loopback port with its own self-signed certificate for `localhost`.
async fn tls_server(dir: &Path) -> (SocketAddr, PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = dir.join("server.pem");
    std::fs::write(&pem, cert.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\nconnection: close\r\n\r\nfrom the server")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, pem)
}

#[tokio::test]
async fn a_host_off_the_list_is_tunnelled_with_its_own_certificate() {
    let mock = Mock::start().await;
    let p = proxied(&mock).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, server_ca) = tls_server(dir.path()).await;
    let url = format!("https://localhost:{}/", server.port());
    // Trusting only the server's own certificate works: the bytes were not touched.
    let got = curl(p.proxy, &server_ca, &[&url]).await.unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.body, "from the server");
    // Trusting only our CA fails: we never minted a certificate for this host.
    let err = curl(p.proxy, &p.ca, &[&url]).await.unwrap_err();
    assert!(err.contains("certificate"), "{err}");
    assert_eq!(mock.count(), 0);
    p.daemon.stop().await;
}

#[tokio::test]
async fn cloud_code_envelopes_are_unwrapped_cached_and_answered_wrapped() {
    let mock = Mock::start().await;
    let p = proxied(&mock).await;
    let ask = |request_id: &str| {
        json!({"model": "gemini-2.5-pro", "project": "proj-1", "requestId": request_id,
            "request": {"contents": [{"role": "user", "parts": [{"text": "Name a prime"}]}],
                "session_id": format!("s-{request_id}")}})
        .to_string()
    };
    let url = "https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse";
    let mut texts = Vec::new();
    for (i, layer) in [(1, "l3"), (2, "l1a")] {
        let got = curl(
            p.proxy,
            &p.ca,
            &[
                url,
                "-H",
                "authorization: Bearer ya29.own",
                "--data",
                &ask(&format!("r{i}")),
            ],
        )
        .await
        .unwrap();
        assert_eq!(got.status, 200, "{}", got.body);
        assert_eq!(got.header("x-isartor-layer").as_deref(), Some(layer));
        let text: String = got
            .body
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str::<Value>(d).unwrap())
            .map(|v| {
                v["response"]["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        texts.push(text);
    }
    assert_eq!(texts[0], "echo #1: Name a prime");
    assert_eq!(texts[1], texts[0]);
    assert_eq!(mock.count(), 1);
    let seen = mock.last();
    assert_eq!(seen.path, "/v1internal:streamGenerateContent?alt=sse");
    assert_eq!(seen.headers["authorization"], "Bearer ya29.own");
    assert_eq!(
        seen.json()["requestId"],
        "r1",
        "the envelope went up as sent"
    );
    p.daemon.stop().await;
}

#[tokio::test]
async fn a_broken_inference_body_gets_a_400_in_the_clients_format_and_goes_nowhere() {
    let mock = Mock::start().await;
    let p = proxied(&mock).await;
    let got = curl(
        p.proxy,
        &p.ca,
        &[
            "https://api.anthropic.com/v1/messages?beta=true",
            "-H",
            "x-api-key: sk-ant-own",
            "--data",
            "{\"model\": \"claude\", \"messages\": ",
        ],
    )
    .await
    .unwrap();
    assert_eq!(got.status, 400);
    let error = got.json();
    assert_eq!(error["type"], "error", "Anthropic's error shape: {error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(mock.count(), 0);
    p.daemon.stop().await;
}

#[tokio::test]
async fn stopping_the_daemon_closes_the_proxy_too() {
    let mock = Mock::start().await;
    let p = proxied(&mock).await;
    let proxy = p.proxy;
    assert!(tokio::net::TcpStream::connect(proxy).await.is_ok());
    p.daemon.stop().await;
    assert!(tokio::net::TcpStream::connect(proxy).await.is_err());
}

#[tokio::test]
async fn a_request_sent_to_the_proxy_port_directly_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mock = Mock::start().await;
    let p = proxied(&mock).await;
    // What a web page's fetch("http://127.0.0.1:8081/v1/chat/completions") sends: origin form.
    let mut s = tokio::net::TcpStream::connect(p.proxy).await.unwrap();
    s.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 2\r\n\
          connection: close\r\n\r\n{}",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        s.read_to_end(&mut answer),
    )
    .await
    .expect("answered")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("send CONNECT requests"), "{answer}");
    assert_eq!(mock.count(), 0);
}
