//! Telemetry records are taken only for invocations the extension was sent an INVOKE
//! for. A record naming another request id (one that never ran here: forged, or meant for
//! another sandbox) waits, in case its INVOKE is still on its way through the other
//! channel; if none comes before a whole flush cycle has passed, it is dropped and
//! counted (`EventsMalformed`). A report that arrives after the next thaw names an id
//! seen before, so it is taken. The ids remembered and the records held are bounded.

use std::collections::{HashSet, VecDeque};

use crate::telemetry::Record;

/// Request ids remembered (the most recent INVOKEs).
const KNOWN_IDS: usize = 1_024;
/// Records held for an id not seen yet; more are dropped at once.
const HELD_RECORDS: usize = 256;

/// The known request ids and the records waiting for theirs.
#[derive(Debug, Default)]
pub(super) struct RequestGate {
    known: HashSet<String>,
    order: VecDeque<String>,
    /// Records waiting for their INVOKE, with the flush cycle they arrived in.
    held: Vec<(u64, Record)>,
    cycle: u64,
    /// Records dropped since the last `take_dropped`.
    dropped: u64,
}

impl RequestGate {
    /// An INVOKE for `request_id` arrived: it is known from now on, and the records held
    /// for it are returned, in arrival order.
    pub(super) fn invoked(&mut self, request_id: &str) -> Vec<Record> {
        if self.known.insert(request_id.to_owned()) {
            self.order.push_back(request_id.to_owned());
            if self.order.len() > KNOWN_IDS
                && let Some(oldest) = self.order.pop_front()
            {
                self.known.remove(&oldest);
            }
        }
        let (released, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(_, record)| record.request_id() == Some(request_id));
        self.held = kept;
        released.into_iter().map(|(_, record)| record).collect()
    }

    /// `record` if it may be taken now; otherwise it is held (or dropped when full).
    pub(super) fn admit(&mut self, record: Record) -> Option<Record> {
        match record.request_id() {
            Some(id) if !self.known.contains(id) => {
                if self.held.len() < HELD_RECORDS {
                    self.held.push((self.cycle, record));
                } else {
                    self.dropped += 1;
                }
                None
            }
            _ => Some(record),
        }
    }

    /// A flush: records held since before the previous flush are dropped.
    pub(super) fn flushed(&mut self) {
        let cycle = self.cycle;
        let before = self.held.len();
        self.held.retain(|(arrived, _)| *arrived >= cycle);
        self.dropped += (before - self.held.len()) as u64;
        self.cycle += 1;
    }

    /// SHUTDOWN: nothing more will come; every record still held is dropped.
    pub(super) fn give_up(&mut self) {
        self.dropped += self.held.len() as u64;
        self.held.clear();
    }

    /// Records dropped since the last call.
    pub(super) fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(id: &str) -> Record {
        Record::Start {
            request_id: id.to_owned(),
            tracing: None,
            time_unix_nanos: None,
        }
    }

    #[test]
    fn takes_known_ids_holds_early_ones_and_drops_strangers_after_a_cycle() {
        let mut gate = RequestGate::default();
        assert!(
            gate.admit(Record::FunctionLog).is_some(),
            "no request id: taken"
        );
        // The INVOKE of `a` comes after its platform.start: held, then released.
        assert!(gate.admit(start("a")).is_none());
        assert_eq!(gate.invoked("a"), vec![start("a")]);
        assert!(gate.admit(start("a")).is_some(), "known now");
        // A stranger survives one flush, not two.
        assert!(gate.admit(start("forged")).is_none());
        gate.flushed();
        assert_eq!(gate.take_dropped(), 0);
        gate.flushed();
        assert_eq!(gate.take_dropped(), 1);
        assert!(gate.invoked("forged").is_empty(), "gone");
    }

    #[test]
    fn memory_is_bounded() {
        let mut gate = RequestGate::default();
        for i in 0..(KNOWN_IDS + 10) {
            gate.invoked(&format!("id-{i}"));
        }
        assert_eq!(gate.known.len(), KNOWN_IDS);
        assert!(
            gate.admit(start("id-0")).is_none(),
            "the oldest ids are forgotten"
        );
        for i in 0..HELD_RECORDS + 5 {
            gate.admit(start(&format!("x-{i}")));
        }
        assert_eq!(
            gate.take_dropped(),
            6,
            "one held id-0 plus 255 fit; 6 dropped at once"
        );
    }
}
