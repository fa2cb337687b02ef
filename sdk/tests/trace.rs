//! Spans from the SDK, as the extension's decoder reads them: the trace and parent come
//! from the X-Ray header, children nest, a dropped span is still sent, and the headers for
//! outgoing calls name the sending span.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::UdpSocket;
use std::time::Duration;

use liftwatch::protocol::{self, AttributeValue, Event, SpanEvent, SpanKind, to_hex};
use liftwatch::{Client, TraceContext};

fn receive(socket: &UdpSocket, n: usize) -> Vec<SpanEvent> {
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut spans = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while spans.len() < n {
        let len = socket.recv(&mut buf).unwrap();
        protocol::decode_datagram(&buf[..len], |event| match event {
            Ok(Event::Span(span)) => spans.push(span),
            other => panic!("{other:?}"),
        });
    }
    spans
}

#[test]
fn spans_nest_under_the_invocation_and_carry_what_was_set() {
    let intake = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = Client::new(intake.local_addr().unwrap().port());
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let context = TraceContext::from_xray_header(header).unwrap();
    let mut outer = client.span_in("handle", &context);
    outer.attribute("items", 3_i64).attribute("items", 4_i64);
    {
        let mut inner = outer.child("dynamodb.query");
        inner.kind(SpanKind::Client).error("throttled");
        assert!(
            inner
                .xray_header()
                .starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=")
        );
        assert!(
            inner
                .traceparent()
                .starts_with("00-5759e988bd862e3fe1be46a994272793-")
        );
        assert!(inner.traceparent().ends_with("-01"));
        // Dropped here: still sent.
    }
    outer.end().unwrap();
    let spans = receive(&intake, 2);
    let (inner, outer) = (&spans[0], &spans[1]);
    assert_eq!(to_hex(&outer.trace_id), "5759e988bd862e3fe1be46a994272793");
    assert_eq!(inner.trace_id, outer.trace_id);
    assert_eq!(
        outer.parent_span_id.map(|p| to_hex(&p)).as_deref(),
        Some("53995c3f42cd8ad8")
    );
    assert_eq!(inner.parent_span_id, Some(outer.span_id));
    assert_ne!(inner.span_id, outer.span_id);
    assert_eq!(
        outer.attributes,
        [("items".to_owned(), AttributeValue::Int(4))]
    );
    assert_eq!(
        (inner.kind, inner.error.as_deref()),
        (SpanKind::Client, Some("throttled"))
    );
    assert!(outer.start_unix_nano <= inner.start_unix_nano);
    assert!(inner.end_unix_nano <= outer.end_unix_nano);
    assert!(outer.sampled && inner.sampled);
    assert_eq!(client.sent(), 2);
}

#[test]
fn headers_that_do_not_read_give_no_context() {
    for bad in [
        "",
        "Root=1-5759e988",
        "Root=1-5759e98-8bd862e3fe1be46a994272793",
        "Root=1-00000000-000000000000000000000000;Sampled=1",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent",
        "Parent=53995c3f42cd8ad8",
    ] {
        assert_eq!(TraceContext::from_xray_header(bad), None, "{bad}");
    }
    let unsampled =
        TraceContext::from_xray_header("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
            .unwrap();
    assert_eq!((unsampled.parent_span_id, unsampled.sampled), (None, false));
    let root = TraceContext::new_root();
    assert_ne!(root.trace_id, TraceContext::new_root().trace_id);
}
