//! The `sequence` line: an optional line in a datagram that numbers it, so the extension
//! can count exactly the events of the datagrams the kernel dropped (a full receive
//! buffer drops whole datagrams, silently). A sender that packs events into datagrams adds
//! one line per datagram:
//!
//! `{"v":1,"type":"sequence","sender":"9f2c41d07ab3e655","seq":12,"sent":3400}`
//!
//! `sender` names the sending process (1–64 characters of `[A-Za-z0-9_.:-]`, random per
//! process), `seq` numbers its numbered datagrams from 1 without gaps, and `sent` is the
//! number of events in its earlier numbered datagrams. Every other non-blank line of the
//! datagram is one of its events. When datagram 12 arrives after 9, the events of 10 and
//! 11 are `sent` minus what 9 ended at: lost, counted in `EventsDropped` exactly. The line
//! itself is not an event. See docs/PROTOCOL.md.

use std::borrow::Cow;

use serde::Deserialize;

use super::{ProtocolError, invalid};

/// The most characters of a sender id.
pub const MAX_SENDER_CHARS: usize = 64;

/// A datagram's sequence line.
///
/// ```
/// use liftwatch::protocol::{decode_line, Event, Sequence};
/// let line = r#"{"v":1,"type":"sequence","sender":"a1","seq":3,"sent":250}"#;
/// let Ok(Event::Sequence(s)) = decode_line(line) else { unreachable!() };
/// assert_eq!(s, Sequence { sender: "a1".into(), seq: 3, sent: 250 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// The sending process's id.
    pub sender: String,
    /// This datagram's number, from 1.
    pub seq: u64,
    /// Events in this sender's earlier numbered datagrams.
    pub sent: u64,
}

#[derive(Deserialize)]
struct WireSequence<'a> {
    #[serde(borrow)]
    sender: Option<Cow<'a, str>>,
    seq: Option<u64>,
    sent: Option<u64>,
}

fn valid_sender(sender: &str) -> bool {
    (1..=MAX_SENDER_CHARS).contains(&sender.len())
        && sender
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
}

/// Reads a `sequence` line (its header already checked).
pub(super) fn sequence_from_line(line: &str) -> Result<Sequence, ProtocolError> {
    let wire: WireSequence<'_> =
        serde_json::from_str(line).map_err(|e| ProtocolError::Json(e.to_string()))?;
    let sender = wire
        .sender
        .ok_or_else(|| invalid("sender", "is required"))?;
    if !valid_sender(&sender) {
        return Err(invalid("sender", "must be 1-64 of [A-Za-z0-9_.:-]"));
    }
    let seq = wire.seq.ok_or_else(|| invalid("seq", "is required"))?;
    if seq == 0 {
        return Err(invalid("seq", "starts at 1"));
    }
    let sent = wire.sent.ok_or_else(|| invalid("sent", "is required"))?;
    Ok(Sequence {
        sender: sender.into_owned(),
        seq,
        sent,
    })
}

/// Writes a sequence line (no trailing newline); `sender` must already be valid.
pub(crate) fn write_sequence(buf: &mut Vec<u8>, sender: &str, seq: u64, sent: u64) {
    buf.extend_from_slice(br#"{"v":1,"type":"sequence","sender":""#);
    buf.extend_from_slice(sender.as_bytes());
    buf.extend_from_slice(br#"","seq":"#);
    buf.extend_from_slice(seq.to_string().as_bytes());
    buf.extend_from_slice(br#","sent":"#);
    buf.extend_from_slice(sent.to_string().as_bytes());
    buf.push(b'}');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_written_line_reads_back_and_bad_ones_say_why() {
        let mut buf = Vec::new();
        write_sequence(&mut buf, "9f2c41d07ab3e655", 12, 3_400);
        let line = std::str::from_utf8(&buf).unwrap();
        assert_eq!(
            line,
            r#"{"v":1,"type":"sequence","sender":"9f2c41d07ab3e655","seq":12,"sent":3400}"#
        );
        assert_eq!(
            sequence_from_line(line).unwrap(),
            Sequence {
                sender: "9f2c41d07ab3e655".into(),
                seq: 12,
                sent: 3_400
            }
        );
        let field = |line: &str| match sequence_from_line(line) {
            Err(ProtocolError::InvalidField { field, .. }) => field,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(field(r#"{"seq":1,"sent":0}"#), "sender");
        assert_eq!(field(r#"{"sender":"a b","seq":1,"sent":0}"#), "sender");
        assert_eq!(
            field(&format!(
                r#"{{"sender":"{}","seq":1,"sent":0}}"#,
                "a".repeat(65)
            )),
            "sender"
        );
        assert_eq!(field(r#"{"sender":"a","seq":0,"sent":0}"#), "seq");
        assert_eq!(field(r#"{"sender":"a","seq":1}"#), "sent");
    }
}
