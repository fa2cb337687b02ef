//! Encoding events into their canonical wire form, used by the SDK's client. The bytes are
//! pinned by `testdata/golden/`: fields in the order `v`, `type`, `name`, `value`, `unit`,
//! `kind`, then `dimensions` (sorted by name, omitted when empty) and `resolution` (only
//! when 1); no whitespace; numbers in their shortest round-trip decimal form without an
//! exponent; strings as UTF-8 with only `"`, `\` and control characters escaped. A
//! `ratelimit` event is written `v`, `type`, `rule`, `outcome`, `key_class`, `limit`,
//! `remaining`, `window_seconds`, `window_start`, the optional ones only when present.

use std::io::Write as _;

use super::{Event, MetricEvent, MetricKind, PROTOCOL_VERSION, RateLimitEvent, Resolution};
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
///     count: 1,
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
        Event::RateLimit(r) => write_rate_limit(buf, r),
        Event::Connection(c) => super::write_connection(buf, *c),
        Event::Span(span) => super::write_span(buf, span),
        Event::Sequence(s) => super::write_sequence(buf, &s.sender, s.seq, s.sent),
    }
}

/// Writes a rate-limit event (validate it first): the encoder behind [`encode`] and the
/// client's `rate_limit`.
pub(crate) fn write_rate_limit(buf: &mut Vec<u8>, r: &RateLimitEvent) {
    const _: () = assert!(PROTOCOL_VERSION == 1, "the prefix below spells the version");
    buf.extend_from_slice(br#"{"v":1,"type":"ratelimit","rule":"#);
    push_json_str(buf, &r.rule);
    buf.extend_from_slice(br#","outcome":""#);
    buf.extend_from_slice(r.outcome.as_str().as_bytes());
    buf.push(b'"');
    if let Some(class) = &r.key_class {
        buf.extend_from_slice(br#","key_class":"#);
        push_json_str(buf, class);
    }
    let mut field = |name: &[u8], value: Option<u64>| {
        if let Some(value) = value {
            buf.extend_from_slice(name);
            push_unsigned(buf, value);
        }
    };
    field(br#","limit":"#, r.limit);
    field(br#","remaining":"#, r.remaining);
    field(br#","window_seconds":"#, Some(u64::from(r.window_seconds)));
    field(br#","window_start":"#, r.window_start);
    buf.push(b'}');
}

fn encode_metric(m: &MetricEvent, buf: &mut Vec<u8>) {
    let dimensions = m.dimensions.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    write_metric(
        buf,
        &m.name,
        (m.value, m.count),
        m.unit,
        m.kind,
        dimensions,
        m.resolution,
    );
}

/// Writes a metric event from borrowed parts (dimensions in the order given): the one
/// encoder behind [`encode`], the client's shortcuts and the builder.
pub(crate) fn write_metric<'a>(
    buf: &mut Vec<u8>,
    name: &str,
    (value, count): (f64, u32),
    unit: Unit,
    kind: MetricKind,
    dimensions: impl IntoIterator<Item = (&'a str, &'a str)>,
    resolution: Resolution,
) {
    const _: () = assert!(PROTOCOL_VERSION == 1, "the prefix below spells the version");
    buf.extend_from_slice(br#"{"v":1,"type":"metric","name":"#);
    push_json_str(buf, name);
    buf.extend_from_slice(br#","value":"#);
    push_json_number(buf, value);
    if count != 1 {
        buf.extend_from_slice(br#","count":"#);
        buf.extend_from_slice(count.to_string().as_bytes());
    }
    buf.extend_from_slice(br#","unit":""#);
    buf.extend_from_slice(unit.as_str().as_bytes());
    buf.extend_from_slice(br#"","kind":""#);
    buf.extend_from_slice(kind.as_str().as_bytes());
    buf.push(b'"');
    let mut dimensions = dimensions.into_iter();
    if let Some((first_name, first_value)) = dimensions.next() {
        buf.extend_from_slice(br#","dimensions":{"#);
        push_json_str(buf, first_name);
        buf.push(b':');
        push_json_str(buf, first_value);
        for (name, value) in dimensions {
            buf.push(b',');
            push_json_str(buf, name);
            buf.push(b':');
            push_json_str(buf, value);
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
        push_shortest(buf, value);
    } else {
        buf.extend_from_slice(b"null");
    }
}

/// The longest number serde_json writes (`-2.2250738585072014e-308` is 24 bytes).
const SHORTEST_MAX_BYTES: usize = 32;
/// Up to this many significant digits, the shortest round-trip digits are unique (two
/// candidates one unit apart in the 15th digit cannot both read back as the same f64), so
/// any shortest formatter gives exactly `Display`'s digits.
const UNAMBIGUOUS_DIGITS: usize = 15;

/// Writes a finite f64 exactly as `Display` does (shortest round-trip digits, plain
/// notation). Values with up to 15 significant digits (`12.5`, `0.003`, most values a
/// handler sends) take their digits from serde_json's shortest formatter, several times
/// faster than `Display`, laid out in plain notation; longer ones use `Display`, because
/// for them two shortest candidates can tie and formatters break ties differently.
fn push_shortest(buf: &mut Vec<u8>, value: f64) {
    let mut text = [0u8; SHORTEST_MAX_BYTES];
    let mut rest = &mut text[..];
    let written = match serde_json::to_writer(&mut rest, &value) {
        Ok(()) => SHORTEST_MAX_BYTES - rest.len(),
        Err(_) => 0,
    };
    let mut digits = [0u8; SHORTEST_MAX_BYTES];
    match Decimal::parse(text.get(..written).unwrap_or_default(), &mut digits) {
        Some(decimal) if decimal.digits.len() <= UNAMBIGUOUS_DIGITS => decimal.write_plain(buf),
        // Writing into a Vec cannot fail.
        _ => {
            let _ = write!(buf, "{value}");
        }
    }
}

/// A decimal number as significant digits and the position of the point.
#[derive(Debug)]
struct Decimal<'a> {
    negative: bool,
    /// Significant digits, without leading or trailing zeros (empty for zero).
    digits: &'a [u8],
    /// Where the point goes, counted in digits from the first one (may be negative or
    /// past the end).
    point: i32,
}

impl<'a> Decimal<'a> {
    /// Reads a JSON number (`-12.5`, `1e21`, `1.5e-7`, `3.0`), copying its digits into
    /// `scratch`; `None` when it is not one of that shape.
    fn parse(number: &[u8], scratch: &'a mut [u8; SHORTEST_MAX_BYTES]) -> Option<Self> {
        let (negative, number) = match number.split_first()? {
            (b'-', rest) => (true, rest),
            _ => (false, number),
        };
        let (mantissa, exponent) = match number.iter().position(|&b| b == b'e' || b == b'E') {
            Some(at) => {
                let exponent = std::str::from_utf8(number.get(at + 1..)?)
                    .ok()?
                    .parse::<i32>()
                    .ok()?;
                (number.get(..at)?, exponent)
            }
            None => (number, 0),
        };
        let mut len = 0;
        let mut point = None;
        for &b in mantissa {
            match b {
                b'.' if point.is_none() => point = Some(len),
                b'0'..=b'9' => {
                    *scratch.get_mut(len)? = b;
                    len += 1;
                }
                _ => return None,
            }
        }
        if len == 0 {
            return None;
        }
        let mut point = i32::try_from(point.unwrap_or(len))
            .ok()?
            .checked_add(exponent)?;
        let mut digits = scratch.get(..len)?;
        while let Some((b'0', rest)) = digits.split_first() {
            digits = rest;
            point -= 1;
        }
        while let Some((b'0', rest)) = digits.split_last() {
            digits = rest;
        }
        Some(Decimal {
            negative,
            digits,
            point,
        })
    }

    /// Writes the number in plain notation: `-12.5`, `1000000000000000000000`,
    /// `0.00000015`, `3`, `-0`.
    fn write_plain(&self, buf: &mut Vec<u8>) {
        if self.negative {
            buf.push(b'-');
        }
        let count = i32::try_from(self.digits.len()).unwrap_or(i32::MAX);
        let zeros = |n: i32| std::iter::repeat_n(b'0', usize::try_from(n).unwrap_or(0));
        if self.digits.is_empty() {
            buf.push(b'0');
        } else if self.point <= 0 {
            buf.extend_from_slice(b"0.");
            buf.extend(zeros(-self.point));
            buf.extend_from_slice(self.digits);
        } else if self.point >= count {
            buf.extend_from_slice(self.digits);
            buf.extend(zeros(self.point - count));
        } else {
            let (whole, fraction) = self
                .digits
                .split_at(usize::try_from(self.point).unwrap_or(0));
            buf.extend_from_slice(whole);
            buf.push(b'.');
            buf.extend_from_slice(fraction);
        }
    }
}

fn push_integer(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    push_unsigned(buf, n.unsigned_abs());
}

fn push_unsigned(buf: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
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
            0.0,
            -0.0,
            1.0,
            -1.0,
            7.0,
            10.0,
            1234.0,
            -987_654_321.0,
            999_999_999_999_999.0,
            1e15,
            1e16,
            1e21,
            123_456_789_012_345_680.0,
            0.5,
            -0.25,
            12.5,
            0.1,
            1.0 / 3.0,
            1e-7,
            8.515_920e-109,
            1.174_271e108,
            2.0e-300,
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
    fn every_finite_value_is_written_as_display_writes_it() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut checked = 0;
        for i in 0..500_000_u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Half raw bit patterns (every magnitude), half short decimals (12.5, 0.003).
            let value = if i % 2 == 0 {
                f64::from_bits(state)
            } else {
                #[allow(clippy::cast_precision_loss)]
                let mantissa = (state % 1_000_000) as f64;
                mantissa / 10f64.powi(i32::try_from(state % 9).unwrap())
            };
            if !value.is_finite() {
                continue;
            }
            assert_eq!(number(value), value.to_string(), "{value:e}");
            checked += 1;
        }
        assert!(checked > 400_000, "{checked}");
    }

    #[test]
    fn decimals_are_laid_out_plainly() {
        let cases = [
            ("1e21", "1000000000000000000000"),
            ("-1.5e-7", "-0.00000015"),
            ("3.0", "3"),
            ("-0.0", "-0"),
            ("120.50", "120.5"),
            ("1.2345e3", "1234.5"),
            ("0.001", "0.001"),
            ("5e-3", "0.005"),
            ("1.5E+2", "150"),
        ];
        for (json, plain) in cases {
            let mut scratch = [0u8; SHORTEST_MAX_BYTES];
            let decimal = Decimal::parse(json.as_bytes(), &mut scratch).unwrap();
            let mut buf = Vec::new();
            decimal.write_plain(&mut buf);
            assert_eq!(String::from_utf8(buf).unwrap(), plain, "{json}");
        }
        for junk in ["", "-", "1.2.3", "1e", "abc", "1e99999999999"] {
            let mut scratch = [0u8; SHORTEST_MAX_BYTES];
            assert!(
                Decimal::parse(junk.as_bytes(), &mut scratch).is_none(),
                "{junk}"
            );
        }
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
    fn unsigned_integers_cover_the_whole_range() {
        for n in [0, 1, 10, 86_400, u64::MAX] {
            let mut buf = Vec::new();
            push_unsigned(&mut buf, n);
            assert_eq!(String::from_utf8(buf).unwrap(), n.to_string());
        }
    }

    #[test]
    fn strings_escape_like_serde_json() {
        for s in [
            "plain",
            "",
            "quote\"",
            "back\\slash",
            "tab\t",
            "nul\0",
            "é日本🦀",
            "slash/",
            "del\u{7f}",
        ] {
            let mut buf = Vec::new();
            push_json_str(&mut buf, s);
            assert_eq!(
                String::from_utf8(buf).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }
}
