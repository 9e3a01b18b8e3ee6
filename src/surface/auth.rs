//! Gateway authentication and tenancy: the key check (X-API-Key or Bearer, constant time) and the
//! cache tenant derived from the caller's credential.

use http::{HeaderMap, HeaderName, Uri, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::CacheScope;
use crate::exchange::names;

/// The credential a client presented: `x-api-key`, `Authorization: Bearer`, azure `api-key`,
/// Gemini `x-goog-api-key`, or Gemini's `?key=` query parameter.
pub fn presented<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    let header = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    header(&names::X_API_KEY)
        .or_else(|| {
            header(&header::AUTHORIZATION).and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim())
                    .filter(|t| !t.is_empty())
            })
        })
        .or_else(|| header(&names::API_KEY))
        .or_else(|| header(&names::X_GOOG_API_KEY))
        .or_else(|| crate::upstream::credential::query_key(uri))
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// The gateway key, kept only as its SHA-256 so comparisons take the same time for any input.
pub struct GatewayKey([u8; 32]);

impl GatewayKey {
    pub fn new(key: &str) -> GatewayKey {
        GatewayKey(digest(key))
    }

    pub fn accepts(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        presented(uri, headers).is_some_and(|p| bool::from(digest(p).ct_eq(&self.0)))
    }
}

/// The cache tenant of a request: `global`, or a hash of the presented credential.
pub fn tenant(scope: CacheScope, uri: &Uri, headers: &HeaderMap) -> String {
    match (scope, presented(uri, headers)) {
        (CacheScope::Global, _) => "global".into(),
        (CacheScope::Tenant, Some(credential)) => hex::encode(&digest(credential)[..16]),
        (CacheScope::Tenant, None) => "anonymous".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn uri() -> Uri {
        Uri::from_static("/v1/chat/completions")
    }

    #[test]
    fn accepts_x_api_key_or_bearer_and_nothing_else() {
        let key = GatewayKey::new("secret");
        let accepts = |h: &HeaderMap| key.accepts(&uri(), h);
        assert!(accepts(&headers(&[("x-api-key", "secret")])));
        assert!(accepts(&headers(&[("authorization", "Bearer secret")])));
        assert!(accepts(&headers(&[("authorization", "bearer  secret ")])));
        assert!(!accepts(&headers(&[("authorization", "Basic secret")])));
        assert!(!accepts(&headers(&[("x-api-key", "secret2")])));
        assert!(!accepts(&headers(&[])));
        let gemini = Uri::from_static("/v1beta/models/m:generateContent?key=secret");
        assert!(key.accepts(&gemini, &headers(&[])));
    }

    #[test]
    fn tenants_follow_the_credential_unless_global() {
        let a = headers(&[("authorization", "Bearer a")]);
        let b = headers(&[("x-api-key", "b")]);
        let tenant = |scope, h: &HeaderMap| tenant(scope, &uri(), h);
        assert_ne!(
            tenant(CacheScope::Tenant, &a),
            tenant(CacheScope::Tenant, &b)
        );
        assert_eq!(
            tenant(CacheScope::Tenant, &a),
            tenant(CacheScope::Tenant, &headers(&[("x-api-key", "a")]))
        );
        assert_eq!(
            tenant(CacheScope::Global, &a),
            tenant(CacheScope::Global, &b)
        );
        assert_eq!(tenant(CacheScope::Tenant, &headers(&[])), "anonymous");
    }
}
