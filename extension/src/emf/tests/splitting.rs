//! Splitting at the metric, value and byte limits, with every value accounted for.

use super::*;

#[test]
fn splits_250_metrics_into_100_100_50() {
    let input = batch(
        (0..250)
            .map(|i| count(&format!("Metric{i:03}"), &[f64::from(i)]))
            .collect(),
    );
    let (docs, stats) = run(&encoder(), &input);
    assert_eq!(metric_counts(&docs), [100, 100, 50]);
    assert_eq!(
        stats,
        EncodeStats {
            documents: 3,
            values_written: 250,
            values_rejected: 0,
            series_rejected: 0
        }
    );
    let names: Vec<String> = docs
        .iter()
        .flat_map(|d| &d.metrics)
        .map(|m| m.name.clone())
        .collect();
    let expected: Vec<String> = (0..250).map(|i| format!("Metric{i:03}")).collect();
    assert_eq!(names, expected);
    assert_eq!(docs[2].metrics[49].values, [249.0]);
}

#[test]
fn splits_250_values_into_100_100_50() {
    let values: Vec<f64> = (0..250).map(f64::from).collect();
    let input = batch(vec![
        count("Duration", &values),
        count("Invocations", &[1.0]),
    ]);
    let (docs, stats) = run(&encoder(), &input);
    assert_eq!(stats.documents, 3);
    let lens: Vec<Vec<usize>> = docs
        .iter()
        .map(|d| d.metrics.iter().map(|m| m.values.len()).collect())
        .collect();
    // The single-value series shares the first document.
    assert_eq!(lens, [vec![100, 1], vec![100], vec![50]]);
    let duration: Vec<f64> = docs
        .iter()
        .flat_map(|d| &d.metrics)
        .filter(|m| m.name == "Duration")
        .flat_map(|m| m.values.clone())
        .collect();
    assert_eq!(duration, values);
}

#[test]
fn counted_values_are_written_as_statistic_objects_of_at_most_100_values() {
    let values: Vec<f64> = (0..150).map(f64::from).collect();
    let counts: Vec<u32> = (0..150).map(|i| 1 + i % 7).collect();
    let mut weighted = count("Latency", &values);
    weighted.counts.clone_from(&counts);
    let single = Series {
        values: vec![4.5],
        counts: vec![1_000_000],
        ..count("One", &[])
    };
    let (docs, stats) = run(&encoder(), &batch(vec![weighted, single]));
    assert_eq!((stats.documents, stats.values_written), (2, 151));
    let read: Vec<(&str, usize, u32)> = docs
        .iter()
        .flat_map(|d| &d.metrics)
        .map(|m| (m.name.as_str(), m.values.len(), m.counts.iter().sum()))
        .collect();
    let first: u32 = counts[..100].iter().sum();
    let rest: u32 = counts[100..].iter().sum();
    assert_eq!(
        read,
        [
            ("Latency", 100, first),
            ("One", 1, 1_000_000),
            ("Latency", 50, rest)
        ]
    );
    let text = {
        let mut out = Vec::new();
        encoder().encode(
            &batch(vec![Series {
                values: vec![4.5],
                counts: vec![3],
                ..count("One", &[])
            }]),
            &mut out,
        );
        String::from_utf8(out).unwrap()
    };
    assert!(
        text.contains(
            r#""One":{"Values":[4.5],"Counts":[3],"Max":4.5,"Min":4.5,"Sum":13.5,"Count":3}"#
        ),
        "{text}"
    );
}

#[test]
fn a_sum_outside_cloudwatch_s_range_moves_to_the_next_document_or_is_rejected() {
    let big = 1e108;
    let pair = Series {
        values: vec![big, big],
        counts: vec![1, 1],
        ..count("Big", &[])
    };
    let (docs, stats) = run(&encoder(), &batch(vec![pair]));
    assert_eq!(
        (stats.documents, stats.values_written, stats.values_rejected),
        (2, 2, 0)
    );
    assert!(docs.iter().all(|d| d.metrics[0].counts == [1]));
    let doubled = Series {
        values: vec![big, 2.0],
        counts: vec![2, 5],
        ..count("Big", &[])
    };
    let (docs, stats) = run(&encoder(), &batch(vec![doubled]));
    assert_eq!((stats.values_written, stats.values_rejected), (1, 1));
    assert_eq!(
        (
            docs[0].metrics[0].values.as_slice(),
            docs[0].metrics[0].counts.as_slice()
        ),
        (&[2.0][..], &[5][..])
    );
}

#[test]
fn one_leftover_value_is_a_plain_number() {
    let values: Vec<f64> = (0..101).map(f64::from).collect();
    let mut out = Vec::new();
    encoder().encode(&batch(vec![count("Duration", &values)]), &mut out);
    let text = String::from_utf8(out).unwrap();
    let last: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(last["Duration"], json!(100));
}

#[test]
fn dimension_sets_get_separate_documents() {
    let login = [("FunctionName", "orders"), ("Rule", "login")];
    let signup = [("FunctionName", "orders"), ("Rule", "signup")];
    let input = batch(vec![
        series(
            "RateLimitAllowed",
            Unit::Count,
            Resolution::Standard,
            &login,
            &[5.0],
        ),
        count("Invocations", &[1.0]),
        series(
            "RateLimitAllowed",
            Unit::Count,
            Resolution::Standard,
            &signup,
            &[7.0],
        ),
        series(
            "RateLimitBlocked",
            Unit::Count,
            Resolution::Standard,
            &login,
            &[2.0],
        ),
        series("ColdStarts", Unit::Count, Resolution::Standard, &[], &[1.0]),
    ]);
    let (docs, stats) = run(&encoder(), &input);
    assert_eq!(stats.documents, 4);
    let summary: Vec<(Dims, Vec<String>)> = docs
        .iter()
        .map(|d| {
            (
                d.dimensions.clone(),
                d.metrics.iter().map(|m| m.name.clone()).collect(),
            )
        })
        .collect();
    let owned = |pairs: &[(&str, &str)]| -> Dims {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(
        summary,
        [
            (
                owned(&login),
                vec!["RateLimitAllowed".to_owned(), "RateLimitBlocked".to_owned()]
            ),
            (
                owned(&[("FunctionName", "orders")]),
                vec!["Invocations".to_owned()]
            ),
            (owned(&signup), vec!["RateLimitAllowed".to_owned()]),
            (vec![], vec!["ColdStarts".to_owned()]),
        ]
    );
    let mut out = Vec::new();
    encoder().encode(&input, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().last().unwrap().starts_with(r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Liftwatch","Dimensions":[[]],"#));
}

#[test]
fn a_name_twice_in_one_set_goes_to_separate_documents() {
    let input = batch(vec![
        count("Payload", &[1.0, 2.0]),
        series(
            "Payload",
            Unit::Bytes,
            Resolution::Standard,
            &[("FunctionName", "orders")],
            &[512.0],
        ),
        count("Invocations", &[1.0]),
    ]);
    let (docs, stats) = run(&encoder(), &input);
    assert_eq!(stats.documents, 2);
    assert_eq!(
        docs[0]
            .metrics
            .iter()
            .map(|m| (m.name.as_str(), m.unit))
            .collect::<Vec<_>>(),
        [("Payload", Unit::Count), ("Invocations", Unit::Count)]
    );
    assert_eq!(
        docs[1].metrics,
        [Read {
            name: "Payload".into(),
            unit: Unit::Bytes,
            resolution: Resolution::Standard,
            values: vec![512.0],
            counts: Vec::new(),
        }]
    );
}

/// Long series: 300 metrics with 255-character names of 4-byte characters and 100 long
/// values each. With `wide`, 30 dimensions of 250-character names (escaped to double
/// length) and 1024-character values of 4-byte characters: the largest documents the count
/// limits allow, near 600 KB, so the 1 MB limit is a safety net the count limits already
/// keep. Without, one short dimension.
fn long_batch(wide: bool) -> MetricBatch {
    let dim_names: Vec<String> = (0..30)
        .map(|i| format!("{i:02}{}", "\"".repeat(248)))
        .collect();
    let dim_value = "𝄞".repeat(1024);
    let dims: Vec<(&str, &str)> = if wide {
        dim_names
            .iter()
            .map(|n| (n.as_str(), dim_value.as_str()))
            .collect()
    } else {
        vec![("FunctionName", "orders")]
    };
    let series = (0..300)
        .map(|i| {
            let name = format!("{i:03}{}", "𝄞".repeat(252));
            let values: Vec<f64> = (0..100)
                .map(|j| -(1.234_567_890_123_456_7 + f64::from(i * 100 + j) * 1e-15) * 1e-100)
                .collect();
            series(
                &name,
                Unit::GigabytesPerSecond,
                Resolution::High,
                &dims,
                &values,
            )
        })
        .collect();
    MetricBatch {
        timestamp_ms: TS,
        series,
    }
}

#[test]
fn worst_case_documents_stay_below_1_mb() {
    let input = long_batch(true);
    let (docs, stats) = run(&encoder(), &input);
    assert_eq!(
        stats,
        EncodeStats {
            documents: 3,
            values_written: 30_000,
            values_rejected: 0,
            series_rejected: 0
        }
    );
    let largest = docs.iter().map(|d| d.line_len).max().unwrap();
    assert!(
        largest > 500_000 && largest < MAX_DOCUMENT_BYTES,
        "{largest}"
    );
}

#[test]
fn byte_limit_splits_documents_and_keeps_every_value() {
    // The wide batch's dimensions alone take about 150 KB of every document.
    let cases = [
        (long_batch(true), [200_000, 400_000]),
        (long_batch(false), [8_192, 65_536]),
    ];
    let mut arrays_cut = false;
    for (input, limits) in cases {
        for limit in limits {
            let encoder = encoder().with_max_document_bytes(limit);
            let (docs, stats) = run(&encoder, &input);
            assert_eq!(stats.values_written, 30_000, "limit {limit}");
            assert_eq!(stats.values_rejected, 0);
            assert!(
                stats.documents > 3,
                "limit {limit}: {} documents",
                stats.documents
            );
            arrays_cut |= docs
                .iter()
                .flat_map(|d| &d.metrics)
                .any(|m| m.values.len() < 100);
            // Values come back in order, split wherever the bytes ran out.
            let mut per_series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for metric in docs.iter().flat_map(|d| &d.metrics) {
                per_series
                    .entry(metric.name.clone())
                    .or_default()
                    .extend(&metric.values);
            }
            for s in &input.series {
                assert_eq!(per_series[&s.name].len(), 100);
                for (read, sent) in per_series[&s.name].iter().zip(&s.values) {
                    assert!(close(*read, *sent), "{read} {sent}");
                }
            }
        }
    }
    assert!(
        arrays_cut,
        "some metric's values were split by the byte limit"
    );
}

#[test]
fn a_limit_below_any_document_writes_nothing_and_counts_everything() {
    let encoder = encoder().with_max_document_bytes(120);
    let input = batch(vec![
        count("Invocations", &[1.0, 2.0]),
        count("Errors", &[0.0]),
    ]);
    let mut out = Vec::new();
    let stats = encoder.encode(&input, &mut out);
    assert!(out.is_empty());
    assert_eq!(
        stats,
        EncodeStats {
            documents: 0,
            values_written: 0,
            values_rejected: 3,
            series_rejected: 0
        }
    );
    assert_eq!(
        EmfEncoder::new("x")
            .unwrap()
            .with_max_document_bytes(usize::MAX)
            .max_document_bytes(),
        MAX_DOCUMENT_BYTES
    );
}
