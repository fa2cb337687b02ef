//! Free loopback ports for the sandbox's listeners, found by binding port 0 and releasing it.
//!
//! There is a window between release and reuse in which another process could take the
//! port; on a test machine that is rare, and the child reports a bind error if it happens.
//! Within one process no port is handed out twice, whichever picker asks: a test that picks
//! its own port (an OTLP receiver, say) and the sandbox's picker could otherwise get the
//! same number back from the kernel, and one of the two listeners would not bind.

use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::sync::{Mutex, PoisonError};

/// Every port handed out in this process.
static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Port 9001 is reserved by Lambda (the Runtime API); never hand it out.
const RESERVED: u16 = 9001;
const ATTEMPTS: usize = 32;

/// Hands out free ports on 127.0.0.1, distinct across every picker of the process.
#[derive(Debug, Default)]
pub struct PortPicker {
    _private: (),
}

impl PortPicker {
    /// A picker that has handed out nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A port free for TCP.
    pub fn tcp(&mut self) -> io::Result<u16> {
        self.pick(|| {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            listener.local_addr().map(|a| a.port())
        })
    }

    /// A port free for UDP and, at the moment of the check, for TCP too (so an HTTP
    /// intake on the same number would also fit).
    pub fn udp(&mut self) -> io::Result<u16> {
        self.pick(|| {
            let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
            let port = socket.local_addr()?.port();
            TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
            Ok(port)
        })
    }

    fn pick(&mut self, probe: impl Fn() -> io::Result<u16>) -> io::Result<u16> {
        let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "no free port found");
        for _ in 0..ATTEMPTS {
            match probe() {
                Ok(port) if port != RESERVED && take(port) => return Ok(port),
                Ok(_) => {}
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// Marks `port` as handed out; false if it already was.
fn take(port: u16) -> bool {
    let mut taken = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
    taken.get_or_insert_with(HashSet::new).insert(port)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_not_reserved() {
        let mut picker = PortPicker::new();
        let ports = [
            picker.tcp().unwrap(),
            picker.udp().unwrap(),
            picker.tcp().unwrap(),
        ];
        assert!(ports.iter().all(|&p| p != 0 && p != RESERVED));
        assert_ne!(ports[0], ports[1]);
        assert_ne!(ports[0], ports[2]);
        assert_ne!(ports[1], ports[2]);
        let other: Vec<u16> = (0..50).map(|_| PortPicker::new().tcp().unwrap()).collect();
        assert!(
            other.iter().all(|p| !ports.contains(p)),
            "another picker never gets a port back"
        );
    }
}
