//! Method + path → handler. Each handler reads and checks its input, builds an [`Exchange`](crate::exchange::Exchange)
//! through the format's decoder, and hands it to the pipeline.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;

use super::{Gateway, admin, browser};
use crate::exchange::{ClientInfo, Format, Origin, Surface};
use crate::pipeline::Counted;
use crate::surface::respond::{self, Body, Render};
use crate::surface::{Decoded, Intake, auth, decode_request, run, user_agent_tool};
use crate::telemetry::ErrorCode;
use crate::upstream::forwardable;

/// Known routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `GET /` and `HEAD /`: clients (Claude Code) probe the base URL.
    Root,
    Healthz,
    Health,
    Metrics,
    Models,
    Chat(Format),
    /// Anthropic `/v1/messages/count_tokens`.
    CountTokens,
    /// `/admin/cache/<op>` (see [`admin`]).
    Admin,
}

/// Why a request matched no route.
#[derive(Debug, PartialEq, Eq)]
enum Unrouted {
    NotFound,
    /// The path exists; these methods are allowed on it.
    MethodNotAllowed(&'static str),
}

/// Routes by path first, so a known path with the wrong method gets 405 (with `Allow`), not 404.
fn route(method: &Method, path: &str) -> Result<Route, Unrouted> {
    let (route, allowed) = match path {
        "/" => (Route::Root, Method::GET),
        "/healthz" => (Route::Healthz, Method::GET),
        "/health" => (Route::Health, Method::GET),
        "/metrics" => (Route::Metrics, Method::GET),
        "/v1/models" => (Route::Models, Method::GET),
        "/v1/messages/count_tokens" => (Route::CountTokens, Method::POST),
        p if p.starts_with(admin::PREFIX) => match admin::allowed(&p[admin::PREFIX.len()..]) {
            Some(method) => (Route::Admin, method),
            None => return Err(Unrouted::NotFound),
        },
        // Cloud Code envelopes only ever reach the proxy (their host is Google's).
        p => match Format::from_path(p) {
            Some(Format::CloudCode) | None => return Err(Unrouted::NotFound),
            Some(format) => (Route::Chat(format), Method::POST),
        },
    };
    let head_ok = allowed == Method::GET && method == Method::HEAD;
    if method != allowed && !head_ok {
        let allow = if allowed == Method::GET {
            "GET, HEAD"
        } else {
            "POST"
        };
        return Err(Unrouted::MethodNotAllowed(allow));
    }
    Ok(route)
}

fn unrouted(method: &Method, path: &str, why: Unrouted) -> Response<Body> {
    match why {
        Unrouted::NotFound => respond::error(
            error_format(path),
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            &format!("no route for {method} {path}"),
            None,
        ),
        Unrouted::MethodNotAllowed(allow) => {
            let mut r = respond::error(
                error_format(path),
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                &format!("{path} accepts {allow}, not {method}"),
                None,
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            r
        }
    }
}

/// The error format for a path a client used: its format's, else native under `/api/`,
/// Anthropic's under `/v1/messages`, Gemini's under `/v1beta/`, OpenAI's elsewhere.
fn error_format(path: &str) -> Format {
    match Format::from_path(path) {
        Some(format) => format,
        None if path.starts_with("/api/") => Format::Native,
        None if path.starts_with("/v1/messages") => Format::Anthropic,
        None if path.starts_with("/v1beta/") => Format::Gemini,
        None => Format::OpenAiChat,
    }
}

pub async fn handle(gw: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    // Browser defence comes first, on every route: a page must not even learn that we run.
    let grant = match gw.browser.check(req.uri(), req.headers()) {
        Ok(grant) => grant,
        Err(refusal) => {
            refuse(&gw, req.headers(), ErrorCode::Forbidden);
            return respond::error(
                error_format(req.uri().path()),
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                &refusal.message(),
                None,
            );
        }
    };
    if grant.0.is_some() && browser::is_preflight(req.method(), req.headers()) {
        let mut r = Response::new(respond::full(Bytes::new()));
        *r.status_mut() = StatusCode::NO_CONTENT;
        browser::preflight(req.headers(), r.headers_mut());
        browser::grant(r.headers_mut(), &grant);
        return r;
    }
    let mut response = route_and_answer(gw, req).await;
    browser::grant(response.headers_mut(), &grant);
    response
}

/// Publishes the event of a request refused before the pipeline.
fn refuse(gw: &Gateway, headers: &HeaderMap, code: ErrorCode) {
    let status = if code == ErrorCode::Forbidden {
        403
    } else {
        401
    };
    gw.pipeline
        .bus()
        .track(Surface::Gateway, &user_agent_tool(headers))
        .finish(None, status, Some(code));
}

async fn route_and_answer(gw: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    let route = match route(req.method(), req.uri().path()) {
        Ok(r) => r,
        Err(why) => return unrouted(req.method(), req.uri().path(), why),
    };
    if !matches!(route, Route::Healthz | Route::Root)
        && let Some(key) = &gw.key
        && !key.accepts(req.uri(), req.headers())
    {
        refuse(&gw, req.headers(), ErrorCode::Unauthorized);
        return respond::error(
            error_format(req.uri().path()),
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing or wrong gateway key: send it as X-API-Key or Authorization: Bearer",
            None,
        );
    }
    match route {
        Route::Healthz | Route::Root => {
            respond::json(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
        }
        Route::Health => health(&gw),
        Route::Metrics => metrics(&gw),
        Route::Models => models(&gw),
        Route::Chat(format) => chat(gw, format, req).await,
        Route::CountTokens => count_tokens(gw, req).await,
        Route::Admin => {
            let op = req.uri().path()[admin::PREFIX.len()..].to_string();
            admin::handle(&gw, &op, req).await
        }
    }
}

fn health(gw: &Gateway) -> Response<Body> {
    let layers = gw.pipeline.health();
    let degraded = [&layers.l1a, &layers.l1b, &layers.l2, &layers.l3]
        .iter()
        .any(|l| l.status.needs_attention());
    let body = json!({
        "status": if degraded { "degraded" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": gw.started.elapsed().as_secs(),
        "layers": layers,
    });
    respond::json(StatusCode::OK, Bytes::from(body.to_string()))
}

fn metrics(gw: &Gateway) -> Response<Body> {
    let mut r = respond::json(
        StatusCode::OK,
        Bytes::from(gw.pipeline.bus().metrics().render()),
    );
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::telemetry::metrics::CONTENT_TYPE),
    );
    r
}

fn models(gw: &Gateway) -> Response<Body> {
    let body = json!({
        "object": "list",
        "data": [{"id": gw.default_model, "object": "model", "created": 0, "owned_by": "isartor"}],
    });
    respond::json(StatusCode::OK, Bytes::from(body.to_string()))
}

/// The gateway's origin: the configured provider is L3, with the client's key only when no
/// gateway key is set (then the presented key is ours and never goes upstream).
fn gateway_origin(gw: &Gateway, parts: &http::request::Parts, client: ClientInfo) -> Origin {
    Origin {
        surface: Surface::Gateway,
        tenant: auth::tenant(gw.cache_scope, &parts.uri, &parts.headers),
        client,
        headers: forwardable(&parts.headers),
        // With gateway auth on, the presented key is the gateway key: it never goes upstream.
        credential: gw
            .key
            .is_none()
            .then(|| auth::presented(&parts.uri, &parts.headers).map(str::to_string))
            .flatten(),
        destination: None,
    }
}

fn intake(gw: &Gateway) -> Intake<'_> {
    Intake {
        bus: gw.pipeline.bus(),
        max_body_bytes: gw.max_body_bytes,
        budget: &gw.budget,
        body_timeout: gw.body_timeout,
        default_model: &gw.default_model,
    }
}

async fn chat(gw: Arc<Gateway>, format: Format, req: Request<Incoming>) -> Response<Body> {
    let decoded = decode_request(intake(&gw), format, req, |parts, client| {
        gateway_origin(&gw, parts, client)
    })
    .await;
    match decoded {
        Ok(d) => run(&gw.pipeline, d).await,
        Err(response) => response,
    }
}

async fn count_tokens(gw: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    let decoded = decode_request(intake(&gw), Format::Anthropic, req, |parts, client| {
        gateway_origin(&gw, parts, client)
    })
    .await;
    let Decoded {
        exchange, tracker, ..
    } = match decoded {
        Ok(decoded) => decoded,
        Err(response) => return response,
    };
    let render = Render {
        format: Format::Anthropic,
        stream: false,
        stream_usage: false,
    };
    match gw.pipeline.count_tokens(exchange, tracker).await {
        Counted::Forwarded(outcome) => respond::outcome(render, outcome),
        Counted::Estimated { tokens, tracker } => {
            tracker.finish(None, 200, None);
            let body = json!({"input_tokens": tokens});
            respond::json(StatusCode::OK, Bytes::from(body.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_distinguishes_404_and_405() {
        assert_eq!(route(&Method::GET, "/healthz"), Ok(Route::Healthz));
        assert_eq!(route(&Method::HEAD, "/healthz"), Ok(Route::Healthz));
        assert_eq!(
            route(&Method::POST, "/v1/chat/completions"),
            Ok(Route::Chat(Format::OpenAiChat))
        );
        assert_eq!(
            route(&Method::GET, "/v1/chat/completions"),
            Err(Unrouted::MethodNotAllowed("POST"))
        );
        assert_eq!(
            route(&Method::POST, "/healthz"),
            Err(Unrouted::MethodNotAllowed("GET, HEAD"))
        );
        assert_eq!(route(&Method::GET, "/nope"), Err(Unrouted::NotFound));
        let r = unrouted(
            &Method::GET,
            "/api/chat",
            Unrouted::MethodNotAllowed("POST"),
        );
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "POST");
    }
}
