//! The readiness fix: an extension's `/next` after an INVOKE is passed on only once the
//! runtime's answer to that invocation has been accepted.
//!
//! The simulator decides that an extension is ready for an invocation in
//! `mark_extension_ready`, from two request ids it reads before taking the lock that the
//! runtime's `mark_runtime_done` holds. A `/next` racing the runtime's response can read
//! "not answered yet" and then find the invocation answered: it is counted neither as
//! ready nor as pending, and `platform.report` waits for the extension-ready timeout (the
//! function timeout, 30 s) — about 2 invocations in 1,000 in periodic mode, where the
//! extension calls `/next` at once. Holding that `/next` until the runtime's answer got
//! its 202 makes the simulator always take its "answered" branch. Lambda blocks such a
//! `/next` anyway (its next event cannot come before the invocation ends), so the
//! extension sees no difference. SHUTDOWN releases every held call.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use serde_json::Value;

/// `POST /2018-06-01/runtime/invocation/{id}/response` or `/error`: the id answered.
pub(super) fn answered_request(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/2018-06-01/runtime/invocation/")?;
    let (id, action) = rest.split_once('/')?;
    matches!(action, "response" | "error").then_some(id)
}

/// The request id of an INVOKE event body.
pub(super) fn invoke_request(body: &Bytes) -> Option<String> {
    let event: Value = serde_json::from_slice(body).ok()?;
    if event.get("eventType").and_then(Value::as_str) != Some("INVOKE") {
        return None;
    }
    event.get("requestId")?.as_str().map(str::to_owned)
}

/// What the hold needs to know.
#[derive(Debug, Default)]
pub(super) struct Readiness {
    /// Per extension id, the request id of the last INVOKE delivered to it.
    delivered: HashMap<String, String>,
    /// Request ids the runtime's answer was accepted for (forgotten once every
    /// extension it was delivered to has moved on).
    answered: HashSet<String>,
    /// SHUTDOWN began: nothing is held any more.
    released: bool,
}

impl Readiness {
    pub(super) fn delivered(&mut self, extension_id: &str, request_id: String) {
        if let Some(previous) = self.delivered.insert(extension_id.to_owned(), request_id)
            && !self.delivered.values().any(|id| *id == previous)
        {
            self.answered.remove(&previous);
        }
    }

    pub(super) fn answered(&mut self, request_id: &str) {
        self.answered.insert(request_id.to_owned());
    }

    pub(super) fn release_all(&mut self) {
        self.released = true;
    }

    /// Whether `extension_id`'s `/next` must wait: its last INVOKE is not answered yet.
    pub(super) fn must_wait(&self, extension_id: &str) -> bool {
        !self.released
            && self
                .delivered
                .get(extension_id)
                .is_some_and(|id| !self.answered.contains(id))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    #[test]
    fn holds_a_poll_until_its_invocation_is_answered() {
        let mut readiness = Readiness::default();
        assert!(!readiness.must_wait("ext"), "nothing delivered: no wait");
        readiness.delivered("ext", "r1".into());
        assert!(readiness.must_wait("ext"));
        readiness.answered("r1");
        assert!(!readiness.must_wait("ext"));
        readiness.delivered("ext", "r2".into());
        assert!(readiness.must_wait("ext"));
        assert!(!readiness.answered.contains("r1"), "r1 is forgotten");
        readiness.release_all();
        assert!(!readiness.must_wait("ext"), "SHUTDOWN releases every poll");
    }

    #[test]
    fn reads_answers_and_invokes() {
        assert_eq!(
            answered_request("/2018-06-01/runtime/invocation/abc-1/response"),
            Some("abc-1")
        );
        assert_eq!(
            answered_request("/2018-06-01/runtime/invocation/abc-1/error"),
            Some("abc-1")
        );
        assert_eq!(
            answered_request("/2018-06-01/runtime/invocation/next"),
            None
        );
        assert_eq!(answered_request("/2018-06-01/runtime/init/error"), None);
        let invoke =
            Bytes::from_static(br#"{"eventType":"INVOKE","requestId":"r9","deadlineMs":1}"#);
        assert_eq!(invoke_request(&invoke).as_deref(), Some("r9"));
        let shutdown =
            Bytes::from_static(br#"{"eventType":"SHUTDOWN","shutdownReason":"spindown"}"#);
        assert_eq!(invoke_request(&shutdown), None);
    }
}
