//! The HTTP gateway: a hyper 1 server speaking HTTP/1.1 and h2c on one port. It owns the accept
//! loop and graceful drain; [`routes`] maps requests to handlers, [`auth`] checks keys,
//! [`respond`] renders outcomes in the client's format.

pub mod auth;
pub mod respond;
pub mod routes;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{CacheScope, Config};
use crate::pipeline::Pipeline;

/// Shared state of the gateway's handlers.
pub struct Gateway {
    pub pipeline: Arc<Pipeline>,
    key: Option<auth::GatewayKey>,
    max_body_bytes: u64,
    default_model: String,
    cache_scope: CacheScope,
    started: Instant,
}

impl Gateway {
    pub fn new(config: &Config, pipeline: Arc<Pipeline>) -> Gateway {
        let key = config.gateway_api_key.expose();
        Gateway {
            pipeline,
            key: (!key.is_empty()).then(|| auth::GatewayKey::new(key)),
            max_body_bytes: config.max_body_bytes,
            default_model: config.external_llm_model.clone(),
            cache_scope: config.cache_scope,
            started: Instant::now(),
        }
    }
}

/// Accepts connections until `shutdown` fires, then waits up to `drain` for in-flight requests.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
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
