//! Method + path → handler. Each handler reads and checks its input, builds an [`Exchange`]
//! through the format's decoder, and hands it to the pipeline.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;

use super::limits::{BodyBudget, BodyError, Reservation, read_body};
use super::respond::{self, Body, Render};
use super::{Gateway, auth, browser};
use crate::exchange::{
    ClientInfo, DecodeError, Exchange, Format, Origin, Surface, anthropic, cloudcode, gemini,
    native, openai, responses,
};
use crate::pipeline::{Counted, Pipeline};
use crate::telemetry::{Bus, Tracker};
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
        "/api/chat" => (Route::Chat(Format::Native), Method::POST),
        "/v1/chat/completions" => (Route::Chat(Format::OpenAiChat), Method::POST),
        "/v1/messages" => (Route::Chat(Format::Anthropic), Method::POST),
        "/v1/messages/count_tokens" => (Route::CountTokens, Method::POST),
        "/v1/responses" => (Route::Chat(Format::Responses), Method::POST),
        p if gemini_tail(p).is_some_and(|t| gemini::route(t).is_some()) => {
            (Route::Chat(Format::Gemini), Method::POST)
        }
        _ => return Err(Unrouted::NotFound),
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
            "not_found",
            &format!("no route for {method} {path}"),
            None,
        ),
        Unrouted::MethodNotAllowed(allow) => {
            let mut r = respond::error(
                error_format(path),
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                &format!("{path} accepts {allow}, not {method}"),
                None,
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            r
        }
    }
}

/// `{model}:{method}` from a Gemini path (`/v1beta/models/…` or `/v1/models/…:…`).
pub fn gemini_tail(path: &str) -> Option<&str> {
    path.strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))
        .filter(|t| t.contains(':'))
}

/// The error format for a path a client used: native under `/api/`, Anthropic's under
/// `/v1/messages`, Gemini's for Gemini paths, OpenAI's elsewhere.
fn error_format(path: &str) -> Format {
    if path.starts_with("/api/") {
        Format::Native
    } else if path.starts_with("/v1/messages") {
        Format::Anthropic
    } else if path.starts_with("/v1beta/") || gemini_tail(path).is_some() {
        Format::Gemini
    } else {
        Format::OpenAiChat
    }
}

pub async fn handle(gw: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    // Browser defence comes first, on every route: a page must not even learn that we run.
    let grant = match gw.browser.check(req.uri(), req.headers()) {
        Ok(grant) => grant,
        Err(refusal) => {
            refuse(&gw, req.headers(), "forbidden");
            return respond::error(
                error_format(req.uri().path()),
                StatusCode::FORBIDDEN,
                "forbidden",
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
fn refuse(gw: &Gateway, headers: &HeaderMap, code: &str) {
    let status = if code == "forbidden" { 403 } else { 401 };
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
        refuse(&gw, req.headers(), "unauthorized");
        return respond::error(
            error_format(req.uri().path()),
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
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
    }
}

fn user_agent_tool(headers: &HeaderMap) -> String {
    ClientInfo::from_user_agent(
        headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    )
    .tool
}

fn health(gw: &Gateway) -> Response<Body> {
    let layers = gw.pipeline.health();
    let degraded = [&layers.l1a, &layers.l1b, &layers.l2, &layers.l3]
        .iter()
        .any(|l| l.status == "degraded");
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

/// What decoding needs besides the request: the same for every surface.
pub struct Intake<'a> {
    pub bus: &'a Bus,
    pub max_body_bytes: u64,
    /// Body bytes held across both listeners (`server.max_body_bytes_in_flight`).
    pub budget: &'a Arc<BodyBudget>,
    /// `server.body_read_timeout_secs`.
    pub body_timeout: Duration,
    /// The model of a native request that names none.
    pub default_model: &'a str,
}

/// A decoded request, its tracker, and its body's hold on the in-flight budget (keep it until
/// the request is answered).
pub struct Decoded {
    pub exchange: Exchange,
    pub tracker: Tracker,
    pub hold: Reservation,
}

/// Reads and decodes a request body in `format`; the error response is in that format too.
/// `origin` says who sent it and where it goes (it differs per surface).
pub async fn decode_request<B>(
    intake: Intake<'_>,
    format: Format,
    req: Request<B>,
    origin: impl FnOnce(&http::request::Parts, ClientInfo) -> Origin,
) -> Result<Decoded, Response<Body>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    let client = ClientInfo {
        tool: user_agent_tool(&parts.headers),
    };
    let origin = origin(&parts, client);
    let mut tracker = intake.bus.track(origin.surface, &origin.client.tool);
    if let Some(parent) = parts
        .headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        tracker.trace_parent(parent);
    }
    let read = read_body(
        body,
        &parts.headers,
        intake.max_body_bytes,
        intake.budget,
        intake.body_timeout,
    )
    .await;
    let (body, hold) = match read {
        Ok(read) => read,
        Err(e) => {
            let (status, code, message) = match e {
                BodyError::TooLarge => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!(
                        "request body is larger than max_body_bytes ({} bytes)",
                        intake.max_body_bytes
                    ),
                ),
                BodyError::Busy => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_busy",
                    "too many request bytes in flight (server.max_body_bytes_in_flight); retry shortly"
                        .to_string(),
                ),
                BodyError::TimedOut => (
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request body did not arrive within {} s (server.body_read_timeout_secs)",
                        intake.body_timeout.as_secs()
                    ),
                ),
                BodyError::Broken(e) => (
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("could not read the request body: {e}"),
                ),
            };
            tracker.finish(None, status.as_u16(), Some(code));
            return Err(respond::error(format, status, code, &message, None));
        }
    };
    let decoded: Result<Exchange, DecodeError> = match format {
        Format::Native => native::decode(body, origin, intake.default_model),
        Format::OpenAiChat => openai::decode(body, origin),
        Format::Anthropic => {
            anthropic::decode(body, origin, parts.uri.path().ends_with("/count_tokens"))
        }
        Format::Responses => responses::decode(body, origin),
        Format::Gemini => match gemini_tail(parts.uri.path()).and_then(gemini::route) {
            Some((model, stream)) => gemini::decode(body, origin, model, stream),
            None => Err(DecodeError::new("not a Gemini model path")),
        },
        Format::CloudCode => match cloudcode::route(parts.uri.path()) {
            Some(stream) => cloudcode::decode(body, origin, stream),
            None => Err(DecodeError::new("not a Cloud Code generate path")),
        },
    };
    match decoded {
        Ok(exchange) => Ok(Decoded {
            exchange,
            tracker,
            hold,
        }),
        Err(e) => {
            tracker.finish(None, 400, Some("bad_request"));
            Err(respond::error(
                format,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &e.message,
                e.param.as_deref(),
            ))
        }
    }
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

/// Runs a decoded exchange down the pipeline and renders the outcome in the client's format.
pub async fn run(pipeline: &Pipeline, decoded: Decoded) -> Response<Body> {
    let Decoded {
        exchange,
        tracker,
        hold,
    } = decoded;
    let render = Render {
        format: exchange.format,
        stream: exchange.stream,
        stream_usage: exchange.stream_usage,
    };
    let outcome = pipeline.handle(exchange, tracker).await;
    // The request's bytes have gone upstream or been answered from here: release them.
    drop(hold);
    respond::outcome(render, outcome)
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
