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

/// Money: an L3 call is priced at its model's list price (the mock reports 11 prompt and 7
/// completion tokens), a hit saves what its answer cost, an override from the config wins, and a
/// model the table does not know pays the flat `cost_per_1k_tokens`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_priced_by_model_and_saved_money_is_counted() {
    use isartor::telemetry::prices::Price;
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, |c| {
        c.cost_per_1k_tokens = 0.5;
        c.prices.insert(
            "house-model".into(),
            Price {
                input: 100.0,
                output: 1000.0,
                cache_read: None,
                cache_write: None,
            },
        );
    })
    .await;
    let mut events = d.bus().subscribe();
    let ask = |model: &str| serde_json::json!({"model": model, "messages": [{"role": "user", "content": "price me"}]});
    // gpt-4o-mini: 11 × $0.15 + 7 × $0.60 per million.
    let mini = (11.0 * 0.15 + 7.0 * 0.60) / 1e6;
    post(&base, "/v1/chat/completions", &ask("gpt-4o-mini")).await;
    let e = events.recv().await.unwrap();
    assert!((e.cost_usd - mini).abs() < 1e-12, "{}", e.cost_usd);
    assert_eq!(e.saved_usd, 0.0);
    post(&base, "/v1/chat/completions", &ask("gpt-4o-mini")).await;
    let e = events.recv().await.unwrap();
    assert_eq!(e.layer, Some(isartor::telemetry::Layer::L1a));
    assert!((e.saved_usd - mini).abs() < 1e-12 && e.cost_usd == 0.0);

    post(&base, "/v1/chat/completions", &ask("house-model-v2")).await;
    let e = events.recv().await.unwrap();
    assert!((e.cost_usd - (11.0 * 100.0 + 7.0 * 1000.0) / 1e6).abs() < 1e-12);
    post(&base, "/v1/chat/completions", &ask("someones-llama")).await;
    let e = events.recv().await.unwrap();
    assert!(
        (e.cost_usd - 18.0 / 1000.0 * 0.5).abs() < 1e-12,
        "flat rate"
    );

    let snap = d.bus().snapshot();
    let spent = mini + 0.0081 + 0.009;
    assert!(
        (snap.cost_spent_usd - spent).abs() < 1e-9,
        "{}",
        snap.cost_spent_usd
    );
    assert!((snap.cost_saved_usd - mini).abs() < 1e-12);
    let (_, _, text) = scrape(&base, None).await;
    let series = |kind: &str, model: &str| {
        format!(r#"isartor_cost_usd_total{{kind="{kind}",client="unknown",model="{model}"}}"#)
    };
    assert!(
        (value(&text, &series("spent", "gpt-4o-mini")) - mini).abs() < 1e-12,
        "{text}"
    );
    assert!((value(&text, &series("saved", "gpt-4o-mini")) - mini).abs() < 1e-12);
    // Client text never becomes a label: the override and the unknown model are "other".
    assert!(
        (value(&text, &series("spent", "other")) - 0.0171).abs() < 1e-9,
        "{text}"
    );
}

/// A call the gateway sends to another model than the client named (here an OpenAI client
/// translated to an Anthropic provider's own model) is priced at the model that answered, and
/// the event says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_translated_call_is_priced_at_the_model_called() {
    let mock = Mock::start().await;
    let (d, base) = daemon(&mock, |c| {
        c.llm_provider = isartor::config::Provider::Anthropic;
        c.external_llm_model = "claude-haiku-4-5".into();
    })
    .await;
    let mut events = d.bus().subscribe();
    let ask = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "price the callee"}]});
    let (status, ..) = post(&base, "/v1/chat/completions", &ask).await;
    assert_eq!(status, 200);
    assert_eq!(mock.last().json()["model"], "claude-haiku-4-5");
    let e = events.recv().await.unwrap();
    assert_eq!(e.model, "gpt-4o-mini");
    assert_eq!(e.called_model.as_deref(), Some("claude-haiku-4-5"));
    // The mock's Anthropic usage: 11 fresh, 40 read, 2 written, 7 out, at Haiku 4.5's $1 / $5,
    // $0.10 read, $1.25 written per million.
    let haiku = (11.0 * 1.0 + 40.0 * 0.10 + 2.0 * 1.25 + 7.0 * 5.0) / 1e6;
    assert!((e.cost_usd - haiku).abs() < 1e-12, "{}", e.cost_usd);
}
