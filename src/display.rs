//! How things are shown to people, shared by the CLI, the dashboard and the log: text a client
//! sent (a model name, a path) with control characters escaped so it cannot forge a line and cut
//! to a bounded length; URLs without their secrets; durations. A leaf module: it imports nothing
//! of ours.

use std::borrow::Cow;
use std::fmt::Write;

/// At most this many characters of client text are shown.
pub const MAX_CHARS: usize = 200;

/// `text` with control characters escaped (`\n`, `\r`, `\t`, `\u{1b}`…) and cut to
/// [`MAX_CHARS`] characters (an ellipsis marks the cut). Borrowed when nothing needed changing.
pub fn printable(text: &str) -> Cow<'_, str> {
    let clean = !text.chars().any(char::is_control) && text.len() <= MAX_CHARS;
    if clean {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(MAX_CHARS * 2));
    for (i, c) in text.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A URL with its userinfo (`user:password@`) and any `key=` query value replaced by `***`, for
/// messages, `/health` and logs. Text that does not parse as a URL is shown [`printable`].
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return printable(url).into_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("key") => format!("{k}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    printable(&format!("{scheme}://{host}{tail}")).into_owned()
}

/// A Unix time in milliseconds as RFC 3339 UTC (`2026-12-01T00:00:00Z`).
pub fn rfc3339(ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// `3725` → `1h 02m 05s`.
pub fn human_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}

/// A table cell's duration, one unit: `42s`, `7m`, `3h`, `2d`.
pub fn short_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// `512` → `512 B`, `2_300` → `2.2 KiB`, `5_000_000` → `4.8 MiB`.
pub fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// `850` → `850 µs`, `12_300` → `12.3 ms`, `2_500_000` → `2.50 s`.
pub fn micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(65), "1m 05s");
        assert_eq!(human_duration(3725), "1h 02m 05s");
        assert_eq!(micros(850), "850 µs");
        assert_eq!(short_duration(42), "42s");
        assert_eq!(short_duration(3 * 3600 + 5), "3h");
        assert_eq!(human_bytes(2_300), "2.2 KiB");
        assert_eq!(micros(12_300), "12.3 ms");
        assert_eq!(micros(2_500_000), "2.50 s");
    }

    #[test]
    fn control_characters_cannot_start_a_line() {
        let forged = "gpt\n2026-11-30T00:00:00Z  WARN l3: key revoked\r\x1b[31m";
        let shown = printable(forged);
        assert!(!shown.contains('\n') && !shown.contains('\r') && !shown.contains('\x1b'));
        assert_eq!(
            shown,
            "gpt\\n2026-11-30T00:00:00Z  WARN l3: key revoked\\r\\u{1b}[31m"
        );
        assert!(matches!(printable("gpt-4o-mini"), Cow::Borrowed(_)));
        let long = "x".repeat(MAX_CHARS + 50);
        assert_eq!(printable(&long).chars().count(), MAX_CHARS + 1);
    }

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            redacted_url("http://user:pass@host:8080/v1/chat?key=abc&alt=sse"),
            "http://***@host:8080/v1/chat?key=***&alt=sse"
        );
        assert_eq!(
            redacted_url("https://api.openai.com/v1/chat/completions"),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(redacted_url("not a url\n"), "not a url\\n");
    }
}
