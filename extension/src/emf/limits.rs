//! The EMF and CloudWatch limits every document respects, and the checks that sort out the
//! names, dimensions and namespaces that would otherwise make a document invalid. The
//! naming rules themselves (lengths, `_aws`, blank and control characters) are the
//! protocol's, `liftwatch::protocol::names`, so the SDK, the intake and the encoder agree.

use liftwatch::protocol::names::{
    MAX_DIMENSION_NAME_CHARS, MAX_DIMENSION_VALUE_CHARS, MAX_NAME_CHARS, METADATA_MEMBER, blank,
    has_control, longer_than, visible,
};

/// Metric definitions in one directive (EMF: "MUST NOT contain more than 100").
pub const MAX_METRICS_PER_DOCUMENT: usize = 100;
/// Dimension keys in one dimension set (EMF: "MUST NOT contain more than 30").
pub const MAX_DIMENSIONS: usize = 30;
/// Values in one metric array (EMF: "MUST NOT have more than 100 members").
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// CloudWatch Logs' event limit. Every document, newline included, stays below it.
pub const MAX_DOCUMENT_BYTES: usize = 1_048_576;

/// Why a whole series was left out of every document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rejection {
    /// Blank, longer than 255 characters, holding a control character, or `_aws`.
    MetricName,
    /// More than [`MAX_DIMENSIONS`] dimensions.
    TooManyDimensions,
    /// A dimension name that is blank, over 250 characters, not ASCII, starts with `:`,
    /// holds a control character, is `_aws`, or appears twice.
    DimensionName,
    /// A dimension value that is blank, over 1024 characters or holds a control character.
    DimensionValue,
    /// The metric is named like one of its own dimensions: both would be the same root
    /// member.
    NameClash,
}

/// Why a namespace is refused, or `None` when CloudWatch accepts it: 1–255 ASCII characters,
/// not blank, no control characters, not starting with `:` or the reserved `AWS/`.
pub fn namespace_problem(namespace: &str) -> Option<&'static str> {
    if blank(namespace) {
        Some("must not be empty or blank")
    } else if namespace.len() > MAX_NAME_CHARS {
        Some("longer than 255 characters")
    } else if !namespace.is_ascii() {
        Some("must be ascii")
    } else if has_control(namespace) {
        Some("contains a control character")
    } else if namespace.starts_with(':') {
        Some("must not start with ':'")
    } else if namespace.starts_with("AWS/") {
        Some("the AWS/ prefix is reserved for AWS services")
    } else {
        None
    }
}

/// Checks a metric name: 1–255 characters, not blank, no control characters, not `_aws`.
pub(super) fn check_metric_name(name: &str) -> Result<(), Rejection> {
    if !visible(name) || longer_than(name, MAX_NAME_CHARS) || name == METADATA_MEMBER {
        return Err(Rejection::MetricName);
    }
    Ok(())
}

/// Checks a dimension set: at most 30 dimensions, each name valid and unique, each value
/// valid. The rules match the intake's (`liftwatch::protocol::check_dimensions`) with the
/// EMF schema's 250-character bound on names.
pub(super) fn check_dimensions(dimensions: &[(String, String)]) -> Result<(), Rejection> {
    if dimensions.len() > MAX_DIMENSIONS {
        return Err(Rejection::TooManyDimensions);
    }
    for (i, (name, value)) in dimensions.iter().enumerate() {
        if !visible(name)
            || name.len() > MAX_DIMENSION_NAME_CHARS
            || !name.is_ascii()
            || name.starts_with(':')
            || name == METADATA_MEMBER
            || dimensions[..i].iter().any(|(earlier, _)| earlier == name)
        {
            return Err(Rejection::DimensionName);
        }
        if !visible(value) || longer_than(value, MAX_DIMENSION_VALUE_CHARS) {
            return Err(Rejection::DimensionValue);
        }
    }
    Ok(())
}

/// Checks that a metric does not share its root member with one of its dimensions.
pub(super) fn check_no_clash(name: &str, dimensions: &[(String, String)]) -> Result<(), Rejection> {
    if dimensions.iter().any(|(dimension, _)| dimension == name) {
        return Err(Rejection::NameClash);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn metric_names() {
        let ok = [
            "Duration",
            "a",
            "Latency p99 (ms)",
            "héllo",
            &"x".repeat(255),
            &"é".repeat(255),
        ];
        for name in ok {
            assert_eq!(check_metric_name(name), Ok(()), "{name:?}");
        }
        let bad = [
            "",
            "   ",
            "_aws",
            "tab\there",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
            "\u{a0}\u{2003}",
            &"x".repeat(256),
            &"é".repeat(256),
        ];
        for name in bad {
            assert_eq!(
                check_metric_name(name),
                Err(Rejection::MetricName),
                "{name:?}"
            );
        }
    }

    #[test]
    fn dimension_sets() {
        assert_eq!(check_dimensions(&[]), Ok(()));
        assert_eq!(
            check_dimensions(&dims(&[("FunctionName", "f"), ("Rule", "r")])),
            Ok(())
        );
        let thirty: Vec<_> = (0..30).map(|i| (format!("D{i}"), "v".to_owned())).collect();
        assert_eq!(check_dimensions(&thirty), Ok(()));
        let thirty_one: Vec<_> = (0..31).map(|i| (format!("D{i}"), "v".to_owned())).collect();
        assert_eq!(
            check_dimensions(&thirty_one),
            Err(Rejection::TooManyDimensions)
        );

        let long_name = "n".repeat(251);
        let bad_names = ["", " ", ":Colon", "_aws", "Dé", "a\nb", long_name.as_str()];
        for name in bad_names {
            assert_eq!(
                check_dimensions(&dims(&[(name, "v")])),
                Err(Rejection::DimensionName),
                "{name:?}"
            );
        }
        assert_eq!(
            check_dimensions(&dims(&[("A", "1"), ("A", "2")])),
            Err(Rejection::DimensionName)
        );
        assert_eq!(check_dimensions(&dims(&[(&"n".repeat(250), "v")])), Ok(()));

        let long_value = "v".repeat(1025);
        for value in ["", "  ", "a\u{1}", long_value.as_str()] {
            assert_eq!(
                check_dimensions(&dims(&[("A", value)])),
                Err(Rejection::DimensionValue),
                "{value:?}"
            );
        }
        assert_eq!(check_dimensions(&dims(&[("A", &"€".repeat(1024))])), Ok(()));
    }

    #[test]
    fn clashes() {
        let set = dims(&[("FunctionName", "f"), ("Rule", "r")]);
        assert_eq!(check_no_clash("Rule", &set), Err(Rejection::NameClash));
        assert_eq!(check_no_clash("Rules", &set), Ok(()));
    }

    #[test]
    fn namespaces() {
        for ok in ["Liftwatch", "My App/Orders", "a:b", &"n".repeat(255)] {
            assert_eq!(namespace_problem(ok), None, "{ok:?}");
        }
        let bad = [
            "",
            "  ",
            ":x",
            "AWS/Lambda",
            "tab\tns",
            "Liftwätch",
            &"n".repeat(256),
        ];
        for namespace in bad {
            assert!(namespace_problem(namespace).is_some(), "{namespace:?}");
        }
    }
}
