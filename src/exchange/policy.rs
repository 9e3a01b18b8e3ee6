//! What one request asks of the caches: `Cache-Control` (`no-cache`, `no-store`, `max-age`) and
//! `X-Isartor-Cache-TTL`.

/// What a request asks of the caches (`Cache-Control`, `X-Isartor-Cache-TTL`). Never part of
/// the key: it changes how the caches are used, not the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Look the request up (`no-cache` turns it off: a fresh answer is fetched, and stored).
    pub lookup: bool,
    /// Store the answer (`no-store` turns it off).
    pub store: bool,
    /// Serve only an entry at most this many seconds old (`max-age=N`).
    pub max_age: Option<u64>,
    /// Store the answer for this many seconds instead of `cache_ttl_secs`.
    pub ttl: Option<u64>,
}

impl Default for CachePolicy {
    fn default() -> CachePolicy {
        CachePolicy {
            lookup: true,
            store: true,
            max_age: None,
            ttl: None,
        }
    }
}

impl CachePolicy {
    /// The policy a request's headers ask for. Directives we do not use and malformed values
    /// are ignored (the request is served as if they were absent).
    pub fn from_headers(headers: &http::HeaderMap) -> CachePolicy {
        let mut policy = CachePolicy::default();
        for value in headers.get_all(http::header::CACHE_CONTROL) {
            for directive in value.to_str().unwrap_or("").split(',') {
                let directive = directive.trim().to_ascii_lowercase();
                match directive.split_once('=') {
                    None if directive == "no-cache" => policy.lookup = false,
                    None if directive == "no-store" => policy.store = false,
                    Some(("max-age", n)) => {
                        policy.max_age = n.trim().trim_matches('"').parse().ok().or(policy.max_age)
                    }
                    _ => {}
                }
            }
        }
        policy.ttl = headers
            .get(super::names::X_ISARTOR_CACHE_TTL)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n > 0);
        policy
    }

    /// Whether an entry of this age (`None`: unknown) may be served.
    pub fn accepts_age(&self, age_secs: Option<u64>) -> bool {
        match (self.max_age, age_secs) {
            (None, _) => true,
            (Some(max), Some(age)) => age <= max,
            (Some(_), None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_and_the_ttl_header_make_a_policy() {
        let policy = |pairs: &[(&'static str, &str)]| {
            let mut h = http::HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, v.parse().unwrap());
            }
            CachePolicy::from_headers(&h)
        };
        assert_eq!(policy(&[]), CachePolicy::default());
        let p = policy(&[("cache-control", "No-Cache, max-age=60")]);
        assert!(!p.lookup && p.store);
        assert_eq!(p.max_age, Some(60));
        assert!(p.accepts_age(Some(60)) && !p.accepts_age(Some(61)) && !p.accepts_age(None));
        assert!(CachePolicy::default().accepts_age(None));
        let p = policy(&[
            ("cache-control", "no-store"),
            ("x-isartor-cache-ttl", "3600"),
        ]);
        assert!(p.lookup && !p.store);
        assert_eq!(p.ttl, Some(3600));
        let odd = policy(&[
            ("cache-control", "max-age=soon, private"),
            ("x-isartor-cache-ttl", "0"),
        ]);
        assert_eq!(odd, CachePolicy::default());
    }
}
