//! The usage history and budgets against the real daemon: an Anthropic provider (the mock)
//! reports prompt-cache reads and writes, every request leaves a row in `usage.sqlite3`,
//! `isartor usage` (the real binary) prints totals equal to `/metrics`' and to the cent of the
//! known traffic, and each budget action holds across a restart.

use crate::anthropic::anthropic_provider;
use crate::common;

use common::*;
use isartor::config::{BudgetAction, BudgetConfig, Config, Period};
use isartor::paths::Paths;
use isartor::telemetry::prices::Price;
use serde_json::{Value, json};

/// A data directory the real binary finds with `XDG_DATA_HOME=root` (and `HOME=root`).
fn paths(root: &std::path::Path) -> Paths {
    Paths {
        data_dir: root.join("isartor"),
        ..Paths::under(root)
    }
}

/// Sonnet at a thousand times its list price, so every call is dollars: $3,000 / $15,000 per
/// million in / out, $300 a million read from the cache, $3,750 written.
fn priced(mock: &Mock) -> impl FnOnce(&mut Config) {
    let provider = anthropic_provider(mock);
    move |c: &mut Config| {
        provider(c);
        c.usage.enabled = true;
        c.prices.insert(
            "claude-sonnet-4".into(),
            Price {
                input: 3000.0,
                output: 15000.0,
                cache_read: Some(300.0),
                cache_write: Some(3750.0),
            },
        );
    }
}

fn ask(model: &str, prompt: &str) -> Value {
    json!({"model": model, "max_tokens": 64, "metadata": {"user_id": "session_u1"},
        "messages": [{"role": "user", "content": prompt}]})
}

/// The sum of every series of `name` with `kind="<kind>"` (all clients and models).
fn metric_sum(text: &str, name: &str, kind: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(&format!("kind=\"{kind}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn usage_cli(root: &std::path::Path, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isartor"))
        .arg("usage")
        .args(args)
        .arg("--json")
        .env("HOME", root)
        .env("XDG_DATA_HOME", root)
        .env("XDG_CONFIG_HOME", root.join("config"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_totals_match_the_metrics_and_the_known_traffic_to_the_cent() {
    let root = tempfile::tempdir().unwrap();
    let paths = paths(root.path());
    let mock = Mock::start().await;
    let (d, base) = daemon_in(&mock, &paths, priced(&mock)).await;
    // Turn 1 writes 1,900 tokens to the provider cache: 100 × $3,000 + 1,900 × $3,750 +
    // 7 × $15,000 per million = $7.53.
    mock.set(Mode::CacheUsage(100, 0, 1900));
    let (status, ..) = post(&base, "/v1/messages", &ask("claude-sonnet-4-5", "turn one")).await;
    assert_eq!(status, 200);
    // Turn 2 reads them: 150 × $3,000 + 1,900 × $300 + 7 × $15,000 = $1.125, and the cache
    // saved 1,900 × ($3,000 − $300) = $5.13.
    mock.set(Mode::CacheUsage(150, 1900, 0));
    post(&base, "/v1/messages", &ask("claude-sonnet-4-5", "turn two")).await;
    // A repeat of turn 2 is a hit: it saves what turn 2 cost.
    let (_, headers, _) = post(&base, "/v1/messages", &ask("claude-sonnet-4-5", "turn two")).await;
    assert_eq!(layer(&headers), "l1a");
    // A malformed request is a row too (an error, no money).
    let (status, ..) = post(&base, "/v1/messages", &json!({"model": 7})).await;
    assert_eq!(status, 400);

    let metrics = get_text(&base, "/metrics").await;
    let name = "isartor_cost_usd_total";
    let (spent, saved, provider) = (
        metric_sum(&metrics, name, "spent"),
        metric_sum(&metrics, name, "saved"),
        metric_sum(&metrics, name, "provider_cache_saved"),
    );
    assert!(close(spent, 7.53 + 1.125), "{metrics}");
    assert!(close(saved, 1.125) && close(provider, 5.13), "{metrics}");
    // Stopping writes what is queued.
    d.stop().await;

    let report = usage_cli(root.path(), &["--since", "1d"]);
    let total = &report["total"];
    assert_eq!(total["requests"], 4, "{report}");
    assert_eq!(
        (total["deflected"].as_u64(), total["errors"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        close(total["spent_usd"].as_f64().unwrap(), spent),
        "{report}"
    );
    assert!(close(total["saved_usd"].as_f64().unwrap(), saved));
    assert!(close(
        total["provider_cache_saved_usd"].as_f64().unwrap(),
        provider
    ));
    assert_eq!(
        total["cache_read_tokens"], 1900,
        "only the provider's call read its cache"
    );

    // By session: Claude Code's session id, and the malformed request's none.
    let by = usage_cli(root.path(), &["--by", "session", "--since", "all"]);
    let rows = by["rows"].as_array().unwrap();
    let session = rows
        .iter()
        .find(|r| r["key"] == "session_u1")
        .expect("{by}");
    assert_eq!(
        session["requests"], 2,
        "the L3 turns carry the session: {by}"
    );
    assert!(close(session["spent_usd"].as_f64().unwrap(), spent));
    let by_model = usage_cli(root.path(), &["--by", "model"]);
    assert_eq!(
        by_model["rows"][0]["key"], "claude-sonnet-4-5",
        "{by_model}"
    );
}

fn budgeted(mock: &Mock, action: BudgetAction) -> impl FnOnce(&mut Config) {
    let base = priced(mock);
    move |c: &mut Config| {
        base(c);
        c.budgets = vec![BudgetConfig {
            name: "sonnet-daily".into(),
            scope: "model:claude-sonnet-4".into(),
            period: Period::Day,
            limit_usd: 5.0,
            action,
        }];
    }
}

/// Each action at a $5 daily budget on Sonnet, spent by one $7.53 call: `warn` serves on,
/// `cache-only` serves the cached answer and refuses what would go to the cloud, `block` refuses
/// everything in scope; refusals are 429s in Anthropic's shape that name the budget and when it
/// resets; models out of scope pass; and a restarted daemon reads the spend back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_budget_action_holds_across_a_restart() {
    for action in [
        BudgetAction::Warn,
        BudgetAction::CacheOnly,
        BudgetAction::Block,
    ] {
        let root = tempfile::tempdir().unwrap();
        let paths = paths(root.path());
        let mock = Mock::start().await;
        mock.set(Mode::CacheUsage(100, 0, 1900));
        let (d, base) = daemon_in(&mock, &paths, budgeted(&mock, action)).await;
        let first = ask("claude-sonnet-4-5", "spend it");
        let (status, headers, _) = post(&base, "/v1/messages", &first).await;
        assert_eq!(status, 200, "{action:?}");
        // What was left when the answer started (a streamed call is priced when it ends).
        assert_eq!(
            headers["x-isartor-budget-remaining"], "5.0000",
            "{action:?}"
        );

        let expect = |status: reqwest::StatusCode,
                      headers: &reqwest::header::HeaderMap,
                      body: &bytes::Bytes,
                      what: &str| {
            let refused =
                action != BudgetAction::Warn && (action == BudgetAction::Block || what == "miss");
            if !refused {
                assert_eq!(status, 200, "{action:?} {what}");
                return;
            }
            assert_eq!(status, 429, "{action:?} {what}");
            let body = as_json(body);
            assert_eq!(body["type"], "error", "{body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("\"sonnet-daily\"") && message.contains("T00:00:00Z"),
                "{message}"
            );
            let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(wait > 0 && wait <= 86_400, "{wait}");
        };
        // The cached answer, and a new prompt that would go to the cloud.
        let (status, headers, body) = post(&base, "/v1/messages", &first).await;
        expect(status, &headers, &body, "hit");
        let (status, headers, body) =
            post(&base, "/v1/messages", &ask("claude-sonnet-4-5", "more")).await;
        expect(status, &headers, &body, "miss");
        // Out of scope: another model is never refused.
        let (status, ..) = post(&base, "/v1/messages", &ask("claude-haiku-4-5", "more")).await;
        assert_eq!(status, 200, "{action:?}");
        let calls = mock.count();
        d.stop().await;

        let (d, base) = daemon_in(&mock, &paths, budgeted(&mock, action)).await;
        let metrics = get_text(&base, "/metrics").await;
        let spent_before = if action == BudgetAction::Warn {
            2.0 * 7.53
        } else {
            7.53
        };
        let gauge = metrics
            .lines()
            .find_map(|l| l.strip_prefix("isartor_budget_spent_usd{budget=\"sonnet-daily\"} "))
            .and_then(|v| v.parse::<f64>().ok());
        assert!(
            gauge.is_some_and(|g| close(g, spent_before)),
            "{action:?}: read back after the restart: {metrics}"
        );
        let (status, headers, body) = post(
            &base,
            "/v1/messages",
            &ask("claude-sonnet-4-5", "after restart"),
        )
        .await;
        expect(status, &headers, &body, "miss");
        let refused = u64::from(action != BudgetAction::Warn);
        assert_eq!(
            mock.count() - calls,
            1 - refused as usize,
            "{action:?}: a refused request never reaches the provider"
        );
        if action != BudgetAction::Warn {
            let metrics = get_text(&base, "/metrics").await;
            assert!(
                metrics.contains("isartor_budget_refusals_total{budget=\"sonnet-daily\"} 1"),
                "{metrics}"
            );
        }
        d.stop().await;
    }
}

/// A history that cannot be written (a directory where the file should be) costs rows, never
/// a request, and says so in a metric.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_history_never_fails_a_request() {
    let root = tempfile::tempdir().unwrap();
    let paths = paths(root.path());
    std::fs::create_dir_all(paths.data_dir.join("usage.sqlite3")).unwrap();
    let mock = Mock::start().await;
    let (d, base) = daemon_in(&mock, &paths, priced(&mock)).await;
    for _ in 0..3 {
        let (status, ..) = post(&base, "/v1/messages", &ask("claude-sonnet-4-5", "still")).await;
        assert_eq!(status, 200);
    }
    let bus = d.bus().clone();
    d.stop().await;
    assert!(
        bus.metrics()
            .render()
            .contains("isartor_usage_rows_lost_total{reason=\"database\"} 3"),
        "{}",
        bus.metrics().render()
    );
}

/// OpenAI reports its prompt cache as `prompt_tokens_details.cached_tokens`: those tokens are
/// priced at the cache-read price, and the saving is counted, in the event, `/metrics` and the
/// history alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_cached_tokens_are_priced_at_the_cache_read_price() {
    let root = tempfile::tempdir().unwrap();
    let paths = paths(root.path());
    let mock = Mock::start().await;
    let (d, base) = daemon_in(&mock, &paths, |c| c.usage.enabled = true).await;
    let mut events = d.bus().subscribe();
    // 200 fresh and 1,800 cached prompt tokens, 7 out, at gpt-4o's $2.50 / $10 ($1.25 cached).
    mock.set(Mode::CacheUsage(200, 1800, 0));
    let ask = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "cached"}]});
    let (status, ..) = post(&base, "/v1/chat/completions", &ask).await;
    assert_eq!(status, 200);
    let e = events.recv().await.unwrap();
    assert_eq!((e.tokens_in, e.tokens_cache_read), (2000, 1800));
    let spent = (200.0 * 2.50 + 1800.0 * 1.25 + 7.0 * 10.0) / 1e6;
    let saved = 1800.0 * (2.50 - 1.25) / 1e6;
    assert!(
        close(e.cost_usd, spent) && close(e.provider_saved_usd, saved),
        "{e:?}"
    );
    let metrics = get_text(&base, "/metrics").await;
    assert!(close(
        metric_sum(&metrics, "isartor_cost_usd_total", "provider_cache_saved"),
        saved
    ));
    d.stop().await;
    let total = usage_cli(root.path(), &[])["total"].clone();
    assert_eq!(total["cache_read_tokens"], 1800);
    assert!(close(
        total["provider_cache_saved_usd"].as_f64().unwrap(),
        saved
    ));
}
