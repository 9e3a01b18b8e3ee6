//! Browser defence. Loopback is not a trust boundary: any page the developer opens can send
//! requests to 127.0.0.1, and a DNS-rebinding page can read the answers under its own host name.
//! So the gateway refuses a `Host` that is not a loopback name, an IP address or listed in
//! `server.allowed_hosts`, and a browser request (an `Origin`, or a `Sec-Fetch-Site` other than
//! same-origin) whose origin is not in `server.allowed_origins`. Allowed origins get CORS grants.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Uri};

use crate::config::{ServerConfig, host_matches};

/// The browser rules of one gateway.
#[derive(Debug, Clone, Default)]
pub struct BrowserPolicy {
    hosts: Vec<String>,
    origins: Vec<String>,
}

/// Why a request was refused (the 403's message).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Host(String),
    Origin(String),
    CrossSite,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::Host(h) => format!(
                "Host {:?} is not this machine: requests must name localhost, an IP address or a \
                 host in server.allowed_hosts (a defence against DNS rebinding)",
                crate::display::printable(h)
            ),
            Refusal::Origin(o) => format!(
                "browser origin {:?} is not in server.allowed_origins: web pages may not use the \
                 gateway unless you allow them",
                crate::display::printable(o)
            ),
            Refusal::CrossSite => "cross-site browser request refused: web pages may not use the \
                 gateway unless their origin is in server.allowed_origins"
                .into(),
        }
    }
}

/// What an accepted request may get back: the CORS grant for an allowed origin.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Grant(pub Option<HeaderValue>);

impl BrowserPolicy {
    pub fn new(config: &ServerConfig) -> BrowserPolicy {
        BrowserPolicy {
            hosts: config
                .allowed_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
            origins: config
                .allowed_origins
                .iter()
                .map(|o| o.trim().to_ascii_lowercase())
                .collect(),
        }
    }

    /// Checks a request's `Host` (or h2 `:authority`) and its browser headers.
    pub fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<Grant, Refusal> {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        if let Some(host) = host
            && !self.host_allowed(host)
        {
            return Err(Refusal::Host(host.to_string()));
        }
        let origin = headers.get(header::ORIGIN);
        let fetch_site = headers
            .get(crate::exchange::names::SEC_FETCH_SITE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        match origin {
            Some(value) => {
                let text = value.to_str().unwrap_or("");
                if self.origin_allowed(text) {
                    Ok(Grant(Some(value.clone())))
                } else {
                    Err(Refusal::Origin(text.to_string()))
                }
            }
            // A browser request without an Origin (a no-cors GET, an image, a form in some
            // browsers) still says where it came from.
            None if fetch_site
                .as_deref()
                .is_some_and(|s| s != "same-origin" && s != "none") =>
            {
                Err(Refusal::CrossSite)
            }
            None => Ok(Grant(None)),
        }
    }

    fn host_allowed(&self, authority: &str) -> bool {
        let host = host_of(authority).to_ascii_lowercase();
        if host.parse::<std::net::IpAddr>().is_ok()
            || host == "localhost"
            || host.ends_with(".localhost")
        {
            return true;
        }
        self.hosts
            .iter()
            .any(|pattern| pattern == "*" || host_matches(pattern, &host))
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        origin != "null" && self.origins.iter().any(|o| o == "*" || *o == origin)
    }
}

/// The host part of an authority (`host:port`, `[v6]:port`), without brackets.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// Adds the CORS grant to a response for an allowed origin.
pub fn grant(headers: &mut HeaderMap, grant: &Grant) {
    if let Some(origin) = &grant.0 {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(
                "x-isartor-layer, x-isartor-deflected, x-isartor-provider, x-isartor-similarity",
            ),
        );
    }
}

/// The headers of a CORS preflight answer for an allowed origin.
pub fn preflight(request: &HeaderMap, headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, OPTIONS"),
    );
    if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
}

/// Whether a request is a CORS preflight.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str], origins: &[&str]) -> BrowserPolicy {
        BrowserPolicy::new(&ServerConfig {
            allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            ..ServerConfig::default()
        })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn check(p: &BrowserPolicy, pairs: &[(&'static str, &str)]) -> Result<Grant, Refusal> {
        p.check(&Uri::from_static("/v1/chat/completions"), &headers(pairs))
    }

    #[test]
    fn loopback_names_and_addresses_pass_other_hosts_do_not() {
        let p = policy(&[], &[]);
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "app.localhost:8080",
            "10.0.0.5:8080",
        ] {
            assert!(check(&p, &[("host", host)]).is_ok(), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
        ] {
            assert_eq!(
                check(&p, &[("host", host)]),
                Err(Refusal::Host(host.into())),
                "{host}"
            );
        }
        assert!(check(&p, &[]).is_ok(), "HTTP/1.0 without Host");
        let p = policy(&["isartor.internal", "*.svc"], &[]);
        assert!(check(&p, &[("host", "isartor.internal:8080")]).is_ok());
        assert!(check(&p, &[("host", "gw.svc")]).is_ok());
        assert!(check(&p, &[("host", "other.internal")]).is_err());
        assert!(check(&policy(&["*"], &[]), &[("host", "anything")]).is_ok());
    }

    #[test]
    fn browser_requests_need_an_allowed_origin() {
        let p = policy(&[], &["http://localhost:3000"]);
        let evil = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ];
        assert!(matches!(check(&p, &evil), Err(Refusal::Origin(_))));
        let null = [("origin", "null")];
        assert!(matches!(check(&p, &null), Err(Refusal::Origin(_))));
        let ok = check(&p, &[("origin", "http://localhost:3000")]).unwrap();
        assert_eq!(ok.0.unwrap(), "http://localhost:3000");
        assert_eq!(
            check(&p, &[("sec-fetch-site", "cross-site")]),
            Err(Refusal::CrossSite)
        );
        assert_eq!(
            check(&p, &[("sec-fetch-site", "same-site")]),
            Err(Refusal::CrossSite)
        );
        assert_eq!(
            check(&p, &[("sec-fetch-site", "none")]),
            Ok(Grant(None)),
            "typed into the address bar"
        );
        assert_eq!(check(&p, &[("user-agent", "curl/8")]), Ok(Grant(None)));
        assert!(check(&policy(&[], &["*"]), &[("origin", "https://x.example")]).is_ok());
    }
}
