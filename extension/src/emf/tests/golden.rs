//! Exact output: a small batch compared byte for byte and as parsed JSON.

use super::*;

#[test]
fn golden_small_batch() {
    let input = batch(vec![
        count("Invocations", &[3.0]),
        series(
            "Duration",
            Unit::Milliseconds,
            Resolution::High,
            &[("FunctionName", "orders")],
            &[12.5, 8.0, 30.25],
        ),
        series(
            "RateLimitBlocked",
            Unit::Count,
            Resolution::Standard,
            &[("FunctionName", "orders"), ("Rule", "login")],
            &[2.0],
        ),
    ]);
    let mut out = Vec::new();
    let stats = encoder().encode(&input, &mut out);
    assert_eq!(
        stats,
        EncodeStats {
            documents: 2,
            values_written: 5,
            values_rejected: 0,
            series_rejected: 0
        }
    );

    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Liftwatch","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Invocations","Unit":"Count"},{"Name":"Duration","Unit":"Milliseconds","StorageResolution":1}]}]},"FunctionName":"orders","Invocations":3,"Duration":[12.5,8,30.25]}"#
    );
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        parsed[0],
        json!({
            "_aws": {
                "Timestamp": 1_700_000_000_000u64,
                "CloudWatchMetrics": [{
                    "Namespace": "Liftwatch",
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [
                        {"Name": "Invocations", "Unit": "Count"},
                        {"Name": "Duration", "Unit": "Milliseconds", "StorageResolution": 1}
                    ]
                }]
            },
            "FunctionName": "orders",
            "Invocations": 3,
            "Duration": [12.5, 8, 30.25]
        })
    );
    assert_eq!(
        parsed[1],
        json!({
            "_aws": {
                "Timestamp": 1_700_000_000_000u64,
                "CloudWatchMetrics": [{
                    "Namespace": "Liftwatch",
                    "Dimensions": [["FunctionName", "Rule"]],
                    "Metrics": [{"Name": "RateLimitBlocked", "Unit": "Count"}]
                }]
            },
            "FunctionName": "orders",
            "Rule": "login",
            "RateLimitBlocked": 2
        })
    );
}

#[test]
fn namespace_and_timestamp_are_written_escaped() {
    let encoder = EmfEncoder::new(r#"My "App"/Orders"#).unwrap();
    let input = MetricBatch {
        timestamp_ms: 1,
        series: vec![count("Invocations", &[1.0])],
    };
    let (docs, _) = run(&encoder, &input);
    assert_eq!(docs.len(), 1);
    let mut out = Vec::new();
    encoder.encode(
        &MetricBatch {
            timestamp_ms: u64::MAX,
            ..input
        },
        &mut out,
    );
    let root: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(root["_aws"]["Timestamp"].as_u64(), Some(u64::MAX));
    assert_eq!(
        root["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        r#"My "App"/Orders"#
    );
}

#[test]
fn output_is_appended_and_empty_input_writes_nothing() {
    let mut out = b"kept\n".to_vec();
    let stats = encoder().encode(&batch(vec![]), &mut out);
    assert_eq!(stats, EncodeStats::default());
    let stats = encoder().encode(&batch(vec![count("Nothing", &[])]), &mut out);
    assert_eq!(stats, EncodeStats::default());
    assert_eq!(out, b"kept\n");
    encoder().encode(&batch(vec![count("One", &[1.0])]), &mut out);
    assert!(out.starts_with(b"kept\n{\"_aws\""));
}

#[test]
fn storage_resolution_only_for_high_resolution() {
    let dims = [("FunctionName", "orders")];
    let input = batch(vec![
        series("Standard", Unit::None, Resolution::Standard, &dims, &[1.0]),
        series("High", Unit::Percent, Resolution::High, &dims, &[2.0]),
    ]);
    let mut out = Vec::new();
    encoder().encode(&input, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#"{"Name":"Standard","Unit":"None"},{"Name":"High","Unit":"Percent","StorageResolution":1}"#), "{text}");
    assert_eq!(text.matches("StorageResolution").count(), 1);
    let (docs, _) = run(&encoder(), &input);
    let resolutions: Vec<Resolution> = docs[0].metrics.iter().map(|m| m.resolution).collect();
    assert_eq!(resolutions, [Resolution::Standard, Resolution::High]);
}
