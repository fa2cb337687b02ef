//! OpenTelemetry units (UCUM case-sensitive codes, as the semantic conventions write them)
//! → CloudWatch units. Units CloudWatch lacks but can express are converted with a factor
//! (`ns` → microseconds ÷ 1000, `min` → seconds × 60, `KiBy` → bytes × 1024); annotations
//! (`{request}`) are counts; everything else, dimensionless `1` included, is `None`.

use liftwatch::Unit;

/// The CloudWatch unit for an OpenTelemetry unit, and the factor values are multiplied by.
pub fn cloudwatch_unit(otel: &str) -> (Unit, f64) {
    let otel = otel.trim();
    if let Some(per_second) = otel.strip_suffix("/s") {
        return per_second_unit(per_second);
    }
    match otel {
        "s" => (Unit::Seconds, 1.0),
        "ms" => (Unit::Milliseconds, 1.0),
        "us" | "\u{3bc}s" | "\u{b5}s" => (Unit::Microseconds, 1.0),
        "ns" => (Unit::Microseconds, 1e-3),
        "min" => (Unit::Seconds, 60.0),
        "h" => (Unit::Seconds, 3_600.0),
        "d" => (Unit::Seconds, 86_400.0),
        "By" => (Unit::Bytes, 1.0),
        "kBy" => (Unit::Kilobytes, 1.0),
        "MBy" => (Unit::Megabytes, 1.0),
        "GBy" => (Unit::Gigabytes, 1.0),
        "TBy" => (Unit::Terabytes, 1.0),
        "KiBy" => (Unit::Bytes, 1024.0),
        "MiBy" => (Unit::Bytes, 1_048_576.0),
        "GiBy" => (Unit::Bytes, 1_073_741_824.0),
        "bit" => (Unit::Bits, 1.0),
        "kbit" => (Unit::Kilobits, 1.0),
        "Mbit" => (Unit::Megabits, 1.0),
        "Gbit" => (Unit::Gigabits, 1.0),
        "Tbit" => (Unit::Terabits, 1.0),
        "%" => (Unit::Percent, 1.0),
        _ if is_annotation(otel) => (Unit::Count, 1.0),
        _ => (Unit::None, 1.0),
    }
}

fn per_second_unit(per: &str) -> (Unit, f64) {
    match per {
        "By" => (Unit::BytesPerSecond, 1.0),
        "kBy" => (Unit::KilobytesPerSecond, 1.0),
        "MBy" => (Unit::MegabytesPerSecond, 1.0),
        "GBy" => (Unit::GigabytesPerSecond, 1.0),
        "TBy" => (Unit::TerabytesPerSecond, 1.0),
        "KiBy" => (Unit::BytesPerSecond, 1024.0),
        "MiBy" => (Unit::BytesPerSecond, 1_048_576.0),
        "bit" => (Unit::BitsPerSecond, 1.0),
        "kbit" => (Unit::KilobitsPerSecond, 1.0),
        "Mbit" => (Unit::MegabitsPerSecond, 1.0),
        "Gbit" => (Unit::GigabitsPerSecond, 1.0),
        "Tbit" => (Unit::TerabitsPerSecond, 1.0),
        "" | "1" => (Unit::CountPerSecond, 1.0),
        _ if is_annotation(per) => (Unit::CountPerSecond, 1.0),
        _ => (Unit::None, 1.0),
    }
}

/// `{request}`, `{packet}`: a count of things, in UCUM's curly-brace annotation.
fn is_annotation(unit: &str) -> bool {
    unit.len() > 2 && unit.starts_with('{') && unit.ends_with('}') && !unit[1..].contains('{')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantic_convention_units_map_to_cloudwatch() {
        let cases = [
            ("s", Unit::Seconds, 1.0),
            ("ms", Unit::Milliseconds, 1.0),
            ("ns", Unit::Microseconds, 1e-3),
            ("min", Unit::Seconds, 60.0),
            ("By", Unit::Bytes, 1.0),
            ("MiBy", Unit::Bytes, 1_048_576.0),
            ("By/s", Unit::BytesPerSecond, 1.0),
            ("{request}", Unit::Count, 1.0),
            ("{request}/s", Unit::CountPerSecond, 1.0),
            ("/s", Unit::CountPerSecond, 1.0),
            ("%", Unit::Percent, 1.0),
            ("1", Unit::None, 1.0),
            ("", Unit::None, 1.0),
            ("{}", Unit::None, 1.0),
            ("furlong", Unit::None, 1.0),
            (" ms ", Unit::Milliseconds, 1.0),
        ];
        for (otel, unit, factor) in cases {
            assert_eq!(cloudwatch_unit(otel), (unit, factor), "{otel:?}");
        }
    }
}
