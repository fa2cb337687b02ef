//! The `connection` event: a WebSocket connection opened or closed, or a message handled,
//! reported by the handler so that the extension publishes `ConnectionsOpened`,
//! `ConnectionsClosed`, `Messages` and `MessageBytes`.
//!
//! Wire form: `{"v":1,"type":"connection","event":"opened"}`, `"closed"`, or
//! `{"v":1,"type":"connection","event":"message","bytes":512}` (`bytes` required for a
//! message, ignored otherwise).

use std::borrow::Cow;

use serde::Deserialize;

use super::{ProtocolError, invalid};

/// What happened to a WebSocket connection.
///
/// ```
/// use liftwatch::protocol::{decode_line, ConnectionEvent, Event};
/// let event = decode_line(r#"{"v":1,"type":"connection","event":"message","bytes":512}"#);
/// assert_eq!(event, Ok(Event::Connection(ConnectionEvent::Message { bytes: 512 })));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// A connection was accepted (`$connect` succeeded).
    Opened,
    /// A connection ended (`$disconnect`).
    Closed,
    /// A message of `bytes` bytes was handled.
    Message {
        /// The message's size in bytes.
        bytes: u64,
    },
}

impl ConnectionEvent {
    /// The wire name of the `event` field.
    ///
    /// ```
    /// assert_eq!(liftwatch::protocol::ConnectionEvent::Opened.as_str(), "opened");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionEvent::Opened => "opened",
            ConnectionEvent::Closed => "closed",
            ConnectionEvent::Message { .. } => "message",
        }
    }
}

#[derive(Deserialize)]
struct WireConnection<'a> {
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    bytes: Option<u64>,
}

/// Reads a `connection` line (its header already checked).
pub(super) fn connection_from_line(line: &str) -> Result<ConnectionEvent, ProtocolError> {
    let wire: WireConnection<'_> =
        serde_json::from_str(line).map_err(|e| ProtocolError::Json(e.to_string()))?;
    match wire.event.as_deref() {
        None => Err(invalid("event", "is required")),
        Some("opened") => Ok(ConnectionEvent::Opened),
        Some("closed") => Ok(ConnectionEvent::Closed),
        Some("message") => wire
            .bytes
            .map(|bytes| ConnectionEvent::Message { bytes })
            .ok_or_else(|| invalid("bytes", "is required for a message")),
        Some(_) => Err(invalid("event", "not opened|closed|message")),
    }
}

/// Writes a connection event.
pub(crate) fn write_connection(buf: &mut Vec<u8>, event: ConnectionEvent) {
    buf.extend_from_slice(br#"{"v":1,"type":"connection","event":""#);
    buf.extend_from_slice(event.as_str().as_bytes());
    buf.push(b'"');
    if let ConnectionEvent::Message { bytes } = event {
        buf.extend_from_slice(br#","bytes":"#);
        buf.extend_from_slice(bytes.to_string().as_bytes());
    }
    buf.push(b'}');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_event_round_trips_and_bad_ones_say_why() {
        for event in [
            ConnectionEvent::Opened,
            ConnectionEvent::Closed,
            ConnectionEvent::Message { bytes: 0 },
            ConnectionEvent::Message { bytes: u64::MAX },
        ] {
            let mut buf = Vec::new();
            write_connection(&mut buf, event);
            assert_eq!(
                connection_from_line(std::str::from_utf8(&buf).unwrap()),
                Ok(event)
            );
        }
        let cases = [
            (r#"{"v":1,"type":"connection"}"#, "event"),
            (r#"{"v":1,"type":"connection","event":"message"}"#, "bytes"),
            (r#"{"v":1,"type":"connection","event":"reopened"}"#, "event"),
        ];
        for (line, field) in cases {
            assert!(
                matches!(connection_from_line(line), Err(ProtocolError::InvalidField { field: f, .. }) if f == field),
                "{line}"
            );
        }
        assert!(matches!(
            connection_from_line(r#"{"v":1,"type":"connection","event":"message","bytes":-1}"#),
            Err(ProtocolError::Json(_))
        ));
        assert_eq!(
            connection_from_line(r#"{"v":1,"type":"connection","event":"closed","bytes":3}"#),
            Ok(ConnectionEvent::Closed)
        );
    }
}
