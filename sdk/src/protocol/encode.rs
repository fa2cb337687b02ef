//! Encoding events into their canonical wire form, used by the SDK's client. The bytes are
//! pinned by `testdata/golden/`: fields in the order `v`, `type`, `name`, `value`, `unit`,
//! `kind`, then `dimensions` (sorted by name, omitted when empty) and `resolution` (only
//! when 1); no whitespace; numbers in their shortest round-trip decimal form without an
//! exponent; strings as UTF-8 with only `"`, `\` and control characters escaped.

use std::fmt::Write as _;

use super::{Event, MetricEvent, MetricKind, PROTOCOL_VERSION, Resolution};
use crate::unit::Unit;

/// Appends `event` to `buf` as one JSON line (without the trailing newline). The event is
/// written as given: validate it first ([`MetricEvent::validate`] sorts the dimensions).
///
/// ```
/// use liftwatch::protocol::{encode, Event, MetricEvent};
/// use liftwatch::{MetricKind, Resolution, Unit};
/// let event = MetricEvent {
///     name: "QueryTime".into(),
///     value: 12.5,
///     unit: Unit::Milliseconds,
///     kind: MetricKind::Distribution,
///     dimensions: vec![("Table".into(), "orders".into())],
///     resolution: Resolution::High,
/// };
/// let mut buf = Vec::new();
/// encode(&Event::Metric(event), &mut buf);
/// assert_eq!(
///     String::from_utf8(buf).unwrap(),
///     r#"{"v":1,"type":"metric","name":"QueryTime","value":12.5,"unit":"Milliseconds","kind":"distribution","dimensions":{"Table":"orders"},"resolution":1}"#
/// );
/// ```
pub fn encode(event: &Event, buf: &mut Vec<u8>) {
    match event {
        Event::Metric(m) => encode_metric(m, buf),
    }
}

fn encode_metric(m: &MetricEvent, buf: &mut Vec<u8>) {
    write_metric(buf, &m.name, m.value, m.unit, m.kind, &m.dimensions, m.resolution);
}

/// Writes a metric event from borrowed parts: the one encoder behind [`encode`] and the
/// client's allocation-free fast path.
pub(crate) fn write_metric<N: AsRef<str>, V: AsRef<str>>(
    buf: &mut Vec<u8>,
    name: &str,
    value: f64,
    unit: Unit,
    kind: MetricKind,
    dimensions: &[(N, V)],
    resolution: Resolution,
) {
    const _: () = assert!(PROTOCOL_VERSION == 1, "the prefix below spells the version");
    buf.extend_from_slice(br#"{"v":1,"type":"metric","name":"#);
    push_json_str(buf, name);
    buf.extend_from_slice(br#","value":"#);
    push_json_number(buf, value);
    buf.extend_from_slice(br#","unit":""#);
    buf.extend_from_slice(unit.as_str().as_bytes());
    buf.extend_from_slice(br#"","kind":""#);
    buf.extend_from_slice(kind.as_str().as_bytes());
    buf.push(b'"');
    if let Some(((first_name, first_value), rest)) = dimensions.split_first() {
        buf.extend_from_slice(br#","dimensions":{"#);
        push_json_str(buf, first_name.as_ref());
        buf.push(b':');
        push_json_str(buf, first_value.as_ref());
        for (name, value) in rest {
            buf.push(b',');
            push_json_str(buf, name.as_ref());
            buf.push(b':');
            push_json_str(buf, value.as_ref());
        }
        buf.push(b'}');
    }
    if resolution == Resolution::High {
        buf.extend_from_slice(br#","resolution":1"#);
    }
    buf.push(b'}');
}

/// Writes `s` as a JSON string, escaping exactly as serde_json does.
fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, s);
    } else {
        buf.reserve(s.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    }
}

/// Integers below this magnitude are exact in an f64 and printed by the integer path.
const EXACT_INTEGER_LIMIT: f64 = 1e15;

/// Writes a finite f64 as a JSON number: the shortest decimal that reads back as the same
/// f64, never with an exponent, integers without a fraction (`1`, `-0`, `0.25`). A
/// non-finite value, which validation never lets through, is written as `null`.
fn push_json_number(buf: &mut Vec<u8>, value: f64) {
    let integral = value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT;
    if integral && !(value == 0.0 && value.is_sign_negative()) {
        // The same digits as `Display` for f64, without the float formatting machinery.
        #[allow(clippy::cast_possible_truncation)]
        push_integer(buf, value as i64);
    } else if value.is_finite() {
        let mut text = String::new();
        let _ = write!(text, "{value}");
        buf.extend_from_slice(text.as_bytes());
    } else {
        buf.extend_from_slice(b"null");
    }
}

fn push_integer(buf: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        // `rest % 10` is below 10.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (rest % 10) as u8;
        if let Some(slot) = digits.get_mut(at) {
            *slot = b'0' + digit;
        }
        rest /= 10;
        if rest == 0 || at == 0 {
            break;
        }
    }
    if n < 0 {
        buf.push(b'-');
    }
    buf.extend_from_slice(digits.get(at..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn number(value: f64) -> String {
        let mut buf = Vec::new();
        push_json_number(&mut buf, value);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn numbers_match_display_and_read_back() {
        let samples = [
            0.0, -0.0, 1.0, -1.0, 7.0, 10.0, 1234.0, -987_654_321.0, 999_999_999_999_999.0,
            1e15, 1e16, 1e21, 123_456_789_012_345_680.0, 0.5, -0.25, 12.5, 0.1, 1.0 / 3.0,
            1e-7, 8.515_920e-109, 1.174_271e108, 2.0e-300,
        ];
        for value in samples {
            let text = number(value);
            assert_eq!(text, value.to_string(), "{value:e}");
            let back: f64 = serde_json::from_str(&text).unwrap();
            assert_eq!(back.to_bits(), value.to_bits(), "{text}");
        }
        assert_eq!(number(-0.0), "-0");
        assert_eq!(number(f64::NAN), "null");
        assert_eq!(number(f64::INFINITY), "null");
    }

    #[test]
    fn every_value_in_cloudwatch_range_reads_back_exactly() {
        // xorshift over f64 bit patterns; the decoder must return the very same f64.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut checked = 0;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let value = f64::from_bits(state);
            if crate::protocol::check_value(value).is_err() {
                continue;
            }
            let text = number(value);
            let back: f64 = serde_json::from_str(&text).unwrap();
            assert_eq!(back.to_bits(), value.to_bits(), "{text}");
            checked += 1;
        }
        assert!(checked > 50_000, "{checked}");
    }

    #[test]
    fn integers_cover_the_whole_range() {
        for n in [0, 1, 9, 10, 99, 100, -1, -10, i64::MAX, i64::MIN] {
            let mut buf = Vec::new();
            push_integer(&mut buf, n);
            assert_eq!(String::from_utf8(buf).unwrap(), n.to_string());
        }
    }

    #[test]
    fn strings_escape_like_serde_json() {
        for s in ["plain", "", "quote\"", "back\\slash", "tab\t", "nul\0", "é日本🦀", "slash/", "del\u{7f}"] {
            let mut buf = Vec::new();
            push_json_str(&mut buf, s);
            assert_eq!(String::from_utf8(buf).unwrap(), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }
}
