//! `/admin/cache/…`: the `isartor cache` commands over HTTP, for replicas run as a service.
//! Served only when `gateway_api_key` is set (the key is checked before this module is reached);
//! without a key they are refused, so a gateway open to its host never exposes its cache.
//!
//! `GET ls?limit=N&client=NAME`, `GET why?n=N`, `POST forget` with `{"prefix":…}`,
//! `{"last":true}` or `{"prompt":…}`, `POST clear?only=exact|semantic`, `GET export` (JSON lines)
//! and `POST import` (JSON lines, bounded like every body).

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde::Deserialize;

use super::Gateway;
use crate::exchange::Format;
use crate::pipeline::manage::{CacheCommand, Target};
use crate::surface::limits::read_body;
use crate::surface::respond::{self, Body};
use crate::telemetry::ErrorCode;

/// The path prefix of the admin routes.
pub const PREFIX: &str = "/admin/cache/";

/// The methods each operation takes; `None` for an unknown one.
pub fn allowed(op: &str) -> Option<Method> {
    match op {
        "ls" | "why" | "export" => Some(Method::GET),
        "forget" | "clear" | "import" => Some(Method::POST),
        _ => None,
    }
}

fn error(status: StatusCode, code: ErrorCode, message: &str) -> Response<Body> {
    respond::error(Format::OpenAiChat, status, code, message, None)
}

fn bad(message: &str) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
}

/// `forget`'s body: exactly one of the three.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgetBody {
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    last: bool,
    #[serde(default)]
    prompt: Option<String>,
}

/// Answers one admin request (its key already checked).
pub async fn handle(gw: &Gateway, op: &str, req: Request<Incoming>) -> Response<Body> {
    if gw.key.is_none() {
        return error(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "the admin routes are served only when gateway_api_key is set",
        );
    }
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let number = |name: &str, default: usize| match param(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| format!("{name} must be a whole number")),
    };
    let command = match op {
        "ls" => match number("limit", 20) {
            Ok(limit) => CacheCommand::Ls {
                limit,
                client: param("client").map(str::to_string),
            },
            Err(why) => return bad(&why),
        },
        "why" => match number("n", 1) {
            Ok(n) => CacheCommand::Why { n },
            Err(why) => return bad(&why),
        },
        "clear" => match param("only") {
            None => CacheCommand::Clear {
                exact: false,
                semantic: false,
            },
            Some("exact") => CacheCommand::Clear {
                exact: true,
                semantic: false,
            },
            Some("semantic") => CacheCommand::Clear {
                exact: false,
                semantic: true,
            },
            Some(_) => return bad("only must be exact or semantic"),
        },
        "export" => CacheCommand::Export,
        "forget" | "import" => {
            let (parts, body) = req.into_parts();
            let body = match read_body(
                body,
                &parts.headers,
                gw.max_body_bytes,
                &gw.budget,
                gw.body_timeout,
            )
            .await
            {
                Ok((bytes, _reservation)) => bytes,
                Err(_) => {
                    return error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        ErrorCode::BodyTooLarge,
                        "the body could not be read within max_body_bytes and body_read_timeout_secs",
                    );
                }
            };
            match op {
                "forget" => match serde_json::from_slice::<ForgetBody>(&body) {
                    Ok(ForgetBody {
                        prefix: Some(p),
                        last: false,
                        prompt: None,
                    }) => CacheCommand::Forget {
                        target: Target::Prefix(p),
                    },
                    Ok(ForgetBody {
                        prefix: None,
                        last: true,
                        prompt: None,
                    }) => CacheCommand::Forget {
                        target: Target::Last,
                    },
                    Ok(ForgetBody {
                        prefix: None,
                        last: false,
                        prompt: Some(p),
                    }) => CacheCommand::Forget {
                        target: Target::Prompt(p),
                    },
                    _ => {
                        return bad(
                            r#"send one of {"prefix":"<key start>"}, {"last":true} or {"prompt":"<text>"}"#,
                        );
                    }
                },
                _ => match std::str::from_utf8(&body) {
                    Ok(text) => CacheCommand::Import {
                        lines: text.lines().map(str::to_string).collect(),
                    },
                    Err(_) => return bad("the body is not UTF-8 JSON lines"),
                },
            }
        }
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "no such cache operation",
            );
        }
    };
    let export = command == CacheCommand::Export;
    match gw.pipeline.cache(command).await {
        Ok(serde_json::Value::Array(lines)) if export => {
            let mut body = String::new();
            for line in lines.iter().filter_map(|l| l.as_str()) {
                body.push_str(line);
                body.push('\n');
            }
            let mut r = respond::json(StatusCode::OK, Bytes::from(body));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
            r
        }
        Ok(answer) => respond::json(StatusCode::OK, Bytes::from(answer.to_string())),
        Err(why) => bad(&why),
    }
}
