//! The intake's fast path: a `metric` line written exactly as the SDK's encoder writes it
//! (fields in its order, no whitespace, no escapes) is read by a byte scanner instead of
//! serde_json, 2.1-2.4x faster (`cargo bench -p liftwatch --bench send -- decode`). Any other line, valid or not, makes [`metric`]
//! answer `None` and goes through the general decoder, so the two can never disagree:
//! the scanner only accepts what it reads whole, and its result is validated by the same
//! [`MetricEvent::validate`]. Tests compare both on every golden line and on mutations of
//! them; the `udp_datagram` fuzz target compares them on everything it generates.
//!
//! The shape read (optional parts in brackets, in this order):
//!
//! ```text
//! {"v":1,"type":"metric","name":S,"value":N[,"count":D][,"unit":S][,"kind":S][,"dimensions":{S:S(,S:S)*}][,"resolution":1|60]}
//! ```

use super::{MetricEvent, MetricKind, Resolution};
use crate::unit::Unit;

const PREFIX: &str = r#"{"v":1,"type":"metric","name":"#;

/// Reads a line in the SDK's canonical form into an unvalidated event; `None` for
/// anything else (the general decoder then reads it, or reports what is wrong).
pub(super) fn metric(line: &str) -> Option<MetricEvent> {
    let mut cursor = Cursor {
        rest: line.strip_prefix(PREFIX)?,
    };
    let name = cursor.string()?;
    cursor.literal(r#","value":"#)?;
    let value = cursor.number()?;
    let count = match cursor.literal(r#","count":"#) {
        None => 1,
        Some(()) => cursor.integer()?.parse().ok()?,
    };
    let mut event = MetricEvent {
        name: name.to_owned(),
        value,
        count,
        unit: Unit::None,
        kind: MetricKind::default(),
        dimensions: Vec::new(),
        resolution: Resolution::Standard,
    };
    if cursor.literal(r#","unit":"#).is_some() {
        event.unit = cursor.string()?.parse().ok()?;
    }
    if cursor.literal(r#","kind":"#).is_some() {
        event.kind = MetricKind::parse(cursor.string()?)?;
    }
    if cursor.literal(r#","dimensions":{"#).is_some() && cursor.literal("}").is_none() {
        loop {
            let dimension = cursor.string()?;
            cursor.literal(":")?;
            let value = cursor.string()?;
            event
                .dimensions
                .push((dimension.to_owned(), value.to_owned()));
            if cursor.literal(",").is_none() {
                break;
            }
        }
        cursor.literal("}")?;
    }
    if cursor.literal(r#","resolution":"#).is_some() {
        event.resolution = match cursor.digits()? {
            "1" => Resolution::High,
            "60" => Resolution::Standard,
            _ => return None,
        };
    }
    cursor.literal("}")?;
    cursor.rest.is_empty().then_some(event)
}

/// What is left of the line. Every position it stops at follows an ASCII byte, so the
/// slicing below is always on a character boundary.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn literal(&mut self, expected: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(expected)?;
        Some(())
    }

    /// A JSON string without escapes or control characters (those go the general way).
    fn string(&mut self) -> Option<&'a str> {
        let body = self.rest.strip_prefix('"')?;
        let end = body
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        if body.as_bytes().get(end) != Some(&b'"') {
            return None;
        }
        self.rest = body.get(end + 1..)?;
        body.get(..end)
    }

    /// One or more ASCII digits.
    fn digits(&mut self) -> Option<&'a str> {
        let len = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let (digits, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(digits)
    }

    /// A non-negative integer in JSON's grammar: no leading zero.
    fn integer(&mut self) -> Option<&'a str> {
        let digits = self.digits()?;
        (digits.len() == 1 || !digits.starts_with('0')).then_some(digits)
    }

    /// A number in JSON's grammar, `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, read
    /// with the standard library's correctly rounded parser (serde_json's
    /// `float_roundtrip`, which the general decoder uses, rounds the same way).
    fn number(&mut self) -> Option<f64> {
        let start = self.rest;
        let _minus = self.literal("-");
        self.integer()?;
        if self.literal(".").is_some() {
            self.digits()?;
        }
        if let Some(exponent) = self.rest.strip_prefix(['e', 'E']) {
            self.rest = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            self.digits()?;
        }
        let token = start.get(..start.len() - self.rest.len())?;
        let value: f64 = token.parse().ok()?;
        // serde_json reports an out-of-range number itself.
        value.is_finite().then_some(value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::{Event, decode_line, decode_line_general, encode};
    use super::*;

    fn golden_lines() -> Vec<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/golden");
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                let text = std::fs::read_to_string(&path).unwrap();
                lines.extend(text.lines().map(str::to_owned));
            }
        }
        assert!(lines.len() > 40, "{} golden lines", lines.len());
        lines
    }

    /// Both paths' answers, compared through `Debug` so that a value's sign counts.
    fn assert_same(line: &str) {
        let fast = format!("{:?}", decode_line(line));
        let general = format!("{:?}", decode_line_general(line));
        assert_eq!(fast, general, "{line}");
    }

    #[test]
    fn every_line_the_encoder_writes_takes_the_fast_path_and_decodes_the_same() {
        let mut fast = 0;
        for line in golden_lines() {
            assert_same(&line);
            if let Ok(Event::Metric(metric)) = decode_line_general(&line) {
                let mut canonical = Vec::new();
                encode(&Event::Metric(metric), &mut canonical);
                let canonical = String::from_utf8(canonical).unwrap();
                let escaped = canonical.contains('\\');
                assert_eq!(metric_is_fast(&canonical), !escaped, "{canonical}");
                assert_same(&canonical);
                fast += 1;
            }
        }
        assert!(fast > 20, "{fast} metric lines");
    }

    fn metric_is_fast(line: &str) -> bool {
        metric(line).is_some()
    }

    #[test]
    fn every_one_byte_mutation_of_a_golden_line_decodes_the_same_both_ways() {
        let replacements = [
            "", "\"", "\\", "}", "{", ",", ":", " ", "0", "-", ".", "e", "x", "\u{e9}",
        ];
        let mut checked = 0;
        // Short lines keep the test quick in a debug build; every field is in some of them.
        for line in golden_lines().iter().filter(|l| l.len() <= 120) {
            for (at, _) in line.char_indices() {
                let (head, tail) = line.split_at(at);
                let after = tail.chars().next().map_or(0, char::len_utf8);
                for r in replacements {
                    // The character replaced, and `r` inserted before it.
                    assert_same(&format!("{head}{r}{}", &tail[after..]));
                    assert_same(&format!("{head}{r}{tail}"));
                    checked += 2;
                }
            }
        }
        assert!(checked > 20_000, "{checked}");
    }

    #[test]
    fn numbers_in_json_s_grammar_only() {
        for (text, expected) in [
            ("0", Some(0.0)),
            ("-0", Some(-0.0)),
            ("1e400", None),
            ("-0.0", Some(-0.0)),
            ("12.5e-1", Some(1.25)),
            ("1E+2", Some(100.0)),
            ("18446744073709551617", Some(18_446_744_073_709_551_617.0)),
            ("01", None),
            ("1.", None),
            (".5", None),
            ("+1", None),
            ("1e", None),
            ("inf", None),
            ("NaN", None),
        ] {
            let line = format!(r#"{{"v":1,"type":"metric","name":"N","value":{text}}}"#);
            let value = metric(&line).map(|m| m.value);
            assert_eq!(
                value.map(f64::to_bits),
                expected.map(f64::to_bits),
                "{text}"
            );
            assert_same(&line);
        }
    }

    #[test]
    fn escapes_whitespace_and_other_orders_go_the_general_way() {
        for line in [
            r#"{"v":1,"type":"metric","name":"A\"","value":1}"#,
            r#"{"v":1,"type":"metric","name":"A","value":1 }"#,
            r#"{"v":1, "type":"metric","name":"A","value":1}"#,
            r#"{"v":1,"type":"metric","value":1,"name":"A"}"#,
            r#"{"v":1,"type":"metric","name":"A","value":1,"kind":"count","unit":"Count"}"#,
            r#"{"v":1,"type":"metric","name":"A","value":1,"extra":true}"#,
        ] {
            assert!(metric(line).is_none(), "{line}");
            assert_same(line);
        }
    }
}
