//! What the intercepting proxy records about the traffic it relays: registrations,
//! telemetry subscription attempts and their verdicts, SHUTDOWN deliveries, and whether
//! the Init phase is over.

use std::collections::HashSet;
use std::time::Instant;

/// How the proxy answered a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionVerdict {
    /// Passed to the simulator, which answered `status`.
    Forwarded,
    /// Answered 403 because init was over.
    RejectedAfterInit,
    /// Answered 500 because `refuse_telemetry_subscription` is set.
    Refused,
}

/// One `PUT /2022-07-01/telemetry` the proxy saw.
#[derive(Debug, Clone)]
pub struct SubscriptionAttempt {
    /// The caller's `Lambda-Extension-Identifier`, if sent.
    pub extension_id: Option<String>,
    /// What the proxy did with it.
    pub verdict: SubscriptionVerdict,
    /// The status the extension received.
    pub status: u16,
    /// Whether it arrived before init was over.
    pub during_init: bool,
    /// The request body (the subscription document).
    pub body: String,
}

/// An extension that registered successfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The `Lambda-Extension-Name` it registered with.
    pub name: String,
    /// The `Lambda-Extension-Identifier` it was given.
    pub id: String,
}

/// A SHUTDOWN event handed to an extension.
#[derive(Debug, Clone)]
pub struct ShutdownDelivery {
    /// The extension it went to.
    pub extension_id: String,
    /// When the proxy passed it on.
    pub at: Instant,
    /// The event's `deadlineMs` (milliseconds since the Unix epoch).
    pub deadline_ms: Option<i64>,
    /// The event's `shutdownReason` (`spindown`, `timeout`, `failure`).
    pub reason: Option<String>,
}

/// Everything the proxy has observed so far.
#[derive(Debug, Clone, Default)]
pub struct ProxyObservations {
    /// Successful registrations, in order.
    pub registered: Vec<Registration>,
    /// Whether the runtime has called `/runtime/invocation/next` (or, with SnapStart,
    /// `/runtime/restore/next`): its init is done.
    pub runtime_polled: bool,
    /// Whether the runtime has called `/runtime/restore/next` (SnapStart: ready for the
    /// snapshot; the call is held until the restore).
    pub restore_polled: bool,
    /// Whether the held `/runtime/restore/next` was answered (the sandbox restored).
    pub restore_released: bool,
    /// Whether the runtime called `/runtime/invocation/next` after the restore was
    /// released (its restore is done).
    pub runtime_polled_after_restore: bool,
    /// Whether every registered extension has called `/next` (its init is done).
    pub extensions_ready: bool,
    /// Whether init is over (runtime and every registered extension called `/next`).
    pub init_complete: bool,
    /// Every telemetry subscription attempt, in order.
    pub subscriptions: Vec<SubscriptionAttempt>,
    /// Every SHUTDOWN event delivered.
    pub shutdown_deliveries: Vec<ShutdownDelivery>,
    /// How many requests were received.
    pub requests: u64,
}

#[derive(Debug, Default)]
pub(super) struct Log {
    pub(super) seen: ProxyObservations,
    pub(super) polled_extensions: HashSet<String>,
    pub(super) readiness: super::readiness::Readiness,
}

impl Log {
    /// Marks init complete once the runtime and every registered extension polled.
    pub(super) fn refresh_init(&mut self) {
        self.seen.extensions_ready = !self.seen.registered.is_empty()
            && self
                .seen
                .registered
                .iter()
                .all(|r| self.polled_extensions.contains(&r.id));
        if !self.seen.init_complete
            && self.seen.runtime_polled
            && self
                .seen
                .registered
                .iter()
                .all(|r| self.polled_extensions.contains(&r.id))
        {
            self.seen.init_complete = true;
        }
    }
}
