//! What both listeners share: reading a request (the key check, bounded body reading, the
//! decoder of its format), running it down the pipeline, and answering in the client's format.
//! The gateway and the proxy are two ways in to this one intake → pipeline → respond path;
//! neither imports the other.

pub mod auth;
pub mod limits;
pub mod respond;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;

use crate::config::ServerConfig;
use crate::exchange::{
    CachePolicy, ClientInfo, DecodeError, Exchange, Format, Origin, anthropic, cloudcode, gemini,
    native, openai, responses,
};
use crate::pipeline::Pipeline;
use crate::telemetry::{Bus, ErrorCode, Tracker};
use limits::{BodyBudget, BodyError, Reservation, read_body};
use respond::{Body, Render};

/// The HTTP server settings both listeners share: HTTP/1 request heads must arrive within
/// `server.header_read_timeout_secs` (hyper starts that clock when a connection becomes idle, so
/// it also closes idle keep-alive connections), and h2 peers that stop answering pings are
/// dropped.
pub fn server_builder(config: &ServerConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout());
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(config.header_read_timeout())
        .keep_alive_timeout(config.header_read_timeout());
    builder
}

/// The client program behind a request, from its User-Agent.
pub fn user_agent_tool(headers: &HeaderMap) -> String {
    ClientInfo::from_headers(headers).tool
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
                    ErrorCode::BodyTooLarge,
                    format!(
                        "request body is larger than max_body_bytes ({} bytes)",
                        intake.max_body_bytes
                    ),
                ),
                BodyError::Busy => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::ServerBusy,
                    "too many request bytes in flight (server.max_body_bytes_in_flight); retry shortly"
                        .to_string(),
                ),
                BodyError::TimedOut => (
                    StatusCode::REQUEST_TIMEOUT,
                    ErrorCode::RequestTimeout,
                    format!(
                        "the request body did not arrive within {} s (server.body_read_timeout_secs)",
                        intake.body_timeout.as_secs()
                    ),
                ),
                BodyError::Broken(e) => (
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
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
        Format::Gemini => match gemini::model_in_path(parts.uri.path()) {
            Some((model, stream)) => gemini::decode(body, origin, model, stream),
            None => Err(DecodeError::new("not a Gemini model path")),
        },
        Format::CloudCode => match cloudcode::route(parts.uri.path()) {
            Some(stream) => cloudcode::decode(body, origin, stream),
            None => Err(DecodeError::new("not a Cloud Code generate path")),
        },
    };
    match decoded {
        Ok(mut exchange) => Ok(Decoded {
            exchange: {
                exchange.cache = CachePolicy::from_headers(&parts.headers);
                exchange
            },
            tracker,
            hold,
        }),
        Err(e) => {
            tracker.finish(None, 400, Some(ErrorCode::BadRequest));
            Err(respond::error(
                format,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                &e.message,
                e.param.as_deref(),
            ))
        }
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
    // Who the request is, for `X-Isartor-Budget-Remaining` (only when budgets are set).
    let budgets = pipeline.bus().budgets();
    let who = (!budgets.is_empty()).then(|| {
        // The model as the event records it (the pipeline describes the request later).
        let model = crate::display::printable(&exchange.model).into_owned();
        (tracker.who().0.to_string(), model)
    });
    let outcome = pipeline.handle(exchange, tracker).await;
    // The request's bytes have gone upstream or been answered from here: release them.
    drop(hold);
    let mut response = respond::outcome(render, outcome);
    if let Some((client, model)) = who
        && let Some(left) = budgets
            .standing(&client, &model, crate::telemetry::unix_ms())
            .remaining
        && let Ok(v) = http::HeaderValue::from_str(&format!("{left:.4}"))
    {
        response
            .headers_mut()
            .insert("x-isartor-budget-remaining", v);
    }
    response
}
