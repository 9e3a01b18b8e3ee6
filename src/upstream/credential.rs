//! The one exit for credentials: every inbound credential carrier is removed from what goes
//! upstream, then exactly one credential in the provider's own scheme is added. The gateway key
//! never leaves the process: when gateway auth is on, the client's key *is* the gateway key and is
//! never used upstream (see [`crate::gateway`]).

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Uri};

use crate::config::Provider;
use crate::exchange::names;

/// Every header in which some client or provider carries an API key.
pub const CARRIERS: &[&str] = &["authorization", "x-api-key", "api-key", "x-goog-api-key"];

/// The query parameter in which Gemini clients may carry their key.
pub const QUERY_CARRIER: &str = "key";

/// Whether a header carries a credential.
pub fn is_carrier(name: &HeaderName) -> bool {
    CARRIERS.contains(&name.as_str())
}

/// The header a provider takes its key in.
fn scheme(provider: Provider) -> HeaderName {
    match provider {
        Provider::Azure => names::API_KEY,
        Provider::Anthropic => names::X_API_KEY,
        Provider::Gemini => names::X_GOOG_API_KEY,
        Provider::Openai | Provider::Xai | Provider::Ollama => header::AUTHORIZATION,
    }
}

/// Removes every credential carrier from `headers`, then adds `secret` (if any) in `provider`'s
/// scheme, once. A secret that cannot be a header value (control characters) is not sent.
pub fn apply(provider: Provider, headers: &mut HeaderMap, secret: Option<&str>) {
    for name in CARRIERS {
        headers.remove(*name);
    }
    let Some(secret) = secret else {
        return;
    };
    let name = scheme(provider);
    let value = if name == header::AUTHORIZATION {
        HeaderValue::from_str(&format!("Bearer {secret}"))
    } else {
        HeaderValue::from_str(secret)
    };
    if let Ok(mut value) = value {
        value.set_sensitive(true);
        headers.insert(name, value);
    }
}

/// The `key` query parameter of a request URI, if it has one (Gemini's `?key=`).
pub fn query_key(uri: &Uri) -> Option<&str> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == QUERY_CARRIER)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_carriers() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (i, name) in CARRIERS.iter().enumerate() {
            h.insert(*name, format!("client-{i}").parse().unwrap());
        }
        h.insert("user-agent", "t".parse().unwrap());
        h
    }

    #[test]
    fn exactly_one_credential_in_the_providers_scheme() {
        for (provider, name, value) in [
            (Provider::Openai, "authorization", "Bearer ours"),
            (Provider::Xai, "authorization", "Bearer ours"),
            (Provider::Ollama, "authorization", "Bearer ours"),
            (Provider::Azure, "api-key", "ours"),
            (Provider::Anthropic, "x-api-key", "ours"),
            (Provider::Gemini, "x-goog-api-key", "ours"),
        ] {
            let mut h = all_carriers();
            apply(provider, &mut h, Some("ours"));
            let creds: Vec<_> = h.iter().filter(|(n, _)| is_carrier(n)).collect();
            assert_eq!(creds.len(), 1, "{provider:?}: {creds:?}");
            assert_eq!(creds[0].0.as_str(), name);
            assert_eq!(creds[0].1, value);
            assert_eq!(h["user-agent"], "t", "other headers stay");
            let mut h = all_carriers();
            apply(provider, &mut h, None);
            assert!(!h.keys().any(is_carrier), "{provider:?}: none when no key");
        }
    }

    #[test]
    fn query_keys_are_found() {
        let uri: Uri = "/v1beta/models/m:generateContent?alt=sse&key=abc"
            .parse()
            .unwrap();
        assert_eq!(query_key(&uri), Some("abc"));
        let uri: Uri = "/x?keys=1&key=".parse().unwrap();
        assert_eq!(query_key(&uri), None);
    }
}
