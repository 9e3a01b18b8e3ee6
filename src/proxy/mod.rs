//! The MITM CONNECT proxy (`proxy_port`, default 127.0.0.1:8081) for clients that cannot change
//! their base URL: [`ca`] is the local certificate authority and its per-host leaf cache,
//! [`mitm`] decides per CONNECT what is decrypted and sends inference calls down the same
//! pipeline as the gateway (with the client's own upstream as L3).

pub mod ca;
pub mod mitm;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;

/// Serves the proxy on `listener` until `shutdown` fires, then gives open connections up to
/// `drain` to finish.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<mitm::Shared>,
    ca: Arc<ca::LocalCa>,
    server: ServerConfig,
    shutdown: CancellationToken,
    drain: Duration,
) -> Result<()> {
    let stop = shutdown.clone();
    let proxy = hudsucker::Proxy::builder()
        .with_listener(listener)
        .with_ca(ca::Minter(ca))
        // Only plain-HTTP requests in absolute form use hudsucker's own client; every
        // intercepted host is reached through ours.
        .with_http_connector(HttpConnector::new())
        .with_http_handler(mitm::Mitm(shared))
        // The gateway's HTTP settings: the CONNECT request and every request inside a decrypted
        // tunnel must arrive within the header timeout (slowloris), idle connections close.
        .with_server(crate::surface::server_builder(&server))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .build()?;
    let running = proxy.start();
    tokio::pin!(running);
    tokio::select! {
        result = &mut running => return result.map_err(Into::into),
        () = shutdown.cancelled() => {}
    }
    match tokio::time::timeout(drain, running).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => {
            tracing::warn!(
                "proxy connections still open after {} s; stopping anyway",
                drain.as_secs()
            );
            Ok(())
        }
    }
}
