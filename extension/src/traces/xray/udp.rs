//! The wire to the X-Ray daemon: one segment document per UDP datagram behind the daemon's
//! header line, sent from a non-blocking socket bound on the daemon's side of the host
//! (loopback for a loopback daemon, any address otherwise).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use tokio::net::UdpSocket;

/// The line the daemon expects before each document.
pub const HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";

/// The largest datagram sent, header included: under both UDP's 65,507-byte IPv4 payload
/// and the daemon's 64 kB document limit, whichever way "kB" is read.
pub const MAX_DATAGRAM_BYTES: usize = 64_000;

/// Why a datagram was not sent.
#[derive(Debug, thiserror::Error)]
pub enum UdpError {
    #[error("cannot bind a udp socket on {local}")]
    Bind {
        local: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot send to the x-ray daemon at {daemon}")]
    Send {
        daemon: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("sent {sent} of a {len}-byte datagram")]
    Short { sent: usize, len: usize },
    #[error("the deadline passed before the datagram was sent")]
    Deadline,
}

/// `document` behind the header line.
pub fn frame(document: &[u8]) -> Vec<u8> {
    let mut datagram = Vec::with_capacity(HEADER.len() + document.len());
    datagram.extend_from_slice(HEADER);
    datagram.extend_from_slice(document);
    datagram
}

/// The local address to send to `daemon` from: loopback for a loopback daemon (nothing
/// listens outside), the unspecified address of the same family otherwise.
pub fn bind_address(daemon: SocketAddr) -> SocketAddr {
    let ip = match (daemon.ip(), daemon.ip().is_loopback()) {
        (IpAddr::V4(_), true) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (IpAddr::V4(_), false) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (IpAddr::V6(_), true) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        (IpAddr::V6(_), false) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

/// Sends datagrams to the daemon; binds on first use and again after a failure (a socket
/// may not survive the sandbox's freeze).
#[derive(Debug)]
pub struct UdpSender {
    daemon: SocketAddr,
    socket: Option<UdpSocket>,
}

impl UdpSender {
    /// A sender to `daemon`; no socket until the first send.
    pub fn new(daemon: SocketAddr) -> Self {
        UdpSender {
            daemon,
            socket: None,
        }
    }

    /// The daemon's address.
    pub fn daemon(&self) -> SocketAddr {
        self.daemon
    }

    /// Sends `datagram` by `deadline`, once more on a fresh socket if the first try fails.
    pub async fn send(&mut self, datagram: &[u8], deadline: Instant) -> Result<(), UdpError> {
        match self.try_send(datagram, deadline).await {
            Err(UdpError::Send { .. } | UdpError::Bind { .. }) => {
                self.try_send(datagram, deadline).await
            }
            result => result,
        }
    }

    async fn try_send(&mut self, datagram: &[u8], deadline: Instant) -> Result<(), UdpError> {
        let socket = match self.socket.take() {
            Some(socket) => socket,
            None => {
                let local = bind_address(self.daemon);
                UdpSocket::bind(local)
                    .await
                    .map_err(|source| UdpError::Bind { local, source })?
            }
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let sent = tokio::time::timeout_at(deadline, socket.send_to(datagram, self.daemon)).await;
        match sent {
            Err(_elapsed) => {
                self.socket = Some(socket);
                Err(UdpError::Deadline)
            }
            Ok(Err(source)) => Err(UdpError::Send {
                daemon: self.daemon,
                source,
            }),
            Ok(Ok(sent)) => {
                self.socket = Some(socket);
                if sent == datagram.len() {
                    Ok(())
                } else {
                    Err(UdpError::Short {
                        sent,
                        len: datagram.len(),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn datagrams_are_the_header_line_then_the_document() {
        assert_eq!(HEADER, br#"{"format": "json", "version": 1}"#.iter().chain(b"\n").copied().collect::<Vec<u8>>());
        assert_eq!(
            frame(br#"{"id":"1"}"#),
            b"{\"format\": \"json\", \"version\": 1}\n{\"id\":\"1\"}"
        );
        const { assert!(MAX_DATAGRAM_BYTES <= 65_507 && MAX_DATAGRAM_BYTES <= 64 * 1_000) };
    }

    #[test]
    fn the_socket_binds_on_the_daemons_side() {
        let cases = [
            ("169.254.79.129:2000", "0.0.0.0:0"),
            ("127.0.0.1:2000", "127.0.0.1:0"),
            ("[::1]:2000", "[::1]:0"),
            ("[fd00::1]:2000", "[::]:0"),
        ];
        for (daemon, local) in cases {
            let daemon: SocketAddr = daemon.parse().unwrap_or_else(|_| unreachable!());
            assert_eq!(bind_address(daemon).to_string(), local);
        }
    }

    #[tokio::test]
    async fn a_datagram_arrives_whole_and_errors_are_reported() {
        let daemon = UdpSocket::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let address = daemon.local_addr().unwrap_or_else(|e| unreachable!("{e}"));
        let mut sender = UdpSender::new(address);
        let deadline = Instant::now() + Duration::from_secs(5);
        let big = frame(&vec![b'x'; MAX_DATAGRAM_BYTES - HEADER.len()]);
        for datagram in [frame(b"{}"), big] {
            assert!(sender.send(&datagram, deadline).await.is_ok());
            let mut buf = vec![0; 70_000];
            let (n, _) = daemon
                .recv_from(&mut buf)
                .await
                .unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(&buf[..n], &datagram[..]);
        }
        // Sending to the broadcast address without SO_BROADCAST is refused by the kernel.
        let mut refused = UdpSender::new(
            "255.255.255.255:2000"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        let error = refused.send(b"x", deadline).await;
        assert!(matches!(error, Err(UdpError::Send { .. })), "{error:?}");
    }
}
