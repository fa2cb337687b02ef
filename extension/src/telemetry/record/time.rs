//! RFC 3339 timestamps as the Telemetry API writes them (`2022-10-12T00:00:15.064Z`, or
//! with a numeric offset) to Unix nanoseconds, without a date library. A timestamp that
//! does not read is `None`: the record still counts, only its span loses its time.

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to nanoseconds since the Unix epoch (years
/// 1970–9999; up to nine fraction digits kept, more ignored).
pub fn parse_rfc3339_nanos(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    if day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos = 0u64;
    if let Some((&b'.', fraction)) = rest.split_first() {
        let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        for (i, c) in fraction[..len].iter().enumerate().take(9) {
            nanos += u64::from(c - b'0') * 10u64.pow(8 - i as u32);
        }
        rest = &fraction[len..];
    }
    let offset_secs: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = i64::from(digits(&[*h1, *h2])?);
            let minutes = i64::from(digits(&[*m1, *m2])?);
            let offset = hours * 3_600 + minutes * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400
        + i64::from(hour) * 3_600
        + i64::from(minute) * 60
        + i64::from(second.min(59))
        - offset_secs;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_timestamps_read_to_the_nanosecond() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2022-10-12T00:00:15.064Z", Some(1_665_532_815_064_000_000)),
            (
                "2022-10-12T00:00:15.064123456Z",
                Some(1_665_532_815_064_123_456),
            ),
            (
                "2022-10-12T00:00:15.0641234567Z",
                Some(1_665_532_815_064_123_456),
            ),
            (
                "2022-10-12T02:00:15.064+02:00",
                Some(1_665_532_815_064_000_000),
            ),
            ("2024-02-29T12:00:00Z", Some(1_709_208_000_000_000_000)),
            ("2023-02-29T12:00:00Z", None),
            ("2022-13-12T00:00:15Z", None),
            ("2022-10-12T24:00:15Z", None),
            ("2022-10-12T00:00:15", None),
            ("2022-10-12T00:00:15.Z", None),
            ("1969-12-31T23:59:59Z", None),
            ("2022-10-12", None),
            ("", None),
            ("２０２２-10-12T00:00:15Z", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_rfc3339_nanos(text), expected, "{text}");
        }
    }
}
