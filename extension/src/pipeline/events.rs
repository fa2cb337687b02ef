//! Routing the handlers' events (drained from the UDP intake) to their aggregators.

use liftwatch::clock::now_secs;
use liftwatch::protocol::{Event, RateLimitEvent};

use super::Pipeline;
use crate::ratelimit::Decision;

impl Pipeline {
    pub(super) fn drain_intake(&mut self, max: usize) -> usize {
        let Some(intake) = self.intake.as_mut() else {
            return 0;
        };
        let custom = &mut self.custom;
        let ratelimits = &mut self.ratelimits;
        let connections = &mut self.connections;
        let traces = &mut self.traces;
        let health = &self.health;
        let now_secs = now_secs();
        let drained = intake.drain(max, health, |event| {
            let kept = match event {
                Event::Metric(metric) => custom.record(metric),
                Event::RateLimit(event) => ratelimits.record(decision(event, now_secs)),
                Event::Connection(event) => {
                    connections.record(event);
                    true
                }
                Event::Span(event) => {
                    traces.record_event(event);
                    true
                }
                // A type this build does not aggregate yet: counted, never silently lost.
                _ => false,
            };
            if !kept {
                health.dropped(1);
            }
        });
        traces.publish_if_stale();
        drained
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
