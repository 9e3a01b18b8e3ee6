//! OpenTelemetry export (`enable_monitoring`): every [`RequestEvent`] on the bus becomes a trace
//! (a server span `isartor.request` carrying `isartor.final_layer`, with one child span per layer
//! the request passed through) and OTLP metrics that mirror `/metrics`. Both go out over OTLP/HTTP
//! (protobuf) from background threads with bounded queues, so a slow or absent collector never
//! touches a request; export failures are logged at most once a minute.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{MetricExporter, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::bus::Bus;
use super::events::{Layer, RequestEvent};
use super::logs::Throttle;
use super::metrics::{latency_buckets, layer_label};

/// How long stopping waits for the last batches to reach the collector.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The span name of a layer a request passed through.
fn layer_span(layer: Layer) -> &'static str {
    match layer {
        Layer::L1a => "l1a_exact_cache_lookup",
        Layer::L1b => "l1b_semantic_cache_search",
        Layer::L2 => "l2_slm",
        Layer::L3 => "l3_cloud",
    }
}

/// The OTLP instruments, named after their Prometheus counterparts.
struct Instruments {
    requests: Counter<u64>,
    request_duration: Histogram<f64>,
    layer_duration: Histogram<f64>,
    tokens_saved: Counter<u64>,
    cache_events: Counter<u64>,
    errors: Counter<u64>,
}

impl Instruments {
    fn new(meter: &Meter) -> Instruments {
        let seconds = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(latency_buckets().collect())
                .build()
        };
        Instruments {
            requests: meter
                .u64_counter("isartor.requests")
                .with_description(
                    "Requests by the layer that answered, HTTP status and client tool",
                )
                .build(),
            request_duration: seconds(
                "isartor.request.duration",
                "Time from a request's arrival to its last response byte",
            ),
            layer_duration: seconds(
                "isartor.layer.duration",
                "Time spent in each layer a request passed through",
            ),
            tokens_saved: meter
                .u64_counter("isartor.tokens_saved")
                .with_description("Provider tokens not spent because a request was deflected")
                .build(),
            cache_events: meter
                .u64_counter("isartor.cache.events")
                .with_description("Cache lookups by layer and outcome")
                .build(),
            errors: meter
                .u64_counter("isartor.errors")
                .with_description("Failed requests by layer and error class")
                .build(),
        }
    }

    fn record(&self, e: &RequestEvent) {
        let final_layer = KeyValue::new("final_layer", layer_label(e.layer));
        self.requests.add(
            1,
            &[
                final_layer.clone(),
                KeyValue::new("http_status", i64::from(e.status)),
                KeyValue::new("client", e.client.clone()),
            ],
        );
        self.request_duration.record(
            e.latency_micros as f64 / 1e6,
            std::slice::from_ref(&final_layer),
        );
        for t in &e.layers {
            self.layer_duration.record(
                t.micros as f64 / 1e6,
                &[KeyValue::new("layer_name", layer_label(Some(t.layer)))],
            );
            if let Some((cache_layer, outcome)) = t.cache_event() {
                self.cache_events.add(
                    1,
                    &[
                        KeyValue::new("cache_layer", cache_layer),
                        KeyValue::new("outcome", outcome),
                    ],
                );
            }
        }
        if e.tokens_saved > 0 {
            self.tokens_saved
                .add(e.tokens_saved, std::slice::from_ref(&final_layer));
        }
        if let Some(class) = &e.error {
            self.errors.add(
                1,
                &[
                    KeyValue::new("layer", layer_label(e.layer)),
                    KeyValue::new("error_class", class.clone()),
                ],
            );
        }
    }
}

/// The running exporters.
struct Exporters {
    tracer_provider: SdkTracerProvider,
    tracer: SdkTracer,
    meter_provider: SdkMeterProvider,
    instruments: Instruments,
    propagator: TraceContextPropagator,
}

impl Exporters {
    /// Builds the OTLP/HTTP exporters. `endpoint` is the collector's base URL (`/v1/traces` and
    /// `/v1/metrics` are appended); empty means the `OTEL_EXPORTER_OTLP_*` variables or the
    /// standard `http://localhost:4318`.
    fn new(endpoint: &str) -> Result<Exporters> {
        let base = endpoint.trim_end_matches('/');
        let mut spans = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary);
        let mut metrics = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary);
        if !base.is_empty() {
            spans = spans.with_endpoint(format!("{base}/v1/traces"));
            metrics = metrics.with_endpoint(format!("{base}/v1/metrics"));
        }
        let spans = spans
            .build()
            .context("cannot build the OTLP span exporter")?;
        let metrics = metrics
            .build()
            .context("cannot build the OTLP metric exporter")?;
        let resource = Resource::builder()
            .with_service_name("isartor")
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let tracer_provider = SdkTracerProvider::builder()
            .with_batch_exporter(Warned::new("traces", spans))
            .with_resource(resource.clone())
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_periodic_exporter(Warned::new("metrics", metrics))
            .with_resource(resource)
            .build();
        let instruments = Instruments::new(&meter_provider.meter("isartor"));
        Ok(Exporters {
            tracer: tracer_provider.tracer("isartor"),
            tracer_provider,
            meter_provider,
            instruments,
            propagator: TraceContextPropagator::new(),
        })
    }

    /// One request's trace and metrics.
    fn export(&self, e: &RequestEvent) {
        self.instruments.record(e);
        let start = UNIX_EPOCH + Duration::from_millis(e.at_ms);
        let end = start + Duration::from_micros(e.latency_micros);
        let parent = match &e.trace_parent {
            Some(tp) => {
                let carrier = HashMap::from([("traceparent".to_string(), tp.clone())]);
                self.propagator.extract(&carrier)
            }
            None => Context::new(),
        };
        let mut attributes = vec![
            KeyValue::new("isartor.final_layer", layer_label(e.layer)),
            KeyValue::new("isartor.deflected", e.deflected),
            KeyValue::new("isartor.request_id", e.id as i64),
            KeyValue::new("isartor.surface", e.surface.as_str()),
            KeyValue::new("isartor.client", e.client.clone()),
            KeyValue::new("isartor.tokens_saved", e.tokens_saved as i64),
            KeyValue::new("http.response.status_code", i64::from(e.status)),
            KeyValue::new("gen_ai.request.model", e.model.clone()),
            KeyValue::new("gen_ai.usage.input_tokens", e.tokens_in as i64),
            KeyValue::new("gen_ai.usage.output_tokens", e.tokens_out as i64),
        ];
        if let Some(format) = e.format {
            attributes.push(KeyValue::new("isartor.format", format.namespace()));
        }
        if let Some(provider) = &e.provider {
            attributes.push(KeyValue::new("gen_ai.provider.name", provider.clone()));
        }
        if let Some(class) = &e.error {
            attributes.push(KeyValue::new("error.type", class.clone()));
        }
        if let Some(session) = &e.session {
            attributes.push(KeyValue::new("session.id", session.clone()));
        }
        if e.tokens_cache_read > 0 {
            attributes.push(KeyValue::new(
                "gen_ai.usage.cache_read_input_tokens",
                e.tokens_cache_read as i64,
            ));
        }
        if let Some(at) = &e.cache_break {
            attributes.push(KeyValue::new("isartor.prompt_cache.break_at", at.clone()));
        }
        for (key, usd) in [
            ("isartor.cost_usd", e.cost_usd),
            ("isartor.saved_usd", e.saved_usd),
        ] {
            if usd > 0.0 {
                attributes.push(KeyValue::new(key, usd));
            }
        }
        let mut root = self
            .tracer
            .span_builder("isartor.request")
            .with_kind(SpanKind::Server)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        if e.status >= 500 {
            root.set_status(Status::error(e.error.clone().unwrap_or_default()));
        }
        let cx = parent.with_span(root);
        for t in &e.layers {
            let layer_start = start + Duration::from_micros(t.start_micros);
            let mut attributes = vec![
                KeyValue::new("isartor.layer", layer_label(Some(t.layer))),
                KeyValue::new("isartor.layer.outcome", t.outcome.as_str()),
            ];
            if let Some(score) = t.score {
                attributes.push(KeyValue::new("cosine_similarity", f64::from(score)));
            }
            if t.layer == Layer::L2
                && let Some(decision) = &e.router_decision
            {
                attributes.push(KeyValue::new("router.decision", decision.clone()));
            }
            let mut child = self
                .tracer
                .span_builder(layer_span(t.layer))
                .with_kind(SpanKind::Internal)
                .with_start_time(layer_start)
                .with_attributes(attributes)
                .start_with_context(&self.tracer, &cx);
            child.end_with_timestamp(layer_start + Duration::from_micros(t.micros));
        }
        cx.span().end_with_timestamp(end);
    }

    /// Exports what is queued and stops the background threads (blocking, bounded).
    fn shutdown(&self) {
        for (what, result) in [
            (
                "traces",
                self.tracer_provider.shutdown_with_timeout(FLUSH_TIMEOUT),
            ),
            (
                "metrics",
                self.meter_provider.shutdown_with_timeout(FLUSH_TIMEOUT),
            ),
        ] {
            if let Err(e) = result {
                tracing::warn!("OpenTelemetry {what}: the last export did not complete: {e}");
            }
        }
    }
}

/// Starts exporting every event published on `bus` to the collector at `endpoint`. Once `done`
/// is cancelled (after the listeners have drained), the task exports the events still queued,
/// flushes, and ends.
pub fn spawn(endpoint: &str, bus: &Bus, done: CancellationToken) -> Result<JoinHandle<()>> {
    let exporters = Arc::new(Exporters::new(endpoint)?);
    let mut rx = bus.subscribe();
    Ok(tokio::spawn(async move {
        let lag = Throttle::new(Duration::from_secs(60));
        loop {
            tokio::select! {
                biased;
                event = rx.recv() => match event {
                    Ok(e) => exporters.export(&e),
                    Err(RecvError::Lagged(n)) => {
                        if lag.ready() {
                            tracing::warn!("OpenTelemetry export fell behind: {n} request events were not exported");
                        }
                    }
                    Err(RecvError::Closed) => break,
                },
                () = done.cancelled() => {
                    loop {
                        match rx.try_recv() {
                            Ok(e) => exporters.export(&e),
                            Err(TryRecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        }
                    }
                    break;
                }
            }
        }
        let _ = tokio::task::spawn_blocking(move || exporters.shutdown()).await;
    }))
}

/// An exporter that logs its failures (collector down, refused) at most once a minute.
struct Warned<E> {
    what: &'static str,
    inner: E,
    throttle: Throttle,
}

impl<E> Warned<E> {
    fn new(what: &'static str, inner: E) -> Warned<E> {
        Warned {
            what,
            inner,
            throttle: Throttle::new(Duration::from_secs(60)),
        }
    }

    fn check(&self, result: OTelSdkResult) -> OTelSdkResult {
        if let Err(e) = &result
            && self.throttle.ready()
        {
            tracing::warn!(
                "OpenTelemetry {} export failed (requests are unaffected; is the collector at \
                 otel_exporter_endpoint up?): {e}",
                self.what
            );
        }
        result
    }
}

impl<E> fmt::Debug for Warned<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Warned({})", self.what)
    }
}

impl<E: opentelemetry_sdk::trace::SpanExporter> opentelemetry_sdk::trace::SpanExporter
    for Warned<E>
{
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.check(result)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Warned<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.check(result)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
