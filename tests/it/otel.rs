//! OpenTelemetry export (`enable_monitoring`) checked against a small OTLP/HTTP receiver the test
//! starts: the traces and metrics that reach it after known traffic, and a collector that is down.

use crate::common;

use bytes::Bytes;
use common::*;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as Any};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Any> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn text<'a>(attrs: &'a [KeyValue], key: &str) -> &'a str {
    match attr(attrs, key) {
        Some(Any::StringValue(s)) => s,
        other => panic!("{key}: expected a string, got {other:?}"),
    }
}

fn int(attrs: &[KeyValue], key: &str) -> i64 {
    match attr(attrs, key) {
        Some(Any::IntValue(i)) => *i,
        other => panic!("{key}: expected an int, got {other:?}"),
    }
}

/// The bodies the receiver got on `path`.
fn bodies(collector: &Mock, path: &str) -> Vec<Bytes> {
    collector
        .seen()
        .into_iter()
        .filter(|s| s.path == path)
        .inspect(|s| assert_eq!(s.headers["content-type"], "application/x-protobuf"))
        .map(|s| s.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_and_metrics_reach_the_collector() {
    let collector = Mock::start().await;
    collector.set(Mode::Status(200, ""));
    let mock = Mock::start().await;
    let endpoint = format!("http://{}", collector.addr);
    let (d, base) = daemon(&mock, |c| {
        c.enable_monitoring = true;
        c.otel_exporter_endpoint = endpoint;
    })
    .await;
    let body = Bytes::from(chat("trace me").to_string());
    let traceparent = format!("00-{TRACE_ID}-{PARENT_SPAN}-01");
    let headers = [
        ("traceparent", traceparent.as_str()),
        ("user-agent", "curl/8.5.0"),
    ];
    let (status, h, _) = post_raw(&base, "/v1/chat/completions", body.clone(), &headers).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    let (status, h, _) = post_raw(
        &base,
        "/v1/chat/completions",
        body,
        &[("user-agent", "curl/8.5.0")],
    )
    .await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l1a"));
    // Stopping flushes both exporters.
    d.stop().await;

    let spans: Vec<Span> = bodies(&collector, "/v1/traces")
        .iter()
        .flat_map(|b| {
            ExportTraceServiceRequest::decode(b.as_ref())
                .expect("OTLP protobuf")
                .resource_spans
        })
        .inspect(|rs| {
            let resource = rs.resource.as_ref().expect("a resource");
            assert_eq!(text(&resource.attributes, "service.name"), "isartor");
        })
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .collect();
    let roots: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "isartor.request")
        .collect();
    assert_eq!(roots.len(), 2, "one root span per request: {spans:#?}");
    let root = |final_layer: &str| {
        *roots
            .iter()
            .find(|s| text(&s.attributes, "isartor.final_layer") == final_layer)
            .unwrap_or_else(|| panic!("no root span for {final_layer}"))
    };
    let children = |parent: &Span| -> Vec<(String, String)> {
        let mut c: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_span_id == parent.span_id && s.trace_id == parent.trace_id)
            .inspect(|s| {
                assert!(
                    s.start_time_unix_nano >= parent.start_time_unix_nano,
                    "{s:?}"
                );
                assert!(s.end_time_unix_nano <= parent.end_time_unix_nano, "{s:?}");
            })
            .map(|s| {
                (
                    s.name.clone(),
                    text(&s.attributes, "isartor.layer.outcome").to_string(),
                )
            })
            .collect();
        c.sort();
        c
    };

    let cloud = root("L3_Cloud");
    assert_eq!(
        hex::encode(&cloud.trace_id),
        TRACE_ID,
        "joins the caller's trace"
    );
    assert_eq!(hex::encode(&cloud.parent_span_id), PARENT_SPAN);
    assert_eq!(int(&cloud.attributes, "http.response.status_code"), 200);
    assert_eq!(
        text(&cloud.attributes, "gen_ai.request.model"),
        "gpt-4o-mini"
    );
    assert_eq!(int(&cloud.attributes, "gen_ai.usage.input_tokens"), 11);
    assert_eq!(
        children(cloud),
        [
            ("l1a_exact_cache_lookup".to_string(), "miss".to_string()),
            ("l3_cloud".to_string(), "answered".to_string())
        ]
    );
    let hit = root("L1a_ExactCache");
    assert_ne!(
        hex::encode(&hit.trace_id),
        TRACE_ID,
        "no traceparent: a trace of its own"
    );
    assert!(hit.parent_span_id.is_empty());
    assert_eq!(int(&hit.attributes, "isartor.tokens_saved"), 18);
    // Money on both: what the call spent, what the hit saved (gpt-4o-mini's list price).
    let usd = |s: &Span, key: &str| match attr(&s.attributes, key) {
        Some(Any::DoubleValue(v)) => *v,
        other => panic!("{key}: expected a double, got {other:?}"),
    };
    let mini = (11.0 * 0.15 + 7.0 * 0.60) / 1e6;
    assert!((usd(cloud, "isartor.cost_usd") - mini).abs() < 1e-12);
    assert!((usd(hit, "isartor.saved_usd") - mini).abs() < 1e-12);
    assert!(text(&cloud.attributes, "session.id").starts_with("conv-"));
    assert_eq!(
        children(hit),
        [("l1a_exact_cache_lookup".to_string(), "hit".to_string())]
    );

    // Metrics are cumulative: the last export holds the totals.
    let last = bodies(&collector, "/v1/metrics")
        .pop()
        .expect("the metrics were exported");
    let metrics: Vec<_> = ExportMetricsServiceRequest::decode(last.as_ref())
        .expect("OTLP protobuf")
        .resource_metrics
        .into_iter()
        .flat_map(|rm| rm.scope_metrics)
        .flat_map(|sm| sm.metrics)
        .collect();
    let sum = |name: &str| {
        let m = metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no metric {name} in {metrics:#?}"));
        match &m.data {
            Some(Data::Sum(s)) => s.data_points.clone(),
            other => panic!("{name}: expected a sum, got {other:?}"),
        }
    };
    let value = |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint| match p.value {
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(i)) => i,
        other => panic!("expected an int, got {other:?}"),
    };
    let mut requests: Vec<(String, i64, String, i64)> = sum("isartor.requests")
        .iter()
        .map(|p| {
            (
                text(&p.attributes, "final_layer").to_string(),
                int(&p.attributes, "http_status"),
                text(&p.attributes, "client").to_string(),
                value(p),
            )
        })
        .collect();
    requests.sort();
    assert_eq!(
        requests,
        [
            ("L1a_ExactCache".into(), 200, "curl".into(), 1),
            ("L3_Cloud".into(), 200, "curl".into(), 1)
        ]
    );
    let saved = sum("isartor.tokens_saved");
    assert_eq!(saved.iter().map(value).sum::<i64>(), 18);
    let histogram = metrics
        .iter()
        .find(|m| m.name == "isartor.request.duration")
        .expect("the duration histogram");
    match &histogram.data {
        Some(Data::Histogram(h)) => {
            assert_eq!(h.data_points.iter().map(|p| p.count).sum::<u64>(), 2);
            assert_eq!(h.data_points[0].explicit_bounds.first(), Some(&0.000_05));
        }
        other => panic!("expected a histogram, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_does_not_touch_requests() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, |c| {
        c.enable_monitoring = true;
        c.otel_exporter_endpoint = endpoint;
    })
    .await;
    for expected in ["l3", "l1a", "l1a"] {
        let (status, h, body) = post(&base, "/v1/chat/completions", &chat("still served")).await;
        assert_eq!((status.as_u16(), layer(&h)), (200, expected));
        assert_eq!(
            as_json(&body)["choices"][0]["message"]["content"],
            "echo #1: still served"
        );
    }
    assert_eq!(mock.count(), 1);
    d.stop().await;
}
