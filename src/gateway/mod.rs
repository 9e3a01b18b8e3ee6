//! The HTTP gateway: a hyper 1 server speaking HTTP/1.1 and h2c on one port. It owns the accept
//! loop (a bound on open connections, a deadline for each request head) and graceful drain;
//! [`routes`] maps requests to handlers and [`browser`] refuses web pages and rebinding hosts;
//! reading, running and answering a request is [`crate::surface`]'s, shared with the proxy.

mod admin;
pub mod browser;
pub mod routes;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::{CacheScope, Config, ServerConfig};
use crate::pipeline::Pipeline;
use crate::surface::limits::BodyBudget;
use crate::surface::{auth, server_builder};

/// Shared state of the gateway's handlers.
pub struct Gateway {
    pub pipeline: Arc<Pipeline>,
    key: Option<auth::GatewayKey>,
    max_body_bytes: u64,
    default_model: String,
    cache_scope: CacheScope,
    browser: browser::BrowserPolicy,
    budget: Arc<BodyBudget>,
    body_timeout: Duration,
    started: Instant,
}

impl Gateway {
    /// The gateway's handlers; `budget` is shared with the proxy.
    pub fn new(config: &Config, pipeline: Arc<Pipeline>, budget: Arc<BodyBudget>) -> Gateway {
        let key = config.gateway_api_key.expose();
        Gateway {
            pipeline,
            key: (!key.is_empty()).then(|| auth::GatewayKey::new(key)),
            max_body_bytes: config.max_body_bytes,
            default_model: config.external_llm_model.clone(),
            cache_scope: config.cache_scope,
            browser: browser::BrowserPolicy::new(&config.server),
            budget,
            body_timeout: config.server.body_read_timeout(),
            started: Instant::now(),
        }
    }
}

/// Answers a connection over `server.max_connections` with a 503 and closes it (bounded, off
/// the accept loop), so excess clients are told rather than left hanging or starving the
/// process of file descriptors.
pub fn refuse_connection(mut stream: TcpStream) {
    tokio::spawn(async move {
        const BODY: &str = "isartor: too many open connections (server.max_connections)\n";
        let busy = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
             connection: close\r\nretry-after: 1\r\n\r\n{BODY}",
            BODY.len()
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = stream.write_all(busy.as_bytes()).await;
            let _ = stream.shutdown().await;
        })
        .await;
    });
}

/// Accepts connections until `shutdown` fires, then waits up to `drain` for in-flight requests.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    config: ServerConfig,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let builder = server_builder(&config);
    let slots = Arc::new(Semaphore::new(config.max_connections as usize));
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse_connection(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let gw = gateway.clone();
        let service = service_fn(move |req| {
            let gw = gw.clone();
            async move { Ok::<_, Infallible>(routes::handle(gw, req).await) }
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection ended with an error: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(drain) => {
            tracing::warn!("in-flight requests still running after {} s; stopping anyway", drain.as_secs());
        }
    }
}
