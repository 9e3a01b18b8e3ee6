//! Telemetry: exactly one [`RequestEvent`] per request, published on a broadcast [`Bus`] that the
//! log writer, metrics, the OpenTelemetry exporter and the control socket read from. The pipeline
//! reports into a [`Tracker`]; nothing here knows about HTTP.

pub mod bus;
pub mod events;
pub mod logs;
pub mod metrics;
pub mod otel;
pub mod prices;
pub mod sessions;
pub mod stats;

pub use bus::{Bus, Tracker};
pub use events::{ErrorCode, Layer, LayerOutcome, RequestEvent};
