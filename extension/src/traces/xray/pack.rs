//! Spans to segment documents within the size limit: spans grouped by trace into trees
//! (a span whose parent is in the batch is nested in it), each tree packed bottom-up into
//! as few documents as fit. When a parent with its children would be too large, its
//! largest children are sent as independent subsegment documents (`type`, `parent_id`,
//! `trace_id`) instead; when a single span is too large, its exception message, then
//! metadata, then annotations, then `http`/`aws` are cut (the span counts as truncated);
//! what still does not fit is dropped and counted. X-Ray indexes at most 50 annotations per
//! trace: past that, across the batches of one exporter, a span's annotations go into its
//! metadata instead ([`TraceAnnotations`]). Each entity's size is counted once (again only while trimming) and each
//! document written once, by `json`. Pure and panic-free: no I/O, no clock.

use std::collections::{HashMap, VecDeque};

use super::attributes::MAX_ANNOTATIONS;
use super::json::{EntityJson, json_len};
use super::segment::{Entity, Entries, Placement, ResourceFields, Role};
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
    /// Spans in `documents` with part of their content cut to fit.
    pub truncated: u64,
}

/// Traces remembered by [`TraceAnnotations`]: spans of one invocation arrive within a few
/// flushes, so older traces are forgotten first.
pub const REMEMBERED_TRACES: usize = 1_024;

/// How many annotations each recent trace was given, across an exporter's batches: X-Ray
/// indexes 50 per trace.
#[derive(Debug, Default)]
pub struct TraceAnnotations {
    used: HashMap<TraceId, usize>,
    order: VecDeque<TraceId>,
}

impl TraceAnnotations {
    /// How many of `wanted` annotations `trace` may still take; they are counted as given.
    fn allow(&mut self, trace: TraceId, wanted: usize) -> usize {
        if !self.used.contains_key(&trace) {
            if self.order.len() >= REMEMBERED_TRACES
                && let Some(oldest) = self.order.pop_front()
            {
                self.used.remove(&oldest);
            }
            self.order.push_back(trace);
        }
        let used = self.used.entry(trace).or_insert(0);
        let allowed = wanted.min(MAX_ANNOTATIONS.saturating_sub(*used));
        *used += allowed;
        allowed
    }
}

/// The documents for the sampled spans of `spans` (unsampled ones are skipped, counted
/// nowhere), each at most `max_document_bytes` of JSON, as the first batch of its traces.
pub fn encode(spans: &[Span], resource: &Resource, max_document_bytes: usize) -> Encoded {
    encode_with(
        spans,
        resource,
        max_document_bytes,
        &mut TraceAnnotations::default(),
    )
}

/// [`encode`], with the annotations earlier batches gave each trace in `annotations`.
pub fn encode_with(
    spans: &[Span],
    resource: &Resource,
    max_document_bytes: usize,
    annotations: &mut TraceAnnotations,
) -> Encoded {
    let spans: Vec<&Span> = spans.iter().filter(|s| s.sampled).collect();
    if spans.is_empty() {
        return Encoded::default();
    }
    let fields = ResourceFields::new(resource);
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
        annotations: std::mem::take(annotations),
    };
    // Roots first, then spans only reachable through a parent cycle (malformed input).
    let roots = (0..packer.spans.len()).filter(|&i| !has_parent[i]);
    let order: Vec<usize> = roots.chain(0..packer.spans.len()).collect();
    for i in order {
        if !packer.visited[i] {
            let span = packer.spans[i];
            let parent = span.parent_span_id.filter(|&p| p != span.span_id);
            let role = match parent {
                None => Role::Segment(&fields),
                Some(parent) => Role::Independent {
                    parent,
                    resource: (!has_parent[i]).then_some(&fields),
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
    *annotations = packer.annotations;
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
    annotations: TraceAnnotations,
}

/// A packed entity: what fit of its subtree nested in it, and its size as JSON.
#[derive(Debug)]
pub(super) struct Packed<'a> {
    entity: Entity<'a>,
    nested: Vec<Packed<'a>>,
    size: usize,
    spans: u64,
    /// Spans of `spans` that were cut to fit.
    truncated: u64,
}

impl<'a> Packed<'a> {
    /// The entity with its nested subsegments, to write.
    pub(super) fn json(&self) -> EntityJson<'_, 'a> {
        EntityJson {
            entity: &self.entity,
            subsegments: &self.nested,
        }
    }
}

impl<'a> Packer<'a> {
    /// Packs span `i` as a top-level document.
    fn top(&mut self, i: usize, role: Role<'a>) {
        if let Some(packed) = self.pack(i, role, 0) {
            self.emit(packed);
        }
    }

    /// Packs span `i` and what fits of its subtree into one entity of at most the budget
    /// of `role`; the rest goes out as separate documents. `None` when the span itself
    /// cannot fit (counted dropped).
    fn pack(&mut self, i: usize, role: Role<'a>, depth: usize) -> Option<Packed<'a>> {
        self.visited[i] = true;
        let span = self.spans[i];
        let mut kids = Vec::new();
        // Each span is packed once (`visited`), so its child list is not needed again.
        for c in std::mem::take(&mut self.children[i]) {
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
        let mut entity = Entity::build(span, role);
        let wanted = entity.annotations.items().len();
        let allowed = self.annotations.allow(span.trace_id, wanted);
        if allowed < wanted {
            let demoted = entity.annotations.split_off(allowed);
            entity.metadata.extend(demoted);
        }
        let Some((base, cut)) = trim(&mut entity, budget) else {
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
        let mut truncated = u64::from(cut);
        let mut nested = Vec::new();
        for (kid, nest) in kids.into_iter().zip(nest) {
            if nest {
                spans += kid.spans;
                truncated += kid.truncated;
                nested.push(kid);
            } else {
                self.detach(kid, span.span_id);
            }
        }
        Some(Packed {
            entity,
            nested,
            size,
            spans,
            truncated,
        })
    }

    /// Sends a would-be nested subsegment as an independent subsegment document.
    fn detach(&mut self, mut kid: Packed<'a>, parent: SpanId) {
        kid.entity.placement = Placement::Independent { parent };
        self.emit(kid);
    }

    fn emit(&mut self, packed: Packed<'a>) {
        let mut json = Vec::with_capacity(packed.size.saturating_add(INDEPENDENT_RESERVE));
        match serde_json::to_writer(&mut json, &packed.json()) {
            Ok(()) if json.len() <= self.max => {
                self.out.truncated += packed.truncated;
                self.out.documents.push(Document {
                    json,
                    spans: packed.spans,
                    trace_id: packed.entity.trace_id,
                    id: packed.entity.id,
                });
            }
            _ => self.out.dropped += packed.spans,
        }
    }
}

/// Cuts `entity` until its JSON is at most `budget` bytes: an exception message longer
/// than 256 characters first, then the largest metadata entries, then the largest
/// annotations, then `http` and `aws`. The final size and whether anything was cut, or
/// `None` if even the bare span is too large.
fn trim(entity: &mut Entity<'_>, budget: usize) -> Option<(usize, bool)> {
    let bare = |entity: &Entity<'_>| {
        json_len(&EntityJson {
            entity,
            subsegments: &[],
        })
    };
    let mut size = bare(entity);
    if size <= budget {
        return Some((size, false));
    }
    for phase in 0..4 {
        match phase {
            0 => shorten_cause(entity),
            1 => drop_largest(&mut entity.metadata, size - budget),
            2 => drop_largest(&mut entity.annotations, size - budget),
            _ => {
                entity.http_request = Default::default();
                entity.http_status = None;
                entity.aws = Default::default();
            }
        }
        size = bare(entity);
        if size <= budget {
            return Some((size, true));
        }
    }
    None
}

/// Removes the largest entries until at least `excess` bytes are gone (a removed entry
/// frees at least its `"key":value` and a comma or its now empty object).
fn drop_largest(entries: &mut Entries<'_>, excess: usize) {
    let sizes: Vec<usize> = entries
        .items()
        .iter()
        .map(|(key, value)| json_len(key.as_ref()).saturating_add(json_len(value)) + 2)
        .collect();
    let mut by_size: Vec<usize> = (0..sizes.len()).collect();
    by_size.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]));
    let mut drop = vec![false; sizes.len()];
    let mut freed = 0usize;
    for i in by_size {
        if freed >= excess {
            break;
        }
        drop[i] = true;
        freed = freed.saturating_add(sizes[i]);
    }
    entries.retain(|i| !drop.get(i).copied().unwrap_or(false));
}

/// Cuts the exception's message and type to `TRIMMED_MESSAGE_CHARS` characters.
fn shorten_cause(entity: &mut Entity<'_>) {
    fn cut(text: &str) -> &str {
        match text.char_indices().nth(TRIMMED_MESSAGE_CHARS) {
            Some((end, _)) => &text[..end],
            None => text,
        }
    }
    if let Some(cause) = &mut entity.cause {
        cause.message = cause.message.map(cut);
        cause.kind = cause.kind.map(cut);
    }
}
