//! What the kernel dropped, in events. A full receive buffer drops whole datagrams and the
//! kernel counts only datagrams (`kernel_drops`). Datagrams numbered by a `sequence` line
//! (docs/PROTOCOL.md; the SDK's batches carry one) say exactly how many events went
//! missing before them: a gap in a sender's numbers, and the difference between its
//! `sent` and what its last datagram ended at. The kernel's drops those gaps do not
//! explain belong to unnumbered datagrams; they are counted at the mean number of events
//! of the unnumbered datagrams received, and reported apart as an estimate.
//!
//! The estimate waits one flush: a numbered datagram dropped just before a flush is
//! explained only when the sender's next datagram arrives.

use std::collections::{HashMap, VecDeque};

use liftwatch::protocol::Sequence;

/// Senders remembered at most; the oldest is forgotten beyond it (and a datagram of its
/// later counts every event before it as lost, so the bound is generous).
pub const MAX_SENDERS: usize = 1_024;

/// What one sender has been seen to send.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// The number its next datagram should carry.
    next_seq: u64,
    /// Its events up to the end of the last datagram seen.
    sent: u64,
}

/// Dropped events, exact and estimated, since the last take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Events of numbered datagrams that never arrived.
    pub exact: u64,
    /// Events of the other datagrams the kernel dropped, at the mean size observed.
    pub estimated: u64,
}

/// The accounting across datagrams.
#[derive(Debug, Default)]
pub struct Ledger {
    senders: HashMap<String, Seen>,
    order: VecDeque<String>,
    exact: u64,
    /// Numbered datagrams found missing, since the start.
    missing_datagrams: u64,
    /// Unnumbered datagrams and their events, since the start.
    unnumbered: (u64, u64),
    /// Kernel drops already turned into estimates, since the start.
    estimated_datagrams: u64,
    /// The kernel's total at the previous take: what the next take may estimate.
    kernel_before: u64,
}

impl Ledger {
    /// A numbered datagram holding `events` event lines arrived.
    pub fn numbered(&mut self, sequence: &Sequence, events: u64) {
        let seen = match self.senders.get_mut(&sequence.sender) {
            Some(seen) => seen,
            None => {
                if self.senders.len() >= MAX_SENDERS
                    && let Some(oldest) = self.order.pop_front()
                {
                    self.senders.remove(&oldest);
                }
                self.order.push_back(sequence.sender.clone());
                self.senders.entry(sequence.sender.clone()).or_insert(Seen {
                    next_seq: 1,
                    sent: 0,
                })
            }
        };
        if sequence.seq >= seen.next_seq {
            self.missing_datagrams += sequence.seq - seen.next_seq;
            self.exact += sequence.sent.saturating_sub(seen.sent);
        }
        // A number below the expected one (a restarted sender reusing its id) starts over.
        *seen = Seen {
            next_seq: sequence.seq + 1,
            sent: sequence.sent + events,
        };
    }

    /// An unnumbered datagram holding `events` event lines arrived.
    pub fn unnumbered(&mut self, events: u64) {
        self.unnumbered.0 += 1;
        self.unnumbered.1 += events;
    }

    /// Takes what was dropped since the last take, given the kernel's drop counter
    /// `kernel_total` (datagrams since the socket was bound). The kernel's drops since the
    /// previous take wait for the next one, unless `last`.
    pub fn take(&mut self, kernel_total: u64, last: bool) -> Dropped {
        let settled = if last {
            kernel_total
        } else {
            std::mem::replace(&mut self.kernel_before, kernel_total)
        };
        let unexplained = settled
            .saturating_sub(self.missing_datagrams)
            .saturating_sub(self.estimated_datagrams);
        self.estimated_datagrams += unexplained;
        let (datagrams, events) = self.unnumbered;
        let estimated = match datagrams {
            0 => unexplained,
            n => (unexplained * events).div_ceil(n),
        };
        Dropped {
            exact: std::mem::take(&mut self.exact),
            estimated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(sender: &str, seq: u64, sent: u64) -> Sequence {
        Sequence {
            sender: sender.into(),
            seq,
            sent,
        }
    }

    #[test]
    fn gaps_in_a_sender_s_numbers_are_its_missing_events_exactly() {
        let mut ledger = Ledger::default();
        ledger.numbered(&seq("a", 1, 0), 100);
        ledger.numbered(&seq("a", 2, 100), 90);
        // 3 and 4 (190 events) lost.
        ledger.numbered(&seq("a", 5, 380), 50);
        ledger.numbered(&seq("b", 1, 0), 7);
        assert_eq!(
            ledger.take(2, false),
            Dropped {
                exact: 190,
                estimated: 0
            }
        );
        // The two kernel drops are the two missing datagrams: nothing is left to estimate.
        assert_eq!(ledger.take(2, true), Dropped::default());
    }

    #[test]
    fn a_sender_whose_first_datagrams_were_lost_counts_them() {
        let mut ledger = Ledger::default();
        ledger.numbered(&seq("a", 3, 500), 10);
        assert_eq!(ledger.take(0, true).exact, 500);
    }

    #[test]
    fn unexplained_kernel_drops_are_estimated_at_the_unnumbered_mean_one_take_later() {
        let mut ledger = Ledger::default();
        ledger.unnumbered(1);
        ledger.unnumbered(3);
        // 4 datagrams dropped, none of them numbered.
        assert_eq!(ledger.take(4, false), Dropped::default(), "waits one flush");
        assert_eq!(
            ledger.take(4, false),
            Dropped {
                exact: 0,
                estimated: 8
            }
        );
        assert_eq!(ledger.take(4, true), Dropped::default(), "estimated once");
    }

    #[test]
    fn a_numbered_tail_drop_explained_by_the_next_datagram_is_not_estimated_too() {
        let mut ledger = Ledger::default();
        ledger.numbered(&seq("a", 1, 0), 100);
        // Datagram 2 is dropped just before a flush.
        assert_eq!(ledger.take(1, false), Dropped::default());
        ledger.numbered(&seq("a", 3, 200), 100);
        assert_eq!(
            ledger.take(1, false),
            Dropped {
                exact: 100,
                estimated: 0
            }
        );
    }

    #[test]
    fn a_restarted_sender_starts_over_without_counting_a_loss() {
        let mut ledger = Ledger::default();
        ledger.numbered(&seq("a", 1, 0), 5);
        ledger.numbered(&seq("a", 2, 5), 5);
        ledger.numbered(&seq("a", 1, 0), 5);
        ledger.numbered(&seq("a", 2, 5), 5);
        assert_eq!(ledger.take(0, true), Dropped::default());
    }

    #[test]
    fn senders_are_bounded() {
        let mut ledger = Ledger::default();
        for i in 0..MAX_SENDERS + 10 {
            ledger.numbered(&seq(&format!("s{i}"), 1, 0), 1);
        }
        assert_eq!(ledger.senders.len(), MAX_SENDERS);
        assert_eq!(ledger.order.len(), MAX_SENDERS);
    }
}
