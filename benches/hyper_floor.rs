//! The floor an exact hit can reach on this stack: the daemon's HTTP server settings
//! (`surface::server_builder`, the same header timeout and connection handling) on the daemon's
//! runtime (tokio's multi-thread runtime at its default size), answering every request with a
//! fixed reply after reading its body, and nothing else: no decode, no key, no lookup, no event,
//! no log line. `scripts/bench-hit.sh` runs it beside nginx and the daemon, so what Isartor's own
//! work costs and what hyper and tokio cost are told apart in one run.
//!
//! Run: `cargo bench --bench hyper_floor -- BODY_FILE` binds a free loopback port, prints
//! `listening on ADDR` and serves until killed. Without arguments (as in a plain `cargo bench`)
//! it only says how to use it.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Response;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use isartor::config::ServerConfig;

fn main() {
    let Some(path) = std::env::args().nth(1).filter(|a| a != "--bench") else {
        eprintln!("usage: cargo bench --bench hyper_floor -- BODY_FILE");
        return;
    };
    let body = Bytes::from(std::fs::read(&path).expect("the reply body file"));
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        println!("listening on {}", listener.local_addr().expect("bound"));
        let builder = isartor::surface::server_builder(&ServerConfig::default());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move {
                    // Read the request body as the daemon does before it can answer.
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(body))
                            .expect("a valid response"),
                    )
                }
            });
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            tokio::spawn(conn);
        }
    });
}
