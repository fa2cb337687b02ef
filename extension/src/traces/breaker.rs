//! A circuit breaker around a span exporter, so a dead destination costs one flush's
//! budget once, not every flush: after an export delivered nothing, the breaker opens, and
//! from then on a flush never waits for that exporter. Its spans wait in a bounded buffer
//! (what overflows is dropped and counted), and one retry at a time runs in a task of its
//! own, off the response path; the first retry that delivers closes the breaker. At
//! SHUTDOWN, [`SpanExporter::settle`] waits for the retry in flight and tries what is
//! left once more within the deadline; what still fails is dropped and counted.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::export::{SpanExporter, SpanReport};
use super::span::{Resource, Span};
use crate::sink::SinkFuture;

/// Spans held for a destination that is down; more are dropped.
pub const PENDING_SPANS: usize = 4_096;
/// How long one retry may take.
pub const RETRY_BUDGET: Duration = Duration::from_secs(2);

/// A retry's result: the exporter back, the spans it carried, what it achieved.
type RetryOutcome = (Box<dyn SpanExporter>, Vec<Span>, SpanReport);
type Retry = JoinHandle<RetryOutcome>;

/// The breaker and the exporter it guards.
#[derive(Debug)]
pub struct BreakerExporter {
    name: &'static str,
    /// The exporter, when no retry has it.
    inner: Option<Box<dyn SpanExporter>>,
    /// Open: the last export delivered nothing.
    open: bool,
    pending: Vec<Span>,
    retry: Option<Retry>,
    /// Spans the retry in flight carries.
    retrying: u64,
}

impl BreakerExporter {
    /// Guards `inner`, closed.
    pub fn new(inner: Box<dyn SpanExporter>) -> Self {
        BreakerExporter {
            name: inner.name(),
            inner: Some(inner),
            open: false,
            pending: Vec::new(),
            retry: None,
            retrying: 0,
        }
    }

    /// Whether flushes skip the exporter.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Spans waiting for the destination.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Holds `spans` for a later retry; what does not fit is counted in `report`.
    fn hold(&mut self, spans: impl IntoIterator<Item = Span>, report: &mut SpanReport) {
        for span in spans {
            if self.pending.len() < PENDING_SPANS {
                self.pending.push(span);
            } else {
                report.dropped += 1;
            }
        }
    }

    /// Takes in a finished retry: the exporter comes back; the breaker closes if it
    /// delivered, and its spans are held again if it did not.
    fn collect(
        &mut self,
        outcome: (Box<dyn SpanExporter>, Vec<Span>, SpanReport),
        report: &mut SpanReport,
    ) {
        let (inner, spans, retried) = outcome;
        self.inner = Some(inner);
        if delivered(&retried) {
            self.open = false;
            report.exported += retried.exported;
            report.dropped += retried.dropped;
        } else {
            let mut held = spans;
            held.append(&mut self.pending);
            self.hold(held, report);
        }
    }

    /// Collects the retry if it has finished.
    async fn collect_finished(&mut self, report: &mut SpanReport) {
        if self.retry.as_ref().is_some_and(JoinHandle::is_finished)
            && let Some(retry) = self.retry.take()
        {
            self.collect_joined(retry.await, report);
        }
    }

    fn collect_joined(
        &mut self,
        joined: Result<RetryOutcome, tokio::task::JoinError>,
        report: &mut SpanReport,
    ) {
        match joined {
            Ok(outcome) => self.collect(outcome, report),
            // The retry panicked (the exporter is lost with it): stay open, nothing to send with.
            Err(error) => tracing::warn!(exporter = self.name, %error, "span export retry failed"),
        }
    }

    /// Starts a retry of the held spans in a task of its own, if none runs.
    fn start_retry(&mut self, resource: &Resource) {
        if self.retry.is_some() || self.pending.is_empty() {
            return;
        }
        let Some(mut inner) = self.inner.take() else {
            return;
        };
        let spans = std::mem::take(&mut self.pending);
        self.retrying = spans.len() as u64;
        let resource = resource.clone();
        self.retry = Some(tokio::spawn(async move {
            let report = inner
                .export(&spans, &resource, Instant::now() + RETRY_BUDGET)
                .await;
            (inner, spans, report)
        }));
    }
}

/// Whether an export got anything through (or had nothing to send).
fn delivered(report: &SpanReport) -> bool {
    report.exported > 0 || report.dropped == 0
}

impl SpanExporter for BreakerExporter {
    fn name(&self) -> &'static str {
        self.name
    }

    fn export<'a>(
        &'a mut self,
        spans: &'a [Span],
        resource: &'a Resource,
        deadline: Instant,
    ) -> SinkFuture<'a, SpanReport> {
        Box::pin(async move {
            let mut report = SpanReport::default();
            self.collect_finished(&mut report).await;
            if !self.open
                && let Some(inner) = self.inner.as_mut()
            {
                let sent = inner.export(spans, resource, deadline).await;
                if delivered(&sent) {
                    report.exported += sent.exported;
                    report.dropped += sent.dropped;
                    return report;
                }
                self.open = true;
                tracing::warn!(
                    exporter = self.name,
                    spans = spans.len(),
                    "span export delivered nothing: holding spans and retrying off the response path"
                );
            }
            self.hold(spans.iter().cloned(), &mut report);
            self.start_retry(resource);
            report
        })
    }

    fn settle<'a>(
        &'a mut self,
        resource: &'a Resource,
        deadline: Instant,
    ) -> SinkFuture<'a, SpanReport> {
        Box::pin(async move {
            let mut report = SpanReport::default();
            if let Some(mut retry) = self.retry.take() {
                match tokio::time::timeout_at(deadline.into(), &mut retry).await {
                    Ok(joined) => self.collect_joined(joined, &mut report),
                    Err(_) => {
                        // Out of time: the spans it carries are lost with it.
                        retry.abort();
                        report.dropped += self.retrying;
                        tracing::warn!(
                            exporter = self.name,
                            "span export retry still running at shutdown"
                        );
                    }
                }
            }
            let spans = std::mem::take(&mut self.pending);
            if spans.is_empty() {
                return report;
            }
            if Instant::now() >= deadline {
                report.dropped += spans.len() as u64;
                return report;
            }
            match self.inner.as_mut() {
                Some(inner) => {
                    let sent = inner.export(&spans, resource, deadline).await;
                    report.exported += sent.exported;
                    report.dropped += sent.dropped;
                }
                None => report.dropped += spans.len() as u64,
            }
            report
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::traces::span::{SpanKind, SpanStatus};
    use crate::traces::{SpanId, TraceId};

    /// Delivers or fails as scripted (delivering once the script runs out), counting calls.
    #[derive(Debug, Clone, Default)]
    struct Scripted {
        fails: Arc<Mutex<VecDeque<bool>>>,
        calls: Arc<AtomicUsize>,
    }

    impl Scripted {
        fn failing(times: usize) -> Self {
            let scripted = Scripted::default();
            scripted
                .fails
                .lock()
                .unwrap()
                .extend(std::iter::repeat_n(true, times));
            scripted
        }
    }

    impl SpanExporter for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }

        fn export<'a>(
            &'a mut self,
            spans: &'a [Span],
            _resource: &'a Resource,
            _deadline: Instant,
        ) -> SinkFuture<'a, SpanReport> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let fail = self.fails.lock().unwrap().pop_front().unwrap_or(false);
            let n = spans.len() as u64;
            Box::pin(async move {
                if fail {
                    SpanReport::dropped(n)
                } else {
                    SpanReport {
                        exported: n,
                        dropped: 0,
                        truncated: 0,
                    }
                }
            })
        }
    }

    fn spans(n: u64) -> Vec<Span> {
        (0..n)
            .map(|i| Span {
                trace_id: TraceId([1; 16]),
                span_id: SpanId((i + 1).to_be_bytes()),
                parent_span_id: None,
                name: "s".into(),
                kind: SpanKind::Internal,
                start_unix_nanos: 1,
                end_unix_nanos: 2,
                status: SpanStatus::Unset,
                attributes: Vec::new(),
                sampled: true,
                detail: None,
            })
            .collect()
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    /// Lets the spawned retry run to completion.
    async fn let_retry_finish(breaker: &BreakerExporter) {
        for _ in 0..100 {
            if breaker.retry.as_ref().is_none_or(JoinHandle::is_finished) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn a_failure_opens_it_and_flushes_stop_waiting_until_a_retry_delivers() {
        let inner = Scripted::failing(2);
        let mut breaker = BreakerExporter::new(Box::new(inner.clone()));
        let resource = Resource::default();
        assert_eq!(
            breaker.export(&spans(3), &resource, later()).await,
            SpanReport::default()
        );
        assert!(breaker.is_open(), "nothing delivered: open");
        // The failed spans are held, and one retry (the second failure) runs in a task.
        let_retry_finish(&breaker).await;
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        // Open: this flush does not call the exporter; it takes the failed retry back,
        // holds the new spans and starts the next retry, which delivers all 5.
        let report = breaker.export(&spans(2), &resource, later()).await;
        assert_eq!(report, SpanReport::default());
        let_retry_finish(&breaker).await;
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
        let report = breaker.export(&spans(1), &resource, later()).await;
        assert_eq!(
            report,
            SpanReport {
                exported: 5 + 1,
                dropped: 0,
                truncated: 0,
            },
            "closed again: sent at once"
        );
        assert!(!breaker.is_open());
        assert_eq!(breaker.pending(), 0);
    }

    #[tokio::test]
    async fn what_overflows_the_buffer_is_dropped_and_settle_sends_the_rest() {
        let inner = Scripted::failing(1 + 1);
        let mut breaker = BreakerExporter::new(Box::new(inner.clone()));
        let resource = Resource::default();
        breaker.export(&spans(10), &resource, later()).await;
        let_retry_finish(&breaker).await;
        // The retry failed: its 10 come back; the buffer then has room for PENDING_SPANS.
        let report = breaker
            .export(&spans(PENDING_SPANS as u64), &resource, later())
            .await;
        assert_eq!(
            report,
            SpanReport {
                exported: 0,
                dropped: 10,
                truncated: 0,
            }
        );
        // SHUTDOWN: the retry in flight delivers what it carried.
        let settled = breaker.settle(&resource, later()).await;
        assert_eq!(
            settled,
            SpanReport {
                exported: PENDING_SPANS as u64,
                dropped: 0,
                truncated: 0,
            }
        );
        assert_eq!(breaker.pending(), 0);
    }

    #[tokio::test]
    async fn settle_counts_what_a_dead_destination_never_took() {
        let inner = Scripted::failing(1_000);
        let mut breaker = BreakerExporter::new(Box::new(inner));
        let resource = Resource::default();
        breaker.export(&spans(4), &resource, later()).await;
        let settled = breaker.settle(&resource, later()).await;
        assert_eq!(
            settled,
            SpanReport {
                exported: 0,
                dropped: 4,
                truncated: 0,
            }
        );
    }
}
