//! The size limit: trees split into independent subsegments, the exact size arithmetic,
//! oversized spans trimmed or dropped, and malformed trees (deep chains, parent cycles,
//! duplicate ids) encoded without unbounded recursion or lost spans.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::tests::{LIMIT, id, ids, resource, span, valid_docs};
use super::*;
use crate::traces::span::{AttributeValue, SpanStatus};

#[test]
fn a_tree_too_large_for_a_datagram_is_split_into_independent_subsegments() {
    let mut spans = vec![span(1, 1, Some(0xabc), "invoke")];
    for n in 2..=2_001 {
        let parent = if n % 3 == 0 { n - 1 } else { 1 };
        let mut child = span(1, n, Some(parent), "child");
        child.attributes = vec![("payload".into(), AttributeValue::Str("x".repeat(200)))];
        spans.push(child);
    }
    let encoded = encode(&spans, &resource(), LIMIT);
    assert_eq!(encoded.dropped, 0);
    let docs = valid_docs(&encoded);
    assert!(docs.len() >= 8, "{} documents", docs.len());
    assert_eq!(
        encoded.documents.iter().map(|d| d.spans).sum::<u64>(),
        2_001
    );
    let mut all = Vec::new();
    for (doc, document) in docs.iter().zip(&encoded.documents) {
        let before = all.len();
        ids(doc, &mut all);
        assert_eq!((all.len() - before) as u64, document.spans);
        if doc["id"] != id(1).to_hex() {
            assert_eq!(doc["type"], "subsegment");
            let parent = doc["parent_id"].as_str().unwrap();
            let parent_span = spans
                .iter()
                .find(|s| s.span_id.to_hex() == doc["id"])
                .unwrap();
            assert_eq!(
                Some(parent),
                parent_span.parent_span_id.map(|p| p.to_hex()).as_deref()
            );
        }
    }
    let unique: BTreeSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (2_001, 2_001));
}

#[test]
fn the_size_arithmetic_is_exact_at_the_limit() {
    let spans: Vec<Span> = std::iter::once(span(1, 1, None, "root"))
        .chain((2..40).map(|n| span(1, n, Some(1 + (n > 20) as u64), "c")))
        .collect();
    let whole = encode(&spans, &resource(), LIMIT);
    assert_eq!(whole.documents.len(), 1);
    let exact = whole.documents[0].json.len();
    assert_eq!(encode(&spans, &resource(), exact), whole);
    let tight = encode(&spans, &resource(), exact - 1);
    assert!(tight.documents.len() > 1);
    assert!(tight.documents.iter().all(|d| d.json.len() < exact));
    assert_eq!(tight.documents.iter().map(|d| d.spans).sum::<u64>(), 39);
}

#[test]
fn a_single_oversized_span_is_trimmed_and_an_impossible_one_dropped() {
    let mut huge = span(1, 1, Some(9), "huge");
    huge.status = SpanStatus::Error("e".repeat(100_000));
    for i in 0..100 {
        huge.attributes
            .push((format!("blob{i}"), AttributeValue::Str("b".repeat(2_000))));
    }
    huge.attributes
        .push(("keep".into(), AttributeValue::Int(1)));
    let encoded = encode(
        &[huge.clone(), span(1, 2, Some(1), "child")],
        &resource(),
        LIMIT,
    );
    assert_eq!(encoded.dropped, 0);
    let docs = valid_docs(&encoded);
    assert_eq!(encoded.documents.iter().map(|d| d.spans).sum::<u64>(), 2);
    let doc = docs.iter().find(|d| d["id"] == id(1).to_hex()).unwrap();
    // The child is nested if trimming left room for it, sent on its own otherwise.
    let child = match docs.iter().find(|d| d["id"] == id(2).to_hex()) {
        Some(child) => {
            assert_eq!(child["parent_id"], id(1).to_hex());
            child
        }
        None => &doc["subsegments"][0],
    };
    assert_eq!(child["name"], "child");
    assert_eq!(doc["annotations"], json!({"keep": 1}));
    let kept = doc["metadata"]["default"].as_object().unwrap();
    assert!(kept.len() > 10 && kept.len() < 100, "{}", kept.len());
    assert_eq!(kept["otel.resource.faas.name"], "my-fn");
    assert_eq!(doc["cause"]["exceptions"][0]["message"], "e".repeat(256));
    assert_eq!(doc["error"], true);

    // A limit below even the bare span's size: it is dropped, its child still goes out.
    let bare = span(1, 1, Some(9), &"n".repeat(200));
    let tiny = encode(&[bare, span(1, 2, Some(1), "c")], &resource(), 240);
    assert_eq!(tiny.dropped, 1);
    assert_eq!(tiny.documents.len(), 1);
    assert_eq!(tiny.documents[0].id, id(2));
    let tiny_doc: Value = serde_json::from_slice(&tiny.documents[0].json).unwrap();
    assert_eq!(tiny_doc["parent_id"], id(1).to_hex());
    assert_eq!(encode(&[span(1, 1, None, "x")], &resource(), 0).dropped, 1);
}

#[test]
fn deep_chains_cycles_and_duplicates_neither_recurse_forever_nor_lose_spans() {
    let mut chain: Vec<Span> = (1..=100).map(|n| span(1, n, Some(n - 1), "link")).collect();
    chain[0].parent_span_id = None;
    let encoded = encode(&chain, &resource(), LIMIT);
    let docs = valid_docs(&encoded);
    assert!(docs.len() >= 100 / pack::MAX_DEPTH);
    assert_eq!(encoded.documents.iter().map(|d| d.spans).sum::<u64>(), 100);

    let cycle = [
        span(1, 1, Some(2), "a"),
        span(1, 2, Some(1), "b"),
        span(1, 3, Some(3), "self"),
    ];
    let encoded = encode(&cycle, &resource(), LIMIT);
    let docs = valid_docs(&encoded);
    assert_eq!(
        encoded
            .documents
            .iter()
            .map(|d| d.spans)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        (docs[0]["id"].clone(), docs[0].get("type")),
        (json!(id(3).to_hex()), None)
    );
    assert_eq!(docs[1]["type"], "subsegment");
    assert_eq!(docs[1]["parent_id"], id(2).to_hex());
    assert_eq!(docs[1]["subsegments"][0]["id"], id(2).to_hex());

    let twice = [span(1, 1, None, "a"), span(1, 1, None, "a")];
    let encoded = encode(&twice, &resource(), LIMIT);
    assert_eq!((encoded.documents.len(), encoded.dropped), (2, 0));
}

#[test]
fn a_trace_gets_fifty_annotations_across_batches_and_the_rest_go_to_metadata() {
    let spans_with = |first: u64| -> Vec<Span> {
        (first..first + 20)
            .map(|n| {
                let mut s = span(1, n, Some(0xabc), "step");
                s.attributes = (0..3)
                    .map(|a| (format!("k{a}"), AttributeValue::Int(n as i64)))
                    .collect();
                s
            })
            .collect()
    };
    let count = |encoded: &Encoded, field: &str| -> usize {
        valid_docs(encoded)
            .iter()
            .map(|doc| {
                let entries = match field {
                    "metadata" => &doc["metadata"]["default"],
                    _ => &doc[field],
                };
                // The span's own attributes, not the resource's `otel.resource.*`.
                let own = |o: &serde_json::Map<String, Value>| {
                    o.keys().filter(|k| k.starts_with('k')).count()
                };
                entries.as_object().map_or(0, own)
            })
            .sum()
    };
    let mut given = TraceAnnotations::default();
    let first = encode_with(&spans_with(2), &resource(), LIMIT, &mut given);
    assert_eq!(count(&first, "annotations"), 50);
    assert_eq!(
        count(&first, "metadata"),
        10,
        "60 attributes: 50 indexed, 10 kept"
    );
    // A later batch of the same trace: its 50 are used up.
    let second = encode_with(&spans_with(30), &resource(), LIMIT, &mut given);
    assert_eq!(count(&second, "annotations"), 0);
    assert_eq!(count(&second, "metadata"), 60);
    assert_eq!((first.truncated, second.truncated), (0, 0));
}

#[test]
fn a_span_cut_to_fit_counts_as_truncated() {
    let mut big = span(1, 2, Some(0xabc), "upload");
    big.attributes = (0..64)
        .map(|a| (format!("part{a}"), AttributeValue::Str("x".repeat(4_000))))
        .collect();
    let encoded = encode(&[big, span(1, 3, Some(0xabc), "small")], &resource(), LIMIT);
    assert_eq!((encoded.dropped, encoded.truncated), (0, 1));
    assert_eq!(encoded.documents.iter().map(|d| d.spans).sum::<u64>(), 2);
}
