//! JSON primitives for the EMF encoder: string literals and numbers appended straight to the
//! output buffer, with no intermediate `serde_json::Value` and no allocation of their own.

/// Integral values below this magnitude are written as integers (`42`, never `42.0`); every
/// such `f64` converts to `u64` exactly. From here on serde_json's formatter switches to
/// exponent form (`1e+16`), which has no trailing `.0` either.
const INTEGER_LIMIT: f64 = 1e16;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// For each byte, 0 when it is copied as is, else the letter of its escape (`u` for
/// `\u00XX`). The same table-driven approach as serde_json's.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends `s` as a JSON string literal, quotes included, escaped as RFC 8259 requires:
/// `"`, `\` and the C0 controls. Everything else, non-ASCII included, is copied as is.
pub(super) fn push_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPE[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0x0f)]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends an unsigned integer in decimal.
pub(super) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends a finite number in its shortest round-trip form: integers without a fraction
/// (`-0` as `0`), everything else through serde_json's float formatter (shortest
/// round-trip digits, `ryu`-style; exponent form outside `1e-5..1e16`).
///
/// The caller has checked the value with `liftwatch::protocol::check_value`. Writing into a
/// `Vec` cannot fail; the error is passed on rather than ignored, and the caller then drops
/// the value instead of writing a broken document.
pub(super) fn push_f64(out: &mut Vec<u8>, value: f64) -> Result<(), serde_json::Error> {
    let magnitude = value.abs();
    if magnitude < INTEGER_LIMIT {
        // A cast, not `fract()`, which is a libm call on baseline x86-64.
        let integer = magnitude as u64;
        if integer as f64 == magnitude {
            if value < 0.0 && integer != 0 {
                out.push(b'-');
            }
            push_u64(out, integer);
            return Ok(());
        }
    }
    serde_json::to_writer(out, &value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn string(s: &str) -> String {
        let mut out = Vec::new();
        push_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    fn number(v: f64) -> String {
        let mut out = Vec::new();
        push_f64(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_reads_them() {
        let cases = [
            ("plain", r#""plain""#),
            ("", r#""""#),
            (r#"a"b\c"#, r#""a\"b\\c""#),
            ("tab\there\nnl", r#""tab\there\nnl""#),
            ("\u{1}\u{1f}\u{8}\u{c}\r", r#""\u0001\u001f\b\f\r""#),
            ("héllo €𝄞", "\"héllo €𝄞\""),
            ("\u{7f}", "\"\u{7f}\""),
        ];
        for (input, expected) in cases {
            let written = string(input);
            assert_eq!(written, expected, "{input:?}");
            let back: String = serde_json::from_str(&written).unwrap();
            assert_eq!(back, input);
        }
    }

    #[test]
    fn every_c0_control_round_trips() {
        for code in 0u8..0x20 {
            let input = format!("a{}z", char::from(code));
            let back: String = serde_json::from_str(&string(&input)).unwrap();
            assert_eq!(back, input);
        }
    }

    #[test]
    fn integers_have_no_fraction() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-42.0, "-42"),
            (1_000_000.0, "1000000"),
            (9_007_199_254_740_993.0, "9007199254740992"),
            (9_999_999_999_999_998.0, "9999999999999998"),
            (1e16, "1e+16"),
            (1.5e20, "1.5e+20"),
        ];
        for (value, expected) in cases {
            assert_eq!(number(value), expected, "{value}");
        }
    }

    #[test]
    fn fractions_are_shortest_round_trip() {
        let cases = [
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
            (1e-7, "1e-7"),
            (1.174_271e108, "1.174271e+108"),
            (-8.515_92e-109, "-8.51592e-109"),
        ];
        for (value, expected) in cases {
            let written = number(value);
            assert_eq!(written, expected, "{value}");
            // std's parser is correctly rounded (serde_json's default one may be 1 ulp off).
            let back: f64 = written.parse().unwrap();
            assert_eq!(back.to_bits(), value.to_bits());
        }
    }

    #[test]
    fn u64_extremes() {
        let mut out = Vec::new();
        push_u64(&mut out, u64::MAX);
        out.push(b' ');
        push_u64(&mut out, 0);
        assert_eq!(out, b"18446744073709551615 0");
    }
}
