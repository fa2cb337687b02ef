#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Histogram, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn request(resource: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "shop".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metric(name: &str, unit: &str, data: ProtoData) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

fn number_point(attributes: Vec<KeyValue>, value: Option<Value>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: 5,
        time_unix_nano: 9,
        value,
        ..Default::default()
    }
}

fn sum(points: Vec<NumberDataPoint>, cumulative: bool) -> ProtoData {
    ProtoData::Sum(Sum {
        data_points: points,
        aggregation_temporality: if cumulative {
            AggregationTemporality::Cumulative as i32
        } else {
            AggregationTemporality::Delta as i32
        },
        is_monotonic: true,
    })
}

fn decode(request: ExportMetricsServiceRequest) -> DecodedMetrics {
    points_from_request(request, &DimensionRule::Attributes, &RandomState::new())
}

#[test]
fn a_counter_gauge_and_histogram_become_points_with_units_and_dimensions() {
    let attributes = vec![
        kv("shop", s("x")),
        kv("http.response.status_code", any_value::Value::IntValue(200)),
        kv("ok", any_value::Value::BoolValue(true)),
        kv("tags", any_value::Value::ArrayValue(Default::default())),
        kv("FunctionName", s("forged")),
    ];
    let histogram = HistogramDataPoint {
        attributes: attributes.clone(),
        start_time_unix_nano: 5,
        count: 3,
        sum: Some(0.6),
        bucket_counts: vec![1, 2, 0],
        explicit_bounds: vec![0.1, 0.5],
        min: Some(0.05),
        max: Some(0.3),
        ..Default::default()
    };
    let decoded = decode(request(
        vec![kv("service.name", s("orders"))],
        vec![
            metric(
                "orders",
                "{order}",
                sum(
                    vec![number_point(attributes.clone(), Some(Value::AsInt(4)))],
                    false,
                ),
            ),
            metric(
                "queue.depth",
                "1",
                ProtoData::Gauge(Gauge {
                    data_points: vec![number_point(vec![], Some(Value::AsDouble(2.5)))],
                }),
            ),
            metric(
                "latency",
                "s",
                ProtoData::Histogram(Histogram {
                    data_points: vec![histogram],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                }),
            ),
        ],
    ));
    assert_eq!((decoded.rejected, decoded.points.len()), (0, 3));
    let orders = &decoded.points[0];
    assert_eq!(
        (orders.name.as_str(), orders.unit),
        ("orders", liftwatch::Unit::Count)
    );
    assert_eq!(
        orders.dimensions,
        [
            ("http.response.status_code".to_owned(), "200".to_owned()),
            ("ok".to_owned(), "true".to_owned()),
            ("shop".to_owned(), "x".to_owned()),
        ],
        "arrays and FunctionName are left out; resource attributes are not dimensions"
    );
    assert_eq!(
        orders.data,
        Data::Sum {
            value: 4.0,
            monotonic: true,
            cumulative: false
        }
    );
    assert_eq!(decoded.points[1].data, Data::Gauge(2.5));
    assert_eq!(decoded.points[1].unit, liftwatch::Unit::None);
    let Data::Histogram {
        count,
        sum,
        buckets,
        ..
    } = &decoded.points[2].data
    else {
        panic!("not a histogram: {:?}", decoded.points[2].data);
    };
    assert_eq!((*count, *sum), (3, Some(0.6)));
    assert_eq!(
        *buckets,
        Buckets::Explicit {
            bounds: vec![0.1, 0.5],
            counts: vec![1, 2, 0]
        }
    );
}

#[test]
fn streams_differ_by_resource_attributes_and_scope_but_not_attribute_order() {
    let point = |attrs: Vec<KeyValue>| number_point(attrs, Some(Value::AsInt(1)));
    let keys = RandomState::new();
    let stream = |resource: &str, attrs: Vec<KeyValue>| {
        let req = request(
            vec![kv("service.instance.id", s(resource))],
            vec![metric("c", "", sum(vec![point(attrs)], true))],
        );
        points_from_request(req, &DimensionRule::Attributes, &keys).points[0].stream
    };
    let a = stream("one", vec![kv("k", s("1")), kv("j", s("2"))]);
    assert_eq!(a, stream("one", vec![kv("j", s("2")), kv("k", s("1"))]));
    assert_ne!(a, stream("two", vec![kv("k", s("1")), kv("j", s("2"))]));
    assert_ne!(a, stream("one", vec![kv("k", s("1"))]));
}

#[test]
fn bad_points_are_rejected_and_counted_and_stale_ones_skipped() {
    let bad_histogram = HistogramDataPoint {
        count: 5,
        bucket_counts: vec![1, 2],
        explicit_bounds: vec![1.0, 2.0],
        ..Default::default()
    };
    let stale = NumberDataPoint {
        flags: NO_RECORDED_VALUE,
        ..Default::default()
    };
    let decoded = decode(request(
        vec![],
        vec![
            metric(
                "Invocations",
                "",
                sum(vec![number_point(vec![], Some(Value::AsInt(1)))], false),
            ),
            metric(
                "nan",
                "",
                sum(
                    vec![
                        number_point(vec![], Some(Value::AsDouble(f64::NAN))),
                        number_point(vec![], None),
                        stale,
                    ],
                    false,
                ),
            ),
            metric(
                "h",
                "",
                ProtoData::Histogram(Histogram {
                    data_points: vec![bad_histogram],
                    aggregation_temporality: 1,
                }),
            ),
            metric(
                "summary",
                "",
                ProtoData::Summary(Summary {
                    data_points: vec![SummaryDataPoint::default(); 2],
                }),
            ),
        ],
    ));
    assert!(decoded.points.is_empty());
    assert_eq!(decoded.rejected, 1 + 2 + 1 + 2);
    assert!(decoded.first_error.unwrap().contains("metric name"));
}

#[test]
fn the_dimension_rule_keeps_listed_names_or_the_first_ten() {
    let many: Vec<KeyValue> = (0..15).map(|i| kv(&format!("k{i:02}"), s("v"))).collect();
    let req = || {
        request(
            vec![],
            vec![metric(
                "c",
                "",
                sum(
                    vec![number_point(many.clone(), Some(Value::AsInt(1)))],
                    false,
                ),
            )],
        )
    };
    let all = decode(req()).points.remove(0).dimensions;
    assert_eq!(all.len(), MAX_DIMENSIONS);
    assert_eq!((all[0].0.as_str(), all[9].0.as_str()), ("k00", "k09"));
    let only = DimensionRule::Only(vec!["k12".into(), "absent".into()]);
    let listed = points_from_request(req(), &only, &RandomState::new())
        .points
        .remove(0);
    assert_eq!(listed.dimensions, [("k12".to_owned(), "v".to_owned())]);
    let none = DimensionRule::Only(Vec::new());
    assert!(
        points_from_request(req(), &none, &RandomState::new()).points[0]
            .dimensions
            .is_empty()
    );
}

#[test]
fn otlp_json_with_string_integers_decodes() {
    let body = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
      "scopeMetrics":[{"scope":{"name":"s"},"metrics":[
        {"name":"requests","unit":"{request}","sum":{"aggregationTemporality":2,"isMonotonic":true,
          "dataPoints":[{"startTimeUnixNano":"1000","timeUnixNano":"2000","asInt":"7",
            "attributes":[{"key":"route","value":{"stringValue":"/a"}}]}]}},
        {"name":"duration","unit":"ms","exponentialHistogram":{"aggregationTemporality":1,
          "dataPoints":[{"count":"3","sum":7.5,"scale":1,"zeroCount":"1",
            "positive":{"offset":2,"bucketCounts":["1","1"]}}]}}
      ]}]}]}"#;
    let request = decode_request(body.as_bytes(), Encoding::Json).unwrap();
    let decoded = decode(request);
    assert_eq!(decoded.rejected, 0, "{:?}", decoded.first_error);
    assert_eq!(
        decoded.points[0].data,
        Data::Sum {
            value: 7.0,
            monotonic: true,
            cumulative: true
        }
    );
    assert_eq!(decoded.points[0].start_unix_nanos, 1000);
    let Data::Histogram {
        buckets,
        cumulative,
        ..
    } = &decoded.points[1].data
    else {
        panic!("not a histogram");
    };
    assert!(!cumulative);
    assert_eq!(
        *buckets,
        Buckets::Exponential {
            scale: 1,
            zero_count: 1,
            positive_offset: 2,
            positive: vec![1, 1],
            negative_offset: 0,
            negative: vec![],
        }
    );
}
