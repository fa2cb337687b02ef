//! Routing the handlers' events (drained from the UDP intake) to their aggregators.

use liftwatch::clock::now_ms;
use liftwatch::protocol::{Event, RateLimitEvent};

use super::Pipeline;
use crate::ratelimit::Decision;

impl Pipeline {
    pub(super) fn drain_intake(&mut self, max: usize) -> usize {
        let Some(intake) = self.intake.as_mut() else {
            return 0;
        };
        let custom = &mut self.custom;
        let ratelimit = &mut self.ratelimit;
        let table = &mut self.table;
        let warned_no_table = &mut self.warned_no_table;
        let connections = &mut self.connections;
        let counting = self.counter.is_some();
        let warned_no_counter = &mut self.warned_no_counter;
        let traces = &mut self.traces;
        let health = &self.health;
        let now_secs = now_ms() / 1000;
        intake.drain(max, health, |event| {
            let kept = match event {
                Event::Metric(metric) => custom.record(metric),
                Event::RateLimit(event) => {
                    let decision = decision(event, now_secs);
                    let in_table = match table.as_mut() {
                        Some(table) => table.record(decision.clone()),
                        None => {
                            if !std::mem::replace(warned_no_table, true) {
                                tracing::warn!(
                                    "rate-limit decisions go to metrics only: set LIFTWATCH_RATELIMIT_TABLE for per-window statistics"
                                );
                            }
                            true
                        }
                    };
                    ratelimit.record(decision) && in_table
                }
                Event::Connection(event) => {
                    if !counting && !std::mem::replace(warned_no_counter, true) {
                        tracing::warn!(
                            "ActiveConnections is off: set LIFTWATCH_CONNECTIONS_TABLE to the connection table to publish the fleet-wide count"
                        );
                    }
                    connections.record(event);
                    true
                }
                Event::Span(event) => {
                    traces.record_handler_span(super::spans::span_from_event(event));
                    true
                }
                // A type this build does not aggregate yet: counted, never silently lost.
                _ => false,
            };
            if !kept {
                health.dropped(1);
            }
        })
    }
}

/// A handler's rate-limit event as the aggregator counts it; an event without a window
/// start falls in the window containing `now_secs`.
fn decision(event: RateLimitEvent, now_secs: u64) -> Decision {
    let window = u64::from(event.window_seconds.max(1));
    Decision {
        rule: event.rule,
        key_class: event.key_class,
        outcome: event.outcome,
        window_seconds: event.window_seconds,
        window_start: event.window_start.unwrap_or(now_secs / window * window),
    }
}
