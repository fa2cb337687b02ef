//! The OTLP exporter's retry rules, as pure functions: which answers are worth another
//! attempt (OTLP/HTTP: 429, 502, 503, 504 and connection failures; no other status) and
//! the `Retry-After` hint in seconds. The loop, backoff and deadline are the workspace's
//! `liftwatch::retry`.

use std::time::Duration;

use hyper::StatusCode;
use hyper::header::HeaderValue;

/// What to do with a response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: accepted (maybe partially).
    Accepted,
    /// Worth another attempt.
    Retry,
    /// Never going to be accepted: drop.
    Refused,
}

/// The verdict for `status` under the OTLP/HTTP spec.
pub fn verdict(status: StatusCode) -> Verdict {
    match status.as_u16() {
        200..=299 => Verdict::Accepted,
        429 | 502 | 503 | 504 => Verdict::Retry,
        _ => Verdict::Refused,
    }
}

/// A `Retry-After` header given in seconds (the HTTP-date form is ignored: backoff applies).
pub fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    liftwatch::retry::retry_after_secs(value?.to_str().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_otlp_retry_rules() {
        let table = [
            (200, Verdict::Accepted),
            (202, Verdict::Accepted),
            (400, Verdict::Refused),
            (401, Verdict::Refused),
            (404, Verdict::Refused),
            (413, Verdict::Refused),
            (429, Verdict::Retry),
            (500, Verdict::Refused),
            (501, Verdict::Refused),
            (502, Verdict::Retry),
            (503, Verdict::Retry),
            (504, Verdict::Retry),
            (302, Verdict::Refused),
        ];
        for (code, expected) in table {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            assert_eq!(verdict(status), expected, "{code}");
        }
    }

    /// What this function adds to `liftwatch::retry::retry_after_secs` (whose own tests
    /// cover the values): the header may be absent or not text.
    #[test]
    fn retry_after_reads_the_header_as_text() {
        let header = HeaderValue::from_static("3");
        assert_eq!(retry_after(Some(&header)), Some(Duration::from_secs(3)));
        let opaque = HeaderValue::from_bytes(b"\xff3").unwrap_or(header);
        assert!(opaque.to_str().is_err());
        assert_eq!(retry_after(Some(&opaque)), None);
        assert_eq!(retry_after(None), None);
    }
}
