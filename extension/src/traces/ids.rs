//! Span and trace ids for the spans the extension makes: SplitMix64 seeded from the
//! kernel's randomness (`liftwatch::random`), so ids differ between sandboxes and never
//! repeat within one (uniqueness, not secrecy, is what ids need).

use super::span::{SpanId, TraceId};

/// A generator of ids.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    state: u64,
}

impl Default for IdGenerator {
    fn default() -> Self {
        IdGenerator {
            state: liftwatch::random::u64(),
        }
    }
}

impl IdGenerator {
    /// Seeds again from the kernel: after a SnapStart restore, every copy of the snapshot
    /// holds the same state, and ids drawn from it would repeat across sandboxes.
    pub fn reseed(&mut self) {
        self.state = liftwatch::random::u64();
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A new, non-zero span id.
    pub fn span_id(&mut self) -> SpanId {
        SpanId(self.next_u64().max(1).to_be_bytes())
    }

    /// A new trace id in the X-Ray style: the first four bytes are `unix_secs`.
    pub fn trace_id(&mut self, unix_secs: u64) -> TraceId {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&u32::try_from(unix_secs).unwrap_or(u32::MAX).to_be_bytes());
        id[4..12].copy_from_slice(&self.next_u64().to_be_bytes());
        id[12..].copy_from_slice(&self.next_u64().to_be_bytes()[..4]);
        TraceId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_do_not_repeat_and_trace_ids_carry_the_time() {
        let mut ids = IdGenerator::default();
        let spans: std::collections::HashSet<SpanId> = (0..10_000).map(|_| ids.span_id()).collect();
        assert_eq!(spans.len(), 10_000);
        let trace = ids.trace_id(0x5759_e988);
        assert!(trace.to_xray().starts_with("1-5759e988-"));
    }
}
