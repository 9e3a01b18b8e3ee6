//! Telemetry: exactly one [`RequestEvent`] per request, published on a broadcast [`Bus`] that the
//! log writer, metrics, the OpenTelemetry exporter and the control socket read from. The pipeline
//! reports into a [`Tracker`]; nothing here knows about HTTP. [`usage`] keeps every request's
//! row in a local database and [`budgets`] counts cloud spend against the configured limits.

pub mod budgets;
pub mod bus;
pub mod events;
pub mod logs;
pub mod metrics;
pub mod otel;
pub mod prices;
pub mod sessions;
pub mod stats;
pub mod usage;

pub use bus::{Bus, Tracker};
pub use events::{ErrorCode, Layer, LayerOutcome, RequestEvent};

/// Now, in Unix milliseconds (0 before 1970).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
