//! The provider chain: `[[fallback_providers]]` take over when the primary is down, failing or
//! rate-limited, but not when the caller is at fault; everything inside `l3_budget_secs`;
//! `X-Isartor-Provider` names who answered.

use crate::common;

use common::*;
use isartor::config::{Config, Provider, ProviderConfig, Secret};
use serde_json::json;

fn fallback(provider: Provider, url: String) -> ProviderConfig {
    ProviderConfig {
        llm_provider: provider,
        external_llm_url: url,
        external_llm_api_key: Secret("sk-fallback".into()),
        ..ProviderConfig::default()
    }
}

fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/v1", l.local_addr().unwrap())
}

fn with_fallback(f: ProviderConfig) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| c.fallback_providers = vec![f]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_that_is_down_hands_over_to_the_fallback() {
    let (primary, backup) = (Mock::start().await, Mock::start().await);
    let (_d, base) = daemon(&primary, |c| {
        c.external_llm_url = closed_port_url();
        c.fallback_providers = vec![fallback(Provider::Xai, backup.url())];
    })
    .await;
    let (status, h, body) = post(&base, "/v1/chat/completions", &chat("hello")).await;
    assert_eq!((status.as_u16(), layer(&h)), (200, "l3"));
    assert_eq!(h["x-isartor-provider"], "xai");
    assert_eq!(
        as_json(&body)["choices"][0]["message"]["content"],
        "echo #1: hello"
    );
    assert_eq!(backup.last().headers["authorization"], "Bearer sk-fallback");
    // Its answer is cached like any other.
    let (_, h, _) = post(&base, "/v1/chat/completions", &chat("hello")).await;
    assert_eq!(layer(&h), "l1a");
    assert!(h.get("x-isartor-provider").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_handed_over() {
    let (primary, backup) = (Mock::start().await, Mock::start().await);
    primary.set(Mode::Status(503, r#"{"error":{"message":"overloaded"}}"#));
    let (_d, base) = daemon(
        &primary,
        with_fallback(fallback(Provider::Ollama, backup.url())),
    )
    .await;
    let (status, h, _) = post(&base, "/v1/chat/completions", &chat("busy?")).await;
    assert_eq!(
        (status.as_u16(), &h["x-isartor-provider"]),
        (200, &"ollama".parse().unwrap())
    );
    assert_eq!(primary.count(), 2, "one try and one retry");
    assert_eq!(backup.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_moves_on_at_once_but_a_400_stops_the_chain() {
    let (primary, backup) = (Mock::start().await, Mock::start().await);
    let (_d, base) = daemon(
        &primary,
        with_fallback(fallback(Provider::Xai, backup.url())),
    )
    .await;
    primary.set(Mode::Status(
        404,
        r#"{"error":{"message":"no such model"}}"#,
    ));
    let (status, h, _) = post(&base, "/v1/chat/completions", &chat("model?")).await;
    assert_eq!(
        (status.as_u16(), &h["x-isartor-provider"]),
        (200, &"xai".parse().unwrap())
    );
    assert_eq!((primary.count(), backup.count()), (1, 1));

    primary.set(Mode::Status(400, r#"{"error":{"message":"bad request"}}"#));
    let (status, h, body) = post(&base, "/v1/chat/completions", &chat("bad")).await;
    assert_eq!(status, 400);
    assert_eq!(h["x-isartor-provider"], "openai");
    assert_eq!(as_json(&body)["error"]["message"], "bad request");
    assert_eq!(
        (primary.count(), backup.count()),
        (2, 1),
        "the caller's fault is not retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_of_another_family_gets_a_translated_request_and_its_own_model() {
    let (primary, backup) = (Mock::start().await, Mock::start().await);
    let mut anthropic = fallback(Provider::Anthropic, format!("http://{}", backup.addr));
    anthropic.model = "claude-haiku-4-5".into();
    let (_d, base) = daemon(&primary, |c| {
        c.external_llm_url = closed_port_url();
        c.fallback_providers = vec![anthropic];
    })
    .await;
    let mut body = chat("translate me");
    body["stream"] = json!(true);
    let (status, h, sse) = post(&base, "/v1/chat/completions", &body).await;
    assert_eq!(
        (status.as_u16(), &h["x-isartor-provider"]),
        (200, &"anthropic".parse().unwrap())
    );
    let sent = backup.last();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.json()["model"], "claude-haiku-4-5");
    assert_eq!(sent.headers["x-api-key"], "sk-fallback");
    let (text, done) = sse_text(&sse);
    assert_eq!((text.as_str(), done), ("echo #1: translate me", true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_bounds_the_whole_chain() {
    let (primary, backup) = (Mock::start().await, Mock::start().await);
    primary.set(Mode::Hang);
    let (_d, base) = daemon(&primary, |c| {
        c.l3_budget_secs = 1;
        c.fallback_providers = vec![fallback(Provider::Xai, backup.url())];
    })
    .await;
    let (status, _, body) = post(&base, "/v1/chat/completions", &chat("slow")).await;
    assert_eq!(status, 502);
    assert_eq!(as_json(&body)["error"]["code"], "upstream_timeout");
    assert_eq!(backup.count(), 0, "no time was left for the fallback");
}
