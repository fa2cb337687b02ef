//! Spans from handlers: [`Client::span`](crate::Client::span) starts a span in the current
//! invocation's trace (read from `_X_AMZN_TRACE_ID`, which Lambda's runtimes set for each
//! invocation), [`Span::child`] nests, and the span is sent as one `span` event when it
//! ends (on [`Span::end`] or when dropped). The extension makes these spans children of
//! the invocation's own span and exports them with it.
//!
//! Propagation: [`Span::xray_header`] and [`Span::traceparent`] give the headers to put on
//! an outgoing request so the callee's spans join the same trace.
//!
//! ```
//! # let intake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
//! # let client = liftwatch::Client::new(intake.local_addr().unwrap().port());
//! use liftwatch::protocol::SpanKind;
//! let mut request = client.span("handle-order");
//! request.attribute("order.items", 3_i64);
//! let mut query = request.child("dynamodb.query");
//! query.kind(SpanKind::Client).attribute("db.system", "dynamodb");
//! let header = query.xray_header(); // for the outgoing call
//! assert!(header.starts_with("Root=1-"));
//! query.end();
//! request.end();
//! assert_eq!(client.sent(), 2);
//! ```

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::client::{Client, SendError};
use crate::protocol::{AttributeValue, SpanEvent, SpanKind, hex, to_hex};

/// The environment variable Lambda's runtimes set to the invocation's X-Ray trace header.
pub const TRACE_ID_VAR: &str = "_X_AMZN_TRACE_ID";

/// A trace and the span new spans hang under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace.
    pub trace_id: [u8; 16],
    /// The parent of new spans; `None` makes them roots.
    pub parent_span_id: Option<[u8; 8]>,
    /// Whether the trace is sampled.
    pub sampled: bool,
}

impl TraceContext {
    /// The current invocation's context, from `_X_AMZN_TRACE_ID`.
    pub fn from_env() -> Option<Self> {
        std::env::var(TRACE_ID_VAR)
            .ok()
            .and_then(|h| Self::from_xray_header(&h))
    }

    /// Reads an X-Ray trace header (`Root=1-…;Parent=…;Sampled=0|1`); `Sampled` missing or
    /// `?` counts as sampled (the extension decides), a missing `Parent` makes roots.
    ///
    /// ```
    /// use liftwatch::TraceContext;
    /// let context = TraceContext::from_xray_header(
    ///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
    /// ).unwrap();
    /// assert!(!context.sampled);
    /// assert_eq!(TraceContext::from_xray_header("Root=2-00-00"), None);
    /// ```
    pub fn from_xray_header(header: &str) -> Option<Self> {
        let (mut trace_id, mut parent, mut sampled) = (None, None, true);
        for part in header.split(';') {
            let (key, value) = part.trim().split_once('=')?;
            match key {
                "Root" => {
                    let rest = value.strip_prefix("1-")?;
                    let (time, random) = rest.split_once('-')?;
                    if time.len() != 8 {
                        return None;
                    }
                    trace_id = hex::<16>(&format!("{time}{random}"));
                }
                "Parent" => parent = hex::<8>(value),
                "Sampled" => sampled = value != "0",
                _ => {}
            }
        }
        let trace_id = trace_id.filter(|id| *id != [0; 16])?;
        Some(TraceContext {
            trace_id,
            parent_span_id: parent.filter(|id| *id != [0; 8]),
            sampled,
        })
    }

    /// A new sampled trace (X-Ray style: the first four bytes are the Unix time).
    pub fn new_root() -> Self {
        let mut trace_id = [0u8; 16];
        let secs = u32::try_from(crate::clock::now_nanos() / 1_000_000_000).unwrap_or(u32::MAX);
        trace_id[..4].copy_from_slice(&secs.to_be_bytes());
        trace_id[4..12].copy_from_slice(&random_u64().to_be_bytes());
        trace_id[12..].copy_from_slice(&random_u64().to_be_bytes()[..4]);
        TraceContext {
            trace_id,
            parent_span_id: None,
            sampled: true,
        }
    }
}

/// A span being timed; sent when it ends. See the [module docs](self).
#[derive(Debug)]
#[must_use = "a span is sent when it ends: keep it while the work runs"]
pub struct Span<'c> {
    client: &'c Client,
    event: SpanEvent,
    sent: bool,
}

impl Client {
    /// Starts a span in the current invocation's trace (`_X_AMZN_TRACE_ID`), or in a new
    /// trace outside Lambda.
    pub fn span(&self, name: &str) -> Span<'_> {
        let context = TraceContext::from_env().unwrap_or_else(TraceContext::new_root);
        self.span_in(name, &context)
    }

    /// Starts a span under `context`.
    pub fn span_in(&self, name: &str, context: &TraceContext) -> Span<'_> {
        Span {
            client: self,
            event: SpanEvent {
                name: name.to_owned(),
                trace_id: context.trace_id,
                span_id: new_span_id(),
                parent_span_id: context.parent_span_id,
                start_unix_nano: crate::clock::now_nanos(),
                end_unix_nano: 0,
                kind: SpanKind::Internal,
                error: None,
                attributes: Vec::new(),
                sampled: context.sampled,
            },
            sent: false,
        }
    }
}

impl<'c> Span<'c> {
    /// Starts a span nested in this one.
    pub fn child(&self, name: &str) -> Span<'c> {
        self.client.span_in(name, &self.context())
    }

    /// The context of spans under this one.
    pub fn context(&self) -> TraceContext {
        TraceContext {
            trace_id: self.event.trace_id,
            parent_span_id: Some(self.event.span_id),
            sampled: self.event.sampled,
        }
    }

    /// Sets an attribute (a later value for the same name replaces the earlier one).
    pub fn attribute(&mut self, name: &str, value: impl Into<AttributeValue>) -> &mut Self {
        let value = value.into();
        match self.event.attributes.iter_mut().find(|(n, _)| n == name) {
            Some((_, old)) => *old = value,
            None => self.event.attributes.push((name.to_owned(), value)),
        }
        self
    }

    /// Sets the span's kind (default `internal`).
    pub fn kind(&mut self, kind: SpanKind) -> &mut Self {
        self.event.kind = kind;
        self
    }

    /// Marks the span failed with `message`.
    pub fn error(&mut self, message: &str) -> &mut Self {
        self.event.error = Some(message.to_owned());
        self
    }

    /// The X-Ray header for an outgoing request made inside this span.
    pub fn xray_header(&self) -> String {
        let trace = to_hex(&self.event.trace_id);
        format!(
            "Root=1-{}-{};Parent={};Sampled={}",
            &trace[..8],
            &trace[8..],
            to_hex(&self.event.span_id),
            u8::from(self.event.sampled)
        )
    }

    /// The W3C `traceparent` header for an outgoing request made inside this span.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            to_hex(&self.event.trace_id),
            to_hex(&self.event.span_id),
            u8::from(self.event.sampled)
        )
    }

    /// Ends the span now and sends it; says why it was not sent.
    pub fn end(mut self) -> Result<(), SendError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), SendError> {
        self.sent = true;
        self.event.end_unix_nano = crate::clock::now_nanos().max(self.event.start_unix_nano);
        self.client.send_span(&self.event)
    }
}

impl Drop for Span<'_> {
    fn drop(&mut self) {
        if !self.sent {
            let _ = self.finish();
        }
    }
}

thread_local! {
    static COUNTER: Cell<u64> = const { Cell::new(0) };
}

/// 64 random-enough bits: a hash of the time, the thread and a per-thread counter, keyed
/// by the process's random hasher seed (ids need uniqueness, not secrecy).
fn random_u64() -> u64 {
    let n = COUNTER.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n
    });
    RandomState::new().hash_one((crate::clock::now_nanos(), n, std::thread::current().id()))
}

fn new_span_id() -> [u8; 8] {
    let id = random_u64().max(1);
    id.to_be_bytes()
}
