//! The local intake: the UDP socket on 127.0.0.1 that handlers (through the SDK or the
//! protocol in docs/PROTOCOL.md) send events to. Owned by the pipeline task, which drains
//! it before every flush: loopback datagrams sit in the socket buffer as soon as `send`
//! returns, so a drain that reaches `WouldBlock` has seen every event sent before it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use liftwatch::protocol::{self, Event};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::health::Health;

/// The receive buffer the intake asks for; the kernel may grant less (`rmem_max`).
const RECV_BUFFER_BYTES: usize = 8 * 1024 * 1024;
/// Datagrams read per wake-up, so one busy sender cannot starve the pipeline's other work.
pub const BATCH_DATAGRAMS: usize = 1024;

/// The bound UDP intake.
#[derive(Debug)]
pub struct UdpIntake {
    socket: UdpSocket,
    buf: Vec<u8>,
}

impl UdpIntake {
    /// Binds 127.0.0.1:`port` with a large receive buffer. Must run inside a runtime.
    pub fn bind(port: u16) -> io::Result<Self> {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        // A smaller buffer than asked for still works; only the burst tolerance drops.
        let _ = socket.set_recv_buffer_size(RECV_BUFFER_BYTES);
        socket.set_nonblocking(true)?;
        socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())?;
        let socket = UdpSocket::from_std(socket.into())?;
        Ok(UdpIntake {
            socket,
            // One byte more than the largest valid datagram, so an oversized one shows.
            buf: vec![0; protocol::MAX_DATAGRAM_BYTES + 1],
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The receive buffer the kernel granted.
    pub fn recv_buffer_size(&self) -> usize {
        socket2::SockRef::from(&self.socket)
            .recv_buffer_size()
            .unwrap_or(0)
    }

    /// Waits until a datagram can be read.
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Reads up to `max` waiting datagrams without blocking, decoding each event into
    /// `each`; bad lines are counted as malformed. Returns the datagrams read.
    pub fn drain(&mut self, max: usize, health: &Health, mut each: impl FnMut(Event)) -> usize {
        let mut datagrams = 0;
        while datagrams < max {
            let len = match self.socket.try_recv(&mut self.buf) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // ICMP errors and the like: nothing was read, try the next datagram.
                Err(_) => {
                    datagrams += 1;
                    continue;
                }
            };
            datagrams += 1;
            let bytes = self.buf.get(..len).unwrap_or_default();
            protocol::decode_datagram(bytes, |result| match result {
                Ok(event) => {
                    health.received(1);
                    each(event);
                }
                Err(error) => {
                    health.malformed(1);
                    tracing::debug!(%error, "skipping a malformed event");
                }
            });
        }
        datagrams
    }

    /// Reads until the socket is empty.
    pub fn drain_all(&mut self, health: &Health, each: impl FnMut(Event)) -> usize {
        self.drain(usize::MAX, health, each)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn counts_good_bad_and_oversized_datagrams() {
        let mut intake = UdpIntake::bind(0).unwrap();
        let addr = intake.local_addr().unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let good = br#"{"v":1,"type":"metric","name":"A","value":2,"kind":"count"}"#;
        sender.send_to(good, addr).unwrap();
        sender.send_to(b"\xff\xfe not utf8", addr).unwrap();
        sender
            .send_to(b"{\"v\":1,\"type\":\"metric\",\"name\":\"B\",\"value\":1}\nnot json\n{\"v\":2,\"type\":\"metric\"}", addr)
            .unwrap();
        sender.send_to(&vec![b' '; 65_507], addr).unwrap();
        let health = Health::default();
        let mut names = Vec::new();
        intake.readable().await.unwrap();
        let read = intake.drain_all(&health, |event| {
            let Event::Metric(m) = event else { return };
            names.push(m.name);
        });
        assert_eq!(read, 4);
        assert_eq!(names, ["A", "B"]);
        let counts = health.take();
        assert_eq!((counts.received, counts.malformed), (2, 3));
    }
}
