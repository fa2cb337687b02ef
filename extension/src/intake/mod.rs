//! The local intake: the UDP socket on 127.0.0.1 that handlers (through the SDK or the
//! protocol in docs/PROTOCOL.md) send events to. Owned by the pipeline task, which drains
//! it before every flush: loopback datagrams sit in the socket buffer as soon as `send`
//! returns, so a drain that reaches `WouldBlock` has seen every event sent before it.
//!
//! The drain calls `recv` on the socket itself rather than tokio's `try_recv`: tokio
//! answers `WouldBlock` from its cached readiness until its reactor has polled epoll, which
//! would let a flush miss datagrams already queued. The reactor is only used to sleep
//! until something arrives.

pub mod kernel_drops;
pub mod loss;

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use liftwatch::protocol::{self, Event};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::health::Health;
use loss::{Dropped, Ledger};

/// The receive buffer the intake asks for; the kernel may grant less (`rmem_max`).
const RECV_BUFFER_BYTES: usize = 8 * 1024 * 1024;
/// Datagrams read per wake-up, so one busy sender cannot starve the pipeline's other work.
pub const BATCH_DATAGRAMS: usize = 1024;

/// The bound UDP intake.
#[derive(Debug)]
pub struct UdpIntake {
    socket: UdpSocket,
    /// The last drain stopped at its limit with datagrams still queued.
    more_waiting: bool,
    buf: Vec<u8>,
    /// Where the kernel's per-socket drop counter is read (`/proc/net/udp`).
    proc_net_udp: PathBuf,
    /// The kernel's drop counter when the socket was bound, its count since then at the
    /// last look, and when that was.
    kernel_drops_base: u64,
    kernel_drops_seen: u64,
    kernel_drops_checked: Option<Instant>,
    /// Turns the kernel's dropped datagrams into dropped events.
    ledger: Ledger,
}

/// Reading `/proc/net/udp` costs tens of microseconds (the kernel walks its socket table),
/// so flushes on the invocation's path look at most this often.
const KERNEL_DROPS_EVERY: Duration = Duration::from_secs(1);

impl UdpIntake {
    /// Binds 127.0.0.1:`port` with a large receive buffer. Must run inside a runtime.
    pub fn bind(port: u16) -> io::Result<Self> {
        Self::bind_with_buffer(port, RECV_BUFFER_BYTES)
    }

    /// Binds 127.0.0.1:`port` asking for a receive buffer of `recv_buffer` bytes; the
    /// kernel caps it at `net.core.rmem_max`.
    pub fn bind_with_buffer(port: u16, recv_buffer: usize) -> io::Result<Self> {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        // A smaller buffer than asked for still works; only the burst tolerance drops.
        let _ = socket.set_recv_buffer_size(recv_buffer);
        socket.set_nonblocking(true)?;
        socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())?;
        let socket = UdpSocket::from_std(socket.into())?;
        let mut intake = UdpIntake {
            socket,
            more_waiting: false,
            // One byte more than the largest valid datagram, so an oversized one shows.
            buf: vec![0; protocol::MAX_DATAGRAM_BYTES + 1],
            proc_net_udp: PathBuf::from(kernel_drops::PROC_NET_UDP),
            kernel_drops_base: 0,
            kernel_drops_seen: 0,
            kernel_drops_checked: None,
            ledger: Ledger::default(),
        };
        intake.kernel_drops_base = intake.kernel_drops_total().unwrap_or(0);
        Ok(intake)
    }

    fn kernel_drops_total(&self) -> Option<u64> {
        let SocketAddr::V4(addr) = self.local_addr().ok()? else {
            return None;
        };
        kernel_drops::read_drops(&self.proc_net_udp, addr)
    }

    /// Like [`take_dropped`](Self::take_dropped), but reads the kernel's counter at most
    /// once per [`KERNEL_DROPS_EVERY`] (the drops seen since are counted at a later call).
    pub fn take_dropped_if_due(&mut self) -> Dropped {
        let due = self
            .kernel_drops_checked
            .is_none_or(|at| at.elapsed() >= KERNEL_DROPS_EVERY);
        if due {
            self.look_at_kernel_drops();
        }
        self.ledger.take(self.kernel_drops_seen, false)
    }

    /// Events lost since the last call: exactly for numbered datagrams, estimated for the
    /// others (see [`loss`]). `last` (at SHUTDOWN) counts every drop seen so far.
    pub fn take_dropped(&mut self, last: bool) -> Dropped {
        self.look_at_kernel_drops();
        self.ledger.take(self.kernel_drops_seen, last)
    }

    fn look_at_kernel_drops(&mut self) {
        self.kernel_drops_checked = Some(Instant::now());
        if let Some(total) = self.kernel_drops_total() {
            self.kernel_drops_seen = total.saturating_sub(self.kernel_drops_base);
        }
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

    /// Waits until datagrams may be waiting. Readiness is cleared here, before the
    /// caller drains: a datagram arriving after this point raises a new edge, so none is
    /// left behind without a wake-up.
    pub async fn readable(&self) -> io::Result<()> {
        if self.more_waiting {
            return Ok(());
        }
        self.socket.readable().await?;
        // Clears tokio's cached readiness (an operation reporting WouldBlock does that).
        let _ = self.socket.try_io(Interest::READABLE, || {
            Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
        });
        Ok(())
    }

    /// Reads up to `max` waiting datagrams without blocking, decoding each event into
    /// `each`; bad lines are counted as malformed. Returns the datagrams read.
    pub fn drain(&mut self, max: usize, health: &Health, mut each: impl FnMut(Event)) -> usize {
        let mut datagrams = 0;
        self.more_waiting = false;
        loop {
            if datagrams == max {
                self.more_waiting = true;
                break;
            }
            // `read` on a datagram socket is `recv`: one datagram per call.
            let len = match (&*socket2::SockRef::from(&self.socket)).read(&mut self.buf) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    tracing::debug!(%error, "udp intake receive failed");
                    break;
                }
            };
            datagrams += 1;
            let bytes = self.buf.get(..len).unwrap_or_default();
            let (mut lines, mut sequence) = (0, None);
            protocol::decode_datagram(bytes, |result| match result {
                // One per datagram; a second one is malformed, not an event.
                Ok(Event::Sequence(numbered)) => match sequence {
                    None => sequence = Some(numbered),
                    Some(_) => health.malformed(1),
                },
                Ok(event) => {
                    lines += 1;
                    health.received(1);
                    each(event);
                }
                Err(error) => {
                    lines += 1;
                    health.malformed(1);
                    tracing::debug!(%error, "skipping a malformed event");
                }
            });
            match sequence {
                Some(numbered) => self.ledger.numbered(&numbered, lines),
                None => self.ledger.unnumbered(lines),
            }
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
    use std::path::Path;

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

    #[tokio::test]
    async fn kernel_drops_on_a_full_buffer_are_counted_so_nothing_vanishes() {
        let mut intake = UdpIntake::bind_with_buffer(0, 4096).unwrap();
        let addr = intake.local_addr().unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sent = 2_000;
        let line = br#"{"v":1,"type":"metric","name":"A","value":1,"kind":"count"}"#;
        for _ in 0..sent {
            sender.send_to(line, addr).unwrap();
        }
        let health = Health::default();
        // No await between the sends and the drain: the reactor has not seen the socket.
        intake.drain_all(&health, |_| {});
        let received = health.take().received;
        let dropped = intake.take_dropped(true).estimated;
        assert!(
            received > 0,
            "the drain reads the socket, not tokio's readiness cache"
        );
        assert!(
            received < sent,
            "a 4 KiB buffer cannot hold {sent} datagrams"
        );
        if Path::new(kernel_drops::PROC_NET_UDP).exists() {
            assert_eq!(
                received + dropped,
                sent,
                "every datagram received or counted dropped"
            );
            assert_eq!(intake.take_dropped(true), Dropped::default(), "taken once");
        }
    }
}
