//! `GET /metrics` after a known mix of traffic through the real gateway.

use crate::common;

use bytes::Bytes;
use common::*;

async fn scrape(base: &str, key: Option<(&str, &str)>) -> (u16, String, String) {
    let mut req = client().get(format!("{base}/metrics"));
    if let Some((k, v)) = key {
        req = req.header(k, v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    (status, content_type, res.text().await.unwrap())
}

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_layers_statuses_tokens_and_errors() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |_| {}).await;
    let ua = [("user-agent", "curl/8.5.0")];
    let ask = |prompt: &'static str| {
        let base = base.clone();
        async move {
            post_raw(
                &base,
                "/v1/chat/completions",
                Bytes::from(chat(prompt).to_string()),
                &ua,
            )
            .await
        }
    };
    assert_eq!(layer(&ask("one").await.1), "l3");
    assert_eq!(layer(&ask("one").await.1), "l1a");
    assert_eq!(layer(&ask("one").await.1), "l1a");
    let (status, _, _) =
        post_raw(&base, "/v1/chat/completions", Bytes::from_static(b"{"), &ua).await;
    assert_eq!(status, 400);
    mock.set(Mode::Status(500, "{}"));
    assert_eq!(ask("two").await.0, 502);

    let (status, content_type, text) = scrape(&base, None).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/openmetrics-text"));
    let series = |s: &str| value(&text, s);
    assert_eq!(
        series(
            r#"isartor_requests_total{final_layer="L1a_ExactCache",http_status="200",client="curl"}"#
        ),
        2.0
    );
    assert_eq!(
        series(r#"isartor_requests_total{final_layer="L3_Cloud",http_status="200",client="curl"}"#),
        1.0
    );
    assert_eq!(
        series(r#"isartor_requests_total{final_layer="L3_Cloud",http_status="502",client="curl"}"#),
        1.0
    );
    assert_eq!(
        series(r#"isartor_requests_total{final_layer="none",http_status="400",client="curl"}"#),
        1.0
    );
    // The mock's usage is 11 + 7 tokens; two hits saved it twice.
    assert_eq!(
        series(r#"isartor_tokens_saved_total{final_layer="L1a_ExactCache"}"#),
        36.0
    );
    assert_eq!(
        series(r#"isartor_cache_events_total{cache_layer="L1a",outcome="hit"}"#),
        2.0
    );
    assert_eq!(
        series(r#"isartor_cache_events_total{cache_layer="L1a",outcome="miss"}"#),
        2.0
    );
    assert_eq!(
        series(r#"isartor_errors_total{layer="L3_Cloud",error_class="upstream_error"}"#),
        1.0
    );
    assert_eq!(
        series(r#"isartor_errors_total{layer="none",error_class="bad_request"}"#),
        1.0
    );
    assert_eq!(
        series(r#"isartor_request_duration_seconds_count{final_layer="L1a_ExactCache"}"#),
        2.0
    );
    assert_eq!(
        series(r#"isartor_layer_duration_seconds_count{layer_name="L3_Cloud"}"#),
        2.0
    );
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_gateway_key_when_one_is_set() {
    let mock = Mock::start().await;
    let (_d, base) = daemon(&mock, |c| {
        c.gateway_api_key = isartor::config::Secret("k".into())
    })
    .await;
    assert_eq!(scrape(&base, None).await.0, 401);
    let (status, _, text) = scrape(&base, Some(("authorization", "Bearer k"))).await;
    assert_eq!(status, 200);
    // The rejected scrape itself was counted.
    assert!(
        text.contains(
            r#"isartor_requests_total{final_layer="none",http_status="401",client="unknown"} 1"#
        ),
        "{text}"
    );
}
