//! Turning pipeline outcomes and errors into HTTP responses in the client's own format, with the
//! `X-Isartor-Layer` / `X-Isartor-Deflected` headers.

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;

use crate::exchange::{self, Format, anthropic, gemini, names, native, openai};
use crate::pipeline::{ByteStream, Outcome};
use crate::telemetry::{ErrorCode, Layer};

/// Every response body the gateway sends.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// How the client wants its reply rendered.
#[derive(Debug, Clone, Copy)]
pub struct Render {
    pub format: Format,
    pub stream: bool,
    pub stream_usage: bool,
}

pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body sent on as its chunks arrive.
pub fn streamed(body: ByteStream) -> Body {
    StreamBody::new(body.map(|b| b.map(Frame::data))).boxed_unsync()
}

pub fn json(status: StatusCode, bytes: Bytes) -> Response<Body> {
    let mut r = Response::new(full(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn sse(events: Vec<Bytes>) -> Response<Body> {
    let stream = futures_util::stream::iter(events.into_iter().map(|b| Ok(Frame::data(b))));
    let mut r = Response::new(StreamBody::new(stream).boxed_unsync());
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// An error in the client's format.
pub fn error(
    format: Format,
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    param: Option<&str>,
) -> Response<Body> {
    let code = code.client();
    let body = match format {
        Format::OpenAiChat | Format::Responses => {
            openai::error_body(status.as_u16(), code, message, param)
        }
        Format::Native => native::error_body(code, message),
        Format::Anthropic => anthropic::error_body(status.as_u16(), message),
        Format::Gemini | Format::CloudCode => gemini::error_body(status.as_u16(), message),
    };
    json(status, body)
}

fn with_layer(mut r: Response<Body>, layer: Layer, ok: bool) -> Response<Body> {
    let h = r.headers_mut();
    h.insert(
        names::X_ISARTOR_LAYER,
        HeaderValue::from_static(layer.as_str()),
    );
    let deflected = ok && layer.deflects();
    h.insert(
        names::X_ISARTOR_DEFLECTED,
        HeaderValue::from_static(if deflected { "true" } else { "false" }),
    );
    r
}

/// Names the cloud provider that answered (`X-Isartor-Provider`), for L3 responses.
fn with_provider(mut r: Response<Body>, provider: Option<&'static str>) -> Response<Body> {
    if let Some(p) = provider {
        r.headers_mut()
            .insert(names::X_ISARTOR_PROVIDER, HeaderValue::from_static(p));
    }
    r
}

/// Renders a pipeline outcome; publishes the request's event for outcomes that end here.
pub fn outcome(render: Render, outcome: Outcome) -> Response<Body> {
    match outcome {
        Outcome::Reply {
            layer,
            reply,
            age,
            rendered,
            provider,
            similarity,
            stale,
            tracker,
        } => {
            // A hit's bodies are rendered once per entry and reused (see `Rendered`).
            let whole = || exchange::render_json(render.format, &reply, layer.number());
            let response = match (render.format, render.stream, &rendered) {
                (Format::Native, ..) | (_, false, None) => json(StatusCode::OK, whole()),
                (_, false, Some(memo)) => json(StatusCode::OK, memo.json(whole)),
                (format, true, Some(memo)) => sse(vec![memo.sse(render.stream_usage, || {
                    Bytes::from(exchange::render_sse(format, &reply, render.stream_usage).concat())
                })]),
                (format, true, None) => {
                    sse(exchange::render_sse(format, &reply, render.stream_usage))
                }
            };
            tracker.finish(Some(layer), 200, None);
            let mut response = with_provider(with_layer(response, layer, true), provider);
            if stale {
                response
                    .headers_mut()
                    .insert(names::X_ISARTOR_STALE, HeaderValue::from_static("true"));
            }
            if let Some(age) = age {
                response
                    .headers_mut()
                    .insert(header::AGE, HeaderValue::from(age));
            }
            if let Some(score) = similarity
                && let Ok(v) = http::HeaderValue::from_str(&format!("{score:.4}"))
            {
                response
                    .headers_mut()
                    .insert(names::X_ISARTOR_SIMILARITY, v);
            }
            response
        }
        Outcome::Stream {
            layer,
            status,
            headers,
            provider,
            body,
        } => {
            let mut r = Response::new(streamed(body));
            *r.status_mut() = status;
            *r.headers_mut() = headers;
            with_provider(with_layer(r, layer, status.is_success()), provider)
        }
        Outcome::Failed {
            layer,
            error,
            tracker,
        } => {
            tracker.finish(Some(layer), error.status.as_u16(), Some(error.code));
            let mut r = self::error(
                render.format,
                error.status,
                error.code,
                &error.message,
                None,
            );
            if let Some(secs) = error.retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            with_layer(r, layer, false)
        }
    }
}
