//! The validation rules of protocol version 1, shared by the SDK (before sending) and the
//! extension's intake (on receipt), so both sides accept exactly the same events.

use super::names::{
    MAX_DIMENSION_NAME_CHARS, MAX_DIMENSION_VALUE_CHARS, MAX_NAME_CHARS, METADATA_MEMBER, blank,
    has_control, is_reserved_metric_name, longer_than,
};
use super::{
    MAX_DIMENSIONS, MAX_KEY_CLASS_CHARS, MAX_MAGNITUDE, MAX_WINDOW_SECONDS, MIN_MAGNITUDE,
    MetricKind, ProtocolError, RESERVED_DIMENSION, invalid,
};

/// Checks a metric or dimension name: 1–255 characters, not blank, not `_aws`, no control
/// characters.
pub(super) fn check_name(field: &'static str, name: &str) -> Result<(), ProtocolError> {
    if blank(name) {
        return Err(invalid(field, "must not be empty or blank"));
    }
    if longer_than(name, MAX_NAME_CHARS) {
        return Err(invalid(field, "longer than 255 characters"));
    }
    if name == METADATA_MEMBER {
        return Err(invalid(
            field,
            "_aws is reserved by the embedded metric format",
        ));
    }
    if has_control(name) {
        return Err(invalid(field, "contains a control character"));
    }
    Ok(())
}

/// Checks a metric name: 1–255 characters (Unicode scalar values), not empty or only
/// whitespace, no control characters, not one of the extension's own metric names
/// ([`names::RESERVED_METRIC_NAMES`](super::names::RESERVED_METRIC_NAMES)).
///
/// ```
/// use liftwatch::protocol::check_metric_name;
/// assert!(check_metric_name("Latency p99 (ms)").is_ok());
/// assert!(check_metric_name("  ").is_err());
/// assert!(check_metric_name("line\nbreak").is_err());
/// assert!(check_metric_name("Invocations").is_err());
/// ```
pub fn check_metric_name(name: &str) -> Result<(), ProtocolError> {
    check_name("name", name)?;
    if is_reserved_metric_name(name) {
        return Err(invalid(
            "name",
            "reserved for the extension's own metrics (docs/METRICS.md)",
        ));
    }
    Ok(())
}

/// Checks that a value is one CloudWatch accepts: finite, and zero or a magnitude within
/// [`MIN_MAGNITUDE`](super::MIN_MAGNITUDE)..=[`MAX_MAGNITUDE`](super::MAX_MAGNITUDE).
///
/// ```
/// use liftwatch::protocol::check_value;
/// assert!(check_value(-0.5).is_ok());
/// assert!(check_value(0.0).is_ok());
/// assert!(check_value(f64::INFINITY).is_err());
/// assert!(check_value(1e200).is_err());
/// ```
pub fn check_value(value: f64) -> Result<(), ProtocolError> {
    if !value.is_finite() {
        return Err(invalid("value", "must be a finite number"));
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(MIN_MAGNITUDE..=MAX_MAGNITUDE).contains(&magnitude) {
        return Err(invalid("value", "outside cloudwatch's range"));
    }
    Ok(())
}

/// Validates dimensions and returns them sorted by name: at most 29; names valid as
/// [`check_metric_name`] and also ASCII, not starting with `:`, not `FunctionName`, unique;
/// values 1–1024 characters, not only whitespace, no control characters.
///
/// ```
/// use liftwatch::protocol::check_dimensions;
/// let dims = vec![("Tenant".to_owned(), "acme".to_owned()), ("Region".to_owned(), "eu".to_owned())];
/// let sorted = check_dimensions(dims).unwrap();
/// assert_eq!(sorted[0].0, "Region");
/// assert!(check_dimensions(vec![("FunctionName".to_owned(), "f".to_owned())]).is_err());
/// ```
pub fn check_dimensions(
    mut dimensions: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, ProtocolError> {
    check_dimension_count(dimensions.len())?;
    for (name, value) in &dimensions {
        check_dimension(name, value)?;
    }
    dimensions.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if dimensions.windows(2).any(|pair| pair[0].0 == pair[1].0) {
        return Err(duplicate_dimension());
    }
    Ok(dimensions)
}

/// The first dimension check: at most [`MAX_DIMENSIONS`].
pub(crate) fn check_dimension_count(count: usize) -> Result<(), ProtocolError> {
    if count > MAX_DIMENSIONS {
        return Err(invalid("dimensions", "more than 29 dimensions"));
    }
    Ok(())
}

/// Checks one dimension as [`check_dimensions`] checks each of its pairs (the count and
/// uniqueness apart): for callers that keep the dimensions that pass and drop the rest.
///
/// ```
/// use liftwatch::protocol::check_dimension;
/// assert!(check_dimension("http.route", "/orders").is_ok());
/// assert!(check_dimension("FunctionName", "f").is_err());
/// assert!(check_dimension("Shop", " ").is_err());
/// ```
pub fn check_dimension(name: &str, value: &str) -> Result<(), ProtocolError> {
    check_name("dimensions", name)?;
    if longer_than(name, MAX_DIMENSION_NAME_CHARS) {
        return Err(invalid(
            "dimensions",
            "names must be at most 250 characters",
        ));
    }
    if !name.is_ascii() || name.starts_with(':') {
        return Err(invalid(
            "dimensions",
            "names must be ascii and not start with ':'",
        ));
    }
    if name == RESERVED_DIMENSION {
        return Err(invalid(
            "dimensions",
            "FunctionName is added by the extension",
        ));
    }
    if blank(value) || longer_than(value, MAX_DIMENSION_VALUE_CHARS) {
        return Err(invalid("dimensions", "values must be 1-1024 characters"));
    }
    if has_control(value) {
        return Err(invalid(
            "dimensions",
            "values must not contain control characters",
        ));
    }
    Ok(())
}

/// The last dimension check, once sorted by name: no name twice.
pub(crate) fn duplicate_dimension() -> ProtocolError {
    invalid("dimensions", "duplicate dimension name")
}

/// Checks a rate-limit rule name: 1–255 characters, not blank, no control characters and
/// no `#`. The rule becomes the CloudWatch dimension value `Rule` and part of a DynamoDB
/// key, where `#` separates the key's parts.
///
/// ```
/// use liftwatch::protocol::check_rule;
/// assert!(check_rule("login").is_ok());
/// assert!(check_rule("login#eu").is_err());
/// assert!(check_rule(" ").is_err());
/// ```
pub fn check_rule(rule: &str) -> Result<(), ProtocolError> {
    if blank(rule) {
        return Err(invalid("rule", "must not be empty or blank"));
    }
    if longer_than(rule, MAX_NAME_CHARS) {
        return Err(invalid("rule", "longer than 255 characters"));
    }
    if has_control(rule) {
        return Err(invalid("rule", "contains a control character"));
    }
    if rule.contains('#') {
        return Err(invalid("rule", "must not contain '#'"));
    }
    Ok(())
}

/// Checks a key class: 1–64 characters, each an ASCII letter, digit, `_`, `.`, `:` or `-`.
///
/// ```
/// use liftwatch::protocol::check_key_class;
/// assert!(check_key_class("h07").is_ok());
/// assert!(check_key_class("tenant:free-tier").is_ok());
/// assert!(check_key_class("user 42").is_err());
/// assert!(check_key_class("").is_err());
/// ```
pub fn check_key_class(class: &str) -> Result<(), ProtocolError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-');
    if class.is_empty() || class.len() > MAX_KEY_CLASS_CHARS || !class.bytes().all(allowed) {
        return Err(invalid(
            "key_class",
            "must be 1-64 characters of A-Z a-z 0-9 _ . : -",
        ));
    }
    Ok(())
}

/// Checks a rate-limit window length: 1–86,400 seconds (one second to one day).
///
/// ```
/// use liftwatch::protocol::check_window_seconds;
/// assert!(check_window_seconds(60).is_ok());
/// assert!(check_window_seconds(0).is_err());
/// assert!(check_window_seconds(86_401).is_err());
/// ```
pub fn check_window_seconds(seconds: u64) -> Result<(), ProtocolError> {
    if seconds == 0 || seconds > u64::from(MAX_WINDOW_SECONDS) {
        return Err(invalid("window_seconds", "must be 1-86400"));
    }
    Ok(())
}

/// The checks for a metric without dimensions, identical to [`super::MetricEvent::validate`]
/// on one: the SDK's borrowed fast path (`Client::count` and friends) uses it.
pub(crate) fn check_simple(name: &str, value: f64) -> Result<(), ProtocolError> {
    check_metric_name(name)?;
    check_value(value)
}

/// The largest `count` a metric event may carry.
///
/// ```
/// assert_eq!(liftwatch::protocol::MAX_COUNT, u32::MAX);
/// ```
pub const MAX_COUNT: u32 = u32::MAX;

/// Checks a metric event's `count`: at least 1, and above 1 only for a distribution (a
/// count or a gauge already carries its aggregate in `value`).
///
/// ```
/// use liftwatch::MetricKind;
/// use liftwatch::protocol::check_count;
/// assert!(check_count(1, MetricKind::Gauge).is_ok());
/// assert!(check_count(40, MetricKind::Distribution).is_ok());
/// assert!(check_count(0, MetricKind::Distribution).is_err());
/// assert!(check_count(2, MetricKind::Count).is_err());
/// ```
pub fn check_count(count: u32, kind: MetricKind) -> Result<(), ProtocolError> {
    match (count, kind) {
        (0, _) => Err(invalid("count", "must be at least 1")),
        (1, _) | (_, MetricKind::Distribution) => Ok(()),
        _ => Err(invalid("count", "above 1 only for a distribution")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn dims(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn reason(result: Result<impl std::fmt::Debug, ProtocolError>) -> &'static str {
        match result {
            Err(ProtocolError::InvalidField { reason, .. }) => reason,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn names_count_characters_not_bytes() {
        assert_eq!(check_metric_name(&"x".repeat(255)), Ok(()));
        assert_eq!(
            check_metric_name(&"é".repeat(255)),
            Ok(()),
            "510 bytes, 255 characters"
        );
        assert_eq!(
            reason(check_metric_name(&"é".repeat(256))),
            "longer than 255 characters"
        );
        assert_eq!(reason(check_metric_name("")), "must not be empty or blank");
        assert_eq!(
            reason(check_metric_name("\u{3000}\t")),
            "must not be empty or blank"
        );
        for bad in ["a\u{0}", "a\u{1f}", "a\u{7f}", "a\u{85}", "a\u{9f}"] {
            assert_eq!(
                reason(check_metric_name(bad)),
                "contains a control character",
                "{bad:?}"
            );
        }
        assert_eq!(
            check_metric_name("a\u{a0}b\u{200b}"),
            Ok(()),
            "only Cc characters are control"
        );
    }

    #[test]
    fn values_follow_cloudwatch_range() {
        for ok in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            MAX_MAGNITUDE,
            -MAX_MAGNITUDE,
            MIN_MAGNITUDE,
        ] {
            assert_eq!(check_value(ok), Ok(()), "{ok}");
        }
        assert_eq!(reason(check_value(f64::NAN)), "must be a finite number");
        assert_eq!(
            reason(check_value(f64::NEG_INFINITY)),
            "must be a finite number"
        );
        assert_eq!(reason(check_value(1.2e108)), "outside cloudwatch's range");
        assert_eq!(reason(check_value(-8.5e-109)), "outside cloudwatch's range");
        assert_eq!(
            reason(check_value(f64::MIN_POSITIVE)),
            "outside cloudwatch's range"
        );
    }

    #[test]
    fn names_that_would_clash_in_an_emf_document_are_refused() {
        assert_eq!(
            reason(check_metric_name("_aws")),
            "_aws is reserved by the embedded metric format"
        );
        assert!(check_dimensions(dims(&[("_aws", "x")])).is_err());
        assert!(check_dimensions(dims(&[(&"d".repeat(250), "x")])).is_ok());
        assert_eq!(
            reason(check_dimensions(dims(&[(&"d".repeat(251), "x")]))),
            "names must be at most 250 characters"
        );
        let event = super::super::MetricEvent {
            name: "Tenant".into(),
            value: 1.0,
            count: 1,
            unit: crate::Unit::Count,
            kind: super::super::MetricKind::Count,
            dimensions: dims(&[("Tenant", "acme")]),
            resolution: super::super::Resolution::Standard,
        };
        assert_eq!(
            reason(event.validate()),
            "a metric cannot share its name with one of its dimensions"
        );
    }

    #[test]
    fn dimensions_are_checked_and_sorted() {
        let sorted = check_dimensions(dims(&[("b", "2"), ("a", "1"), ("C", "3")])).unwrap();
        assert_eq!(
            sorted,
            dims(&[("C", "3"), ("a", "1"), ("b", "2")]),
            "byte order"
        );
        let max: Vec<_> = (0..29)
            .map(|i| (format!("d{i:02}"), "v".to_owned()))
            .collect();
        assert_eq!(check_dimensions(max.clone()).map(|d| d.len()), Ok(29));
        let mut over = max;
        over.push(("d29".to_owned(), "v".to_owned()));
        assert_eq!(reason(check_dimensions(over)), "more than 29 dimensions");
        let cases: [(&[(&str, &str)], &str); 9] = [
            (&[("", "v")], "must not be empty or blank"),
            (&[("é", "v")], "names must be ascii and not start with ':'"),
            (&[(":a", "v")], "names must be ascii and not start with ':'"),
            (
                &[("FunctionName", "f")],
                "FunctionName is added by the extension",
            ),
            (&[("a", " ")], "values must be 1-1024 characters"),
            (&[("a", "")], "values must be 1-1024 characters"),
            (
                &[("a", "x\ty")],
                "values must not contain control characters",
            ),
            (&[("a", "1"), ("a", "2")], "duplicate dimension name"),
            (&[("a\n", "1")], "contains a control character"),
        ];
        for (pairs, expected) in cases {
            assert_eq!(reason(check_dimensions(dims(pairs))), expected, "{pairs:?}");
        }
        let long = "é".repeat(1024);
        assert!(check_dimensions(dims(&[("a", &long)])).is_ok());
        let longer = "é".repeat(1025);
        assert_eq!(
            reason(check_dimensions(dims(&[("a", &longer)]))),
            "values must be 1-1024 characters"
        );
        assert!(
            check_dimensions(dims(&[("functionname", "f")])).is_ok(),
            "case-sensitive"
        );
    }

    #[test]
    fn the_byte_scans_agree_with_the_char_definitions() {
        let samples = [
            "",
            " ",
            "\t\n\u{b}\u{c}\r",
            "\u{3000}",
            "\u{85}",
            "a",
            " a",
            "\u{a0}",
            "é",
            "\u{80}",
            "\u{9f}",
            "\u{a0}\u{c2}",
            "x\u{7f}",
            "\u{1f}",
            "ok\u{2028}",
            "\u{feff}",
            "日本",
        ];
        for s in samples {
            assert_eq!(blank(s), s.trim().is_empty(), "{s:?}");
            assert_eq!(has_control(s), s.chars().any(char::is_control), "{s:?}");
        }
        for c in (0..=0x3000).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            assert_eq!(has_control(&s), c.is_control(), "{c:?}");
            assert_eq!(blank(&c.to_string()), c.is_whitespace(), "{c:?}");
        }
    }

    #[test]
    fn the_fast_path_checks_what_validate_checks() {
        assert_eq!(check_simple("A", 1.0), Ok(()));
        assert_eq!(
            reason(check_simple("", f64::NAN)),
            "must not be empty or blank",
            "name first"
        );
        assert_eq!(
            reason(check_simple("A", f64::NAN)),
            "must be a finite number"
        );
    }

    #[test]
    fn rate_limit_fields() {
        assert_eq!(check_rule(&"é".repeat(255)), Ok(()));
        assert_eq!(
            reason(check_rule(&"é".repeat(256))),
            "longer than 255 characters"
        );
        assert_eq!(reason(check_rule("")), "must not be empty or blank");
        assert_eq!(
            reason(check_rule("a\u{85}")),
            "contains a control character"
        );
        assert_eq!(reason(check_rule("a#b")), "must not contain '#'");
        assert_eq!(check_rule("_aws"), Ok(()), "a dimension value, not a name");
        assert_eq!(check_key_class(&"k".repeat(64)), Ok(()));
        assert_eq!(check_key_class("A-z_0.9:"), Ok(()));
        for bad in ["", "é", "a b", "a#b", "a/b"] {
            assert!(check_key_class(bad).is_err(), "{bad:?}");
        }
        assert!(check_key_class(&"k".repeat(65)).is_err());
        assert_eq!(check_window_seconds(1), Ok(()));
        assert_eq!(check_window_seconds(86_400), Ok(()));
        assert_eq!(reason(check_window_seconds(0)), "must be 1-86400");
        assert_eq!(reason(check_window_seconds(u64::MAX)), "must be 1-86400");
    }
}
