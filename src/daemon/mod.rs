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
use crate::paths::Paths;
use crate::pipeline::Pipeline;
use crate::proxy::{self, ca::LocalCa, mitm};
use crate::surface::limits::BodyBudget;
use crate::telemetry::Bus;

/// How long a stopping daemon waits for in-flight requests.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A running daemon.
pub struct Daemon {
    addr: SocketAddr,
    proxy_addr: Option<SocketAddr>,
    bus: Bus,
    pipeline: Arc<Pipeline>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    proxy_task: Option<JoinHandle<Result<()>>>,
    /// The OpenTelemetry exporter (`enable_monitoring`) and the token that tells it the
    /// listeners have drained.
    otel: Option<(JoinHandle<()>, CancellationToken)>,
}

/// Binds `addr` for the setting `key`, explaining the usual failure. Accepted connections
/// inherit TCP_NODELAY from the listener: the proxy's accept loop is hudsucker's, and without it
/// a response written in two segments waits for the client's delayed ACK (40 ms).
fn bind(addr: SocketAddr, key: &str) -> Result<TcpListener> {
    let listen = || -> std::io::Result<TcpListener> {
        let socket = match addr {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.set_nodelay(true)?;
        socket.bind(addr)?;
        socket.listen(1024)
    };
    match listen() {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "{addr} is already in use: another isartor (see `isartor status`) or another program is \
             listening there; stop it or choose another port with {key} / {}",
            crate::config::env_name(key)
        ),
        Err(e) => Err(e).with_context(|| format!("cannot listen on {addr}")),
    }
}

/// Binds the listeners and starts serving: the gateway on `host_port`, and the proxy on
/// `proxy_port` when `proxy.enabled` (its CA lives in `paths.data_dir`). Port 0 picks a free
/// port; [`Daemon::addr`] and [`Daemon::proxy_addr`] tell which.
pub async fn start(config: Config, paths: &Paths) -> Result<Daemon> {
    let settings = config.validate().map_err(anyhow::Error::from)?;
    raise_open_file_limit(config.server.max_connections);
    let listener = bind(settings.listen, "host_port")?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() && config.gateway_api_key.is_empty() {
        tracing::warn!(
            "the gateway listens on {addr}, beyond this machine, with no gateway_api_key: anyone \
             who reaches it can spend the provider key; set ISARTOR__GATEWAY_API_KEY"
        );
    }
    let proxy_listener = match settings.proxy_listen {
        Some(addr) => Some(bind(addr, "proxy_port")?),
        None => None,
    };
    let bus = telemetry_bus(&config, paths)?;
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
    let pipeline = Arc::new(Pipeline::new(&config, &settings, bus.clone())?);
    let health = pipeline.health();
    for (layer, h) in [
        ("l1a", &health.l1a),
        ("l1b", &health.l1b),
        ("l2", &health.l2),
        ("l3", &health.l3),
    ] {
        match h.status.needs_attention() {
            true => tracing::warn!("{layer}: {:?}: {}", h.status, h.detail),
            false => tracing::info!("{layer}: {:?} ({})", h.status, h.detail),
        }
    }
    let budget = BodyBudget::new(config.server.max_body_bytes_in_flight);
    let gateway = Arc::new(Gateway::new(&config, pipeline.clone(), budget.clone()));
    let shutdown = CancellationToken::new();
    let (proxy_addr, proxy_task) = match proxy_listener {
        Some(listener) => {
            let proxy_addr = listener.local_addr()?;
            if !proxy_addr.ip().is_loopback() {
                tracing::warn!(
                    "the proxy listens on {proxy_addr}, beyond this machine: it has no \
                     authentication, so anyone who reaches it can tunnel through it"
                );
            }
            let ca = Arc::new(LocalCa::load_or_create(&paths.data_dir)?);
            let shared = Arc::new(mitm::Shared::new(
                &config,
                &settings,
                pipeline.clone(),
                budget,
            )?);
            tracing::info!(
                "proxy on {proxy_addr}: intercepting {} (CA {})",
                config.proxy.intercept_hosts.join(", "),
                ca.cert_path().display()
            );
            let task = tokio::spawn(proxy::serve(
                listener,
                shared,
                ca,
                config.server.clone(),
                shutdown.clone(),
                DRAIN_TIMEOUT,
            ));
            (Some(proxy_addr), Some(task))
        }
        None => (None, None),
    };
    let task = tokio::spawn(gateway::serve(
        listener,
        gateway,
        config.server.clone(),
        shutdown.clone(),
        DRAIN_TIMEOUT,
    ));
    Ok(Daemon {
        addr,
        proxy_addr,
        proxy_task,
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

    /// Where the CONNECT proxy listens (`None` when `proxy.enabled` is off).
    pub fn proxy_addr(&self) -> Option<SocketAddr> {
        self.proxy_addr
    }

    /// The request-event bus (metrics, control socket and tests subscribe here).
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Serves the control socket at `path` (for `isartor stats` / `top`) until the daemon stops.
    pub fn serve_control(&self, path: &std::path::Path) -> Result<()> {
        let feed = crate::control::server::Feed {
            bus: self.bus.clone(),
            addr: self.addr.to_string(),
            stop: self.shutdown.clone(),
            pipeline: self.pipeline.clone(),
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
        if let Some(task) = self.proxy_task {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("proxy stopped with an error: {e}"),
                Err(e) => tracing::error!("proxy task failed: {e}"),
            }
        }
        if let Some((task, done)) = self.otel {
            done.cancel();
            let _ = task.await;
        }
        let bus = self.bus.clone();
        let _ = tokio::task::spawn_blocking(move || bus.close_usage()).await;
    }
}

/// The request-event bus: prices, the usage history (`usage.enabled`) and the budgets, which
/// start from what the history says their current period has spent.
fn telemetry_bus(config: &Config, paths: &Paths) -> Result<Bus> {
    use crate::telemetry::{budgets::Budgets, prices::PriceBook, unix_ms, usage};
    let scopes = crate::config::validate_budgets(&config.budgets)?;
    let history = paths.data_dir.join(usage::FILE);
    let mut bus =
        Bus::default().with_prices(PriceBook::new(&config.prices, config.cost_per_1k_tokens));
    if !config.budgets.is_empty() {
        let db = match config.usage.enabled {
            true => usage::open(&history)
                .map_err(|e| {
                    tracing::warn!(
                        "usage history {}: {e}; budgets start from zero",
                        history.display()
                    )
                })
                .ok(),
            false => {
                tracing::warn!(
                    "usage.enabled = false: budgets count from zero each time the daemon starts"
                );
                None
            }
        };
        let spent = |scope: &crate::config::Scope, since: u64| {
            db.as_ref()
                .and_then(|db| usage::spent_since(db, scope, since).ok())
                .unwrap_or(0.0)
        };
        bus = bus.with_budgets(Budgets::new(&config.budgets, scopes, unix_ms(), spent));
    }
    if config.usage.enabled {
        bus = bus.with_usage(history, config.usage.retention_days);
    }
    Ok(bus)
}

/// Raises the soft limit on open files to the hard limit: every connection, upstream connection
/// and tunnel is a descriptor, and the usual soft limit (1024) is below `server.max_connections`.
/// Warns when even the hard limit cannot hold both listeners full.
fn raise_open_file_limit(max_connections: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let mut limit = soft;
    if hard > soft {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => limit = hard,
            Err(e) => tracing::debug!("cannot raise the open-file limit to {hard}: {e}"),
        }
    }
    // Each listener's connections, plus as many upstream connections, plus some to spare.
    let needed = max_connections.saturating_mul(4).saturating_add(256);
    if limit < needed {
        tracing::warn!(
            "the open-file limit is {limit}: below what server.max_connections = {max_connections} \
             can need ({needed}); lower max_connections or raise the limit (ulimit -n)"
        );
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
