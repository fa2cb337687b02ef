//! Sanitizing: invalid values, names, dimensions and namespaces are dropped and counted.

use super::*;

#[test]
fn bad_namespaces_are_refused() {
    for namespace in [
        "",
        " ",
        "AWS/Lambda",
        ":x",
        "a\nb",
        "ünicode",
        &"n".repeat(256),
    ] {
        let err = EmfEncoder::new(namespace).unwrap_err();
        assert!(matches!(&err, EmfError::InvalidNamespace { namespace: n, .. } if n == namespace));
        assert!(
            err.to_string().starts_with("invalid emf namespace"),
            "{err}"
        );
    }
    assert_eq!(
        EmfEncoder::new(&"n".repeat(255)).unwrap().namespace().len(),
        255
    );
}

#[test]
fn bad_values_are_dropped_alone() {
    let input = batch(vec![
        count(
            "Mixed",
            &[
                1.0,
                f64::NAN,
                2.5,
                f64::INFINITY,
                f64::NEG_INFINITY,
                1e200,
                -1e-200,
                0.0,
                -3.0,
            ],
        ),
        count("AllBad", &[f64::NAN, f64::NAN]),
        count("LastGood", &[f64::NAN, 4.0]),
    ]);
    let (docs, stats) = run(&encoder(), &input);
    assert_eq!(
        stats,
        EncodeStats {
            documents: 1,
            values_written: 5,
            values_rejected: 8,
            series_rejected: 0
        }
    );
    let read: Vec<(&str, &[f64])> = docs[0]
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), m.values.as_slice()))
        .collect();
    assert_eq!(
        read,
        [
            ("Mixed", &[1.0, 2.5, 0.0, -3.0][..]),
            ("LastGood", &[4.0][..])
        ]
    );
}

#[test]
fn bad_names_reject_their_series() {
    let input = batch(vec![
        count("", &[1.0]),
        count("   ", &[1.0]),
        count(&"x".repeat(256), &[1.0, 2.0]),
        count("new\nline", &[1.0]),
        count("_aws", &[1.0]),
        count("FunctionName", &[1.0]),
        count(&"é".repeat(255), &[3.0]),
        count("Good", &[4.0]),
    ]);
    let (docs, stats) = run(&encoder(), &input);
    assert_eq!(
        stats,
        EncodeStats {
            documents: 1,
            values_written: 2,
            values_rejected: 7,
            series_rejected: 6
        }
    );
    let names: Vec<&str> = docs[0].metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, [&"é".repeat(255), "Good"]);
}

#[test]
fn thirty_dimensions_pass_thirty_one_do_not() {
    let names: Vec<String> = (0..31).map(|i| format!("Dim{i:02}")).collect();
    let thirty: Vec<(&str, &str)> = names[..30].iter().map(|n| (n.as_str(), "v")).collect();
    let thirty_one: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let input = batch(vec![
        series("Wide", Unit::Count, Resolution::Standard, &thirty, &[1.0]),
        series(
            "TooWide",
            Unit::Count,
            Resolution::Standard,
            &thirty_one,
            &[1.0, 2.0],
        ),
        series(
            "TooWide2",
            Unit::Count,
            Resolution::Standard,
            &thirty_one,
            &[3.0],
        ),
    ]);
    let (docs, stats) = run(&encoder(), &input);
    assert_eq!(
        stats,
        EncodeStats {
            documents: 1,
            values_written: 1,
            values_rejected: 3,
            series_rejected: 2
        }
    );
    assert_eq!(docs[0].dimensions.len(), 30);
    assert_eq!(docs[0].metrics[0].name, "Wide");
}

#[test]
fn bad_dimensions_reject_their_series() {
    let long = "v".repeat(1025);
    let cases: [&[(&str, &str)]; 6] = [
        &[("FunctionName", "")],
        &[("FunctionName", long.as_str())],
        &[("FunctionName", "a\u{0}b")],
        &[("", "v")],
        &[("_aws", "v")],
        &[("A", "1"), ("A", "2")],
    ];
    let mut all = vec![count("Good", &[1.0])];
    all.extend(
        cases
            .iter()
            .map(|dims| series("M", Unit::Count, Resolution::Standard, dims, &[1.0])),
    );
    let (docs, stats) = run(&encoder(), &batch(all));
    assert_eq!(
        stats,
        EncodeStats {
            documents: 1,
            values_written: 1,
            values_rejected: 6,
            series_rejected: 6
        }
    );
    assert_eq!(docs[0].metrics[0].name, "Good");
    let kept = "€".repeat(1024);
    let (docs, _) = run(
        &encoder(),
        &batch(vec![series(
            "M",
            Unit::Count,
            Resolution::Standard,
            &[("D", &kept)],
            &[1.0],
        )]),
    );
    assert_eq!(docs[0].dimensions[0].1, kept);
}
