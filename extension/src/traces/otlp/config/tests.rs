//! Tests for `config`: the endpoint, header, timeout and protocol rules, table-driven over
//! variable sets.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use super::*;

/// Variables set for one case.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn config(vars: &[(&str, &str)]) -> Result<Option<OtlpConfig>, OtlpConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    OtlpConfig::from_lookup(|key| vars.get(key).cloned())
}

#[test]
fn endpoints_follow_the_spec() {
    let table: &[(Vars, Option<&str>)] = &[
        (&[], None),
        (&[(ENDPOINT, ""), (TRACES_ENDPOINT, "  ")], None),
        (
            &[(ENDPOINT, "http://collector:4318")],
            Some("http://collector:4318/v1/traces"),
        ),
        (
            &[(ENDPOINT, "http://collector:4318/")],
            Some("http://collector:4318/v1/traces"),
        ),
        (
            &[(ENDPOINT, "https://api.example.com/otlp/")],
            Some("https://api.example.com/otlp/v1/traces"),
        ),
        (
            &[(ENDPOINT, " http://127.0.0.1:4318 ")],
            Some("http://127.0.0.1:4318/v1/traces"),
        ),
        // The signal-specific endpoint is used as it is, and wins.
        (
            &[
                (ENDPOINT, "http://ignored:4318"),
                (TRACES_ENDPOINT, "http://collector:9999/custom/path"),
            ],
            Some("http://collector:9999/custom/path"),
        ),
        (
            &[(TRACES_ENDPOINT, "http://collector:4318")],
            Some("http://collector:4318/"),
        ),
        (
            &[(TRACES_ENDPOINT, "http://collector:4318/v1/traces/")],
            Some("http://collector:4318/v1/traces/"),
        ),
        (
            &[(TRACES_ENDPOINT, ""), (ENDPOINT, "http://base:4318")],
            Some("http://base:4318/v1/traces"),
        ),
    ];
    for (vars, expected) in table {
        let got = config(vars).unwrap().map(|c| c.endpoint.to_string());
        assert_eq!(got.as_deref(), *expected, "{vars:?}");
    }
}

#[test]
fn bad_endpoints_and_protocols_are_errors() {
    let table: &[Vars] = &[
        &[(ENDPOINT, "collector:4318")],
        &[(ENDPOINT, "ftp://collector")],
        &[(TRACES_ENDPOINT, "not a url")],
        &[(TRACES_ENDPOINT, "/v1/traces")],
        &[(ENDPOINT, "http://")],
        &[(ENDPOINT, "http://c:4318"), (PROTOCOL, "grpc")],
        &[(ENDPOINT, "http://c:4318"), (TRACES_PROTOCOL, "http/json")],
        &[
            (ENDPOINT, "http://c:4318"),
            (PROTOCOL, "http/protobuf"),
            (TRACES_PROTOCOL, "grpc"),
        ],
    ];
    for vars in table {
        assert!(config(vars).is_err(), "{vars:?}");
    }
    let error = config(&[(ENDPOINT, "http://c:4318"), (PROTOCOL, "grpc")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\" is not supported: only http/protobuf is"
    );
    let ok = config(&[
        (ENDPOINT, "https://c"),
        (TRACES_PROTOCOL, "http/protobuf"),
        (PROTOCOL, "grpc"),
    ]);
    assert!(ok.unwrap().unwrap().is_https());
}

#[test]
fn headers_are_parsed_decoded_and_bad_pairs_counted() {
    let table: &[(&str, Vars, usize)] = &[
        ("", &[], 0),
        ("api-key=secret", &[("api-key", "secret")], 0),
        (
            " a = 1 , B=two%20words,c=x%3Dy ",
            &[("a", "1"), ("b", "two words"), ("c", "x=y")],
            0,
        ),
        (
            "Authorization=Basic dXNlcjpwYXNz==",
            &[("authorization", "Basic dXNlcjpwYXNz==")],
            0,
        ),
        ("empty=,trailing=1,", &[("empty", ""), ("trailing", "1")], 0),
        ("novalue,=nokey,good=1", &[("good", "1")], 2),
        ("bad name=1,ok=2", &[("ok", "2")], 1),
        ("bad=%ff%fe,ctl=a%0Ab,ok=3", &[("ok", "3")], 2),
    ];
    for (value, expected, skipped) in table {
        let (headers, bad) = parse_headers(value);
        let got: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
            .collect();
        assert_eq!(&got, expected, "{value:?}");
        assert_eq!(bad, *skipped, "{value:?}");
    }
}

#[test]
fn liftwatch_s_own_endpoint_and_headers_win_over_the_shared_otel_variables() {
    let shared = [
        (ENDPOINT, "http://function-collector:4318"),
        (TRACES_ENDPOINT, "http://function-collector:4318/v1/traces"),
        (HEADERS, "function=1"),
        (TRACES_HEADERS, "function-traces=1"),
    ];
    let mut vars = shared.to_vec();
    vars.extend([
        (LIFTWATCH_ENDPOINT, "https://collector.example.com/otlp/"),
        (LIFTWATCH_HEADERS, "x-api-key=abc"),
    ]);
    let own = config(&vars).unwrap().unwrap();
    assert_eq!(
        own.endpoint.to_string(),
        "https://collector.example.com/otlp/v1/traces"
    );
    let headers: Vec<(&str, &str)> = own
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
        .collect();
    assert_eq!(headers, [("x-api-key", "abc")]);
    // Its endpoint without its headers: the function's headers are not the extension's.
    let bare = config(&[
        (ENDPOINT, "http://c:4318"),
        (HEADERS, "function=1"),
        (LIFTWATCH_ENDPOINT, "http://mine:4318"),
    ])
    .unwrap()
    .unwrap();
    assert!(bare.headers.is_empty());
    // Its headers alone change nothing: the endpoint decides whose configuration it is.
    let shared_only = config(&[
        (ENDPOINT, "http://c:4318"),
        (HEADERS, "function=1"),
        (LIFTWATCH_HEADERS, "x=1"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(shared_only.headers[0].0.as_str(), "function");
}

#[test]
fn signal_specific_headers_and_timeouts_win_and_bad_timeouts_keep_the_default() {
    let both = config(&[
        (ENDPOINT, "http://c:4318"),
        (HEADERS, "general=1"),
        (TRACES_HEADERS, "traces=2,broken"),
        (TIMEOUT, "1000"),
        (TRACES_TIMEOUT, "2500"),
    ])
    .unwrap()
    .unwrap();
    let names: Vec<&str> = both.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["traces"]);
    assert_eq!(both.skipped_headers, 1);
    assert_eq!(both.timeout, Duration::from_millis(2500));

    let general = config(&[
        (ENDPOINT, "http://c:4318"),
        (HEADERS, "general=1"),
        (TIMEOUT, "750"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(general.headers[0].0.as_str(), "general");
    assert_eq!(general.timeout, Duration::from_millis(750));

    for bad in ["0", "-1", "ten", "1.5"] {
        let c = config(&[(ENDPOINT, "http://c:4318"), (TIMEOUT, bad)])
            .unwrap()
            .unwrap();
        assert_eq!(c.timeout, DEFAULT_TIMEOUT, "{bad}");
    }
}

#[test]
fn new_takes_the_full_url() {
    let c = OtlpConfig::new("http://127.0.0.1:4318/v1/traces").unwrap();
    assert_eq!(c.endpoint.path(), "/v1/traces");
    assert!(!c.is_https());
    assert!(OtlpConfig::new("127.0.0.1:4318").is_err());
}
