//! Process lifecycle: [`start`] wires config → pipeline → gateway on a bound listener and returns
//! a handle; [`pidfile`] records and locks the running daemon; [`detach`] starts it in the
//! background. Shutdown is one cancellation token that every listener watches (mini-redis style).

pub mod detach;
pub mod pidfile;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::gateway::{self, Gateway};
use crate::pipeline::Pipeline;
use crate::telemetry::Bus;

/// How long a stopping daemon waits for in-flight requests.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A running daemon.
pub struct Daemon {
    addr: SocketAddr,
    bus: Bus,
    pipeline: Arc<Pipeline>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    /// The OpenTelemetry exporter (`enable_monitoring`) and the token that tells it the
    /// listeners have drained.
    otel: Option<(JoinHandle<()>, CancellationToken)>,
}

/// Binds the listener and starts serving. Port 0 picks a free port; [`Daemon::addr`] tells which.
pub async fn start(config: Config) -> Result<Daemon> {
    config.validate().map_err(anyhow::Error::from)?;
    let addr = config.listen_addr()?;
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "{addr} is already in use: another isartor (see `isartor status`) or another program is \
             listening there; stop it or choose another port with host_port / ISARTOR__HOST_PORT"
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {addr}")),
    };
    let addr = listener.local_addr()?;
    let bus = Bus::default();
    let otel = if config.enable_monitoring {
        let done = CancellationToken::new();
        let task =
            crate::telemetry::otel::spawn(&config.otel_exporter_endpoint, &bus, done.clone())?;
        tracing::info!(
            "OpenTelemetry: exporting traces and metrics over OTLP/HTTP to {}",
            if config.otel_exporter_endpoint.is_empty() {
                "the OTEL_EXPORTER_OTLP_* endpoint (default http://localhost:4318)"
            } else {
                &config.otel_exporter_endpoint
            }
        );
        Some((task, done))
    } else {
        None
    };
    let pipeline = Arc::new(Pipeline::new(&config, bus.clone())?);
    let health = pipeline.health();
    for (layer, h) in [
        ("l1a", &health.l1a),
        ("l1b", &health.l1b),
        ("l2", &health.l2),
        ("l3", &health.l3),
    ] {
        match h.status {
            "degraded" => tracing::warn!("{layer}: {}", h.detail),
            _ => tracing::info!("{layer}: {} ({})", h.status, h.detail),
        }
    }
    let gateway = Arc::new(Gateway::new(&config, pipeline.clone()));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(gateway::serve(
        listener,
        gateway,
        shutdown.clone(),
        DRAIN_TIMEOUT,
    ));
    Ok(Daemon {
        addr,
        bus,
        pipeline,
        shutdown,
        task,
        otel,
    })
}

impl Daemon {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The request-event bus (metrics, control socket and tests subscribe here).
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Serves the control socket at `path` (for `isartor stats` / `top`) until the daemon stops.
    pub fn serve_control(&self, path: &std::path::Path, price_per_1k: f64) -> Result<()> {
        let pipeline = self.pipeline.clone();
        let feed = crate::control::server::Feed {
            bus: self.bus.clone(),
            addr: self.addr.to_string(),
            price_per_1k,
            health: Arc::new(move || serde_json::to_value(pipeline.health()).unwrap_or_default()),
            stop: self.shutdown.clone(),
        };
        crate::control::server::spawn(path, feed, self.shutdown.clone())
    }

    /// A token that stops the daemon when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting, drains in-flight requests (bounded), and returns when done.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.wait().await;
    }

    /// Waits until the daemon has stopped (after its token was cancelled), then flushes the
    /// OpenTelemetry export (bounded).
    pub async fn wait(self) {
        if let Err(e) = self.task.await {
            tracing::error!("gateway task failed: {e}");
        }
        if let Some((task, done)) = self.otel {
            done.cancel();
            let _ = task.await;
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn termination_signal() -> Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
