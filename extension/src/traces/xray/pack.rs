//! Spans to segment documents within the size limit: spans grouped by trace into trees
//! (a span whose parent is in the batch is nested in it), each tree packed bottom-up into
//! as few documents as fit. When a parent with its children would be too large, its
//! largest children are sent as independent subsegment documents (`type`, `parent_id`,
//! `trace_id`) instead; when a single span is too large, its exception message, then
//! metadata, then annotations, then `http`/`aws` are cut; what still does not fit is dropped
//! and counted. Pure and panic-free: no I/O, no clock.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::segment::{Parts, Role, json_len};
use crate::traces::span::{Resource, Span, SpanId, TraceId};

/// Nesting deeper than this starts a new document (bounds recursion on span chains).
pub const MAX_DEPTH: usize = 16;
/// Room kept in a nested subsegment for the fields it needs if it has to be sent on its
/// own: `,"type":"subsegment","parent_id":"<16>","trace_id":"1-<8>-<24>"` is 98 bytes.
const INDEPENDENT_RESERVE: usize = 128;
/// The cause message kept when a span must shrink, in characters.
const TRIMMED_MESSAGE_CHARS: usize = 256;

/// One segment document, ready to frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Compact JSON, at most the size limit.
    pub json: Vec<u8>,
    /// Spans it carries (its own and its nested subsegments').
    pub spans: u64,
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// Its top-level segment or subsegment id.
    pub id: SpanId,
}

/// What `encode` made of a batch.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Encoded {
    pub documents: Vec<Document>,
    /// Sampled spans that fit in no document.
    pub dropped: u64,
}

/// The documents for the sampled spans of `spans` (unsampled ones are skipped, counted
/// nowhere), each at most `max_document_bytes` of JSON.
pub fn encode(spans: &[Span], resource: &Resource, max_document_bytes: usize) -> Encoded {
    let spans: Vec<&Span> = spans.iter().filter(|s| s.sampled).collect();
    let mut index = HashMap::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        index.entry((span.trace_id, span.span_id)).or_insert(i);
    }
    let mut children = vec![Vec::new(); spans.len()];
    let mut has_parent = vec![false; spans.len()];
    for (i, span) in spans.iter().enumerate() {
        let parent = span
            .parent_span_id
            .and_then(|p| index.get(&(span.trace_id, p)).copied());
        if let Some(p) = parent.filter(|&p| p != i) {
            children[p].push(i);
            has_parent[i] = true;
        }
    }
    for list in &mut children {
        list.sort_by_key(|&c| (spans[c].start_unix_nanos, c));
    }
    let mut packer = Packer {
        visited: vec![false; spans.len()],
        spans,
        children,
        max: max_document_bytes,
        out: Encoded::default(),
        deep: Vec::new(),
    };
    // Roots first, then spans only reachable through a parent cycle (malformed input).
    let roots = (0..packer.spans.len()).filter(|&i| !has_parent[i]);
    let order: Vec<usize> = roots.chain(0..packer.spans.len()).collect();
    for i in order {
        if !packer.visited[i] {
            let span = packer.spans[i];
            let parent = span.parent_span_id.filter(|&p| p != span.span_id);
            let role = match parent {
                None => Role::Segment(resource),
                Some(parent) => Role::Independent {
                    parent,
                    resource: (!has_parent[i]).then_some(resource),
                },
            };
            packer.top(i, role);
        }
        while let Some((child, parent)) = packer.deep.pop() {
            packer.top(
                child,
                Role::Independent {
                    parent,
                    resource: None,
                },
            );
        }
    }
    packer.out
}

struct Packer<'a> {
    spans: Vec<&'a Span>,
    children: Vec<Vec<usize>>,
    visited: Vec<bool>,
    max: usize,
    out: Encoded,
    /// Spans below `MAX_DEPTH`, to send as their own documents, with their parent's id.
    deep: Vec<(usize, SpanId)>,
}

/// A packed entity: its JSON (with what fit of its subtree) and its size.
struct Packed {
    value: Value,
    size: usize,
    spans: u64,
    id: SpanId,
    trace_id: TraceId,
}

impl Packer<'_> {
    /// Packs span `i` as a top-level document.
    fn top(&mut self, i: usize, role: Role<'_>) {
        if let Some(packed) = self.pack(i, role, 0) {
            self.emit(packed);
        }
    }

    /// Packs span `i` and what fits of its subtree into one entity of at most the budget
    /// of `role`; the rest goes out as separate documents. `None` when the span itself
    /// cannot fit (counted dropped).
    fn pack(&mut self, i: usize, role: Role<'_>, depth: usize) -> Option<Packed> {
        self.visited[i] = true;
        let span = self.spans[i];
        let mut kids = Vec::new();
        for c in self.children[i].clone() {
            if self.visited[c] {
                continue;
            }
            if depth + 1 >= MAX_DEPTH {
                self.visited[c] = true;
                self.deep.push((c, span.span_id));
            } else if let Some(kid) = self.pack(c, Role::Nested, depth + 1) {
                kids.push(kid);
            }
        }
        let budget = match role {
            Role::Nested => self.max.saturating_sub(INDEPENDENT_RESERVE),
            _ => self.max,
        };
        let mut parts = Parts::build(span, role);
        let Some(base) = trim(&mut parts, budget) else {
            self.out.dropped += 1;
            for kid in kids {
                self.detach(kid, span.span_id);
            }
            return None;
        };
        // Nest the smallest children while they fit: `,"subsegments":[` is 16 bytes, each
        // child adds its size and a comma or the closing bracket.
        let mut by_size: Vec<usize> = (0..kids.len()).collect();
        by_size.sort_by_key(|&k| kids[k].size);
        let mut nest = vec![false; kids.len()];
        let mut size = base;
        for k in by_size {
            let add = kids[k].size + 1 + if size == base { 16 } else { 0 };
            if size.saturating_add(add) <= budget {
                size += add;
                nest[k] = true;
            }
        }
        let mut spans = 1;
        let mut nested = Vec::new();
        for (kid, nest) in kids.into_iter().zip(nest) {
            if nest {
                spans += kid.spans;
                nested.push(kid.value);
            } else {
                self.detach(kid, span.span_id);
            }
        }
        Some(Packed {
            value: parts.to_value(nested),
            size,
            spans,
            id: span.span_id,
            trace_id: span.trace_id,
        })
    }

    /// Sends a would-be nested subsegment as an independent subsegment document.
    fn detach(&mut self, mut kid: Packed, parent: SpanId) {
        if let Value::Object(fields) = &mut kid.value {
            fields.insert("type".into(), json!("subsegment"));
            fields.insert("parent_id".into(), json!(parent.to_hex()));
            fields.insert("trace_id".into(), json!(kid.trace_id.to_xray()));
        }
        self.emit(kid);
    }

    fn emit(&mut self, packed: Packed) {
        match serde_json::to_vec(&packed.value) {
            Ok(json) if json.len() <= self.max => self.out.documents.push(Document {
                json,
                spans: packed.spans,
                trace_id: packed.trace_id,
                id: packed.id,
            }),
            _ => self.out.dropped += packed.spans,
        }
    }
}

/// Cuts `parts` until its JSON is at most `budget` bytes: an exception message longer
/// than 256 characters first, then the largest metadata entries, then the largest
/// annotations, then `http` and `aws`. The final size, or `None` if even the bare span is too large.
fn trim(parts: &mut Parts, budget: usize) -> Option<usize> {
    let mut size = parts.json_len();
    if size <= budget {
        return Some(size);
    }
    for phase in 0..4 {
        match phase {
            0 => shorten_cause(&mut parts.fields),
            1 => drop_largest(&mut parts.metadata, size - budget),
            2 => drop_largest(&mut parts.annotations, size - budget),
            _ => {
                parts.fields.remove("http");
                parts.fields.remove("aws");
            }
        }
        size = parts.json_len();
        if size <= budget {
            return Some(size);
        }
    }
    None
}

/// Removes the largest entries until at least `excess` bytes are gone (a removed entry
/// frees at least its `"key":value` and a comma or its now empty object).
fn drop_largest(entries: &mut Vec<(String, Value)>, excess: usize) {
    let sizes: Vec<usize> = entries
        .iter()
        .map(|(key, value)| json_len(&json!(key)).saturating_add(json_len(value)) + 2)
        .collect();
    let mut by_size: Vec<usize> = (0..entries.len()).collect();
    by_size.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]));
    let mut drop = vec![false; entries.len()];
    let mut freed = 0usize;
    for i in by_size {
        if freed >= excess {
            break;
        }
        drop[i] = true;
        freed = freed.saturating_add(sizes[i]);
    }
    let mut drop = drop.into_iter();
    entries.retain(|_| !drop.next().unwrap_or(false));
}

fn shorten_cause(fields: &mut serde_json::Map<String, Value>) {
    let Some(Value::Array(exceptions)) = fields
        .get_mut("cause")
        .and_then(|cause| cause.get_mut("exceptions"))
    else {
        return;
    };
    for exception in exceptions {
        for key in ["message", "type"] {
            if let Some(Value::String(text)) = exception.get_mut(key)
                && text.chars().count() > TRIMMED_MESSAGE_CHARS
            {
                *text = text.chars().take(TRIMMED_MESSAGE_CHARS).collect();
            }
        }
    }
}
