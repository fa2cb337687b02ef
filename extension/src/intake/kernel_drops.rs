//! Datagrams the kernel dropped because the intake's receive buffer was full. They never
//! reach the extension, so they are read from the socket's `drops` column in
//! `/proc/net/udp` and counted as `EventsDropped`, so a lossy burst is visible.

use std::net::SocketAddrV4;
use std::path::Path;

/// The default location of the IPv4 UDP socket table.
pub const PROC_NET_UDP: &str = "/proc/net/udp";

/// The `drops` counter of the socket bound to `addr`, from a `/proc/net/udp` table.
/// `None` when the table has no such socket or a line is malformed.
pub fn drops_in(table: &str, addr: SocketAddrV4) -> Option<u64> {
    // The kernel prints an IPv4 address as the hex of its in-memory (network order)
    // u32 read natively, so on little-endian machines 127.0.0.1 is 0100007F.
    let ip = u32::from_ne_bytes(addr.ip().octets());
    let wanted = format!("{ip:08X}:{:04X}", addr.port());
    table.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1)?;
        if !local.eq_ignore_ascii_case(&wanted) {
            return None;
        }
        line.split_whitespace().last()?.parse().ok()
    })
}

/// Reads the drops counter of `addr` from the table at `path`.
pub fn read_drops(path: &Path, addr: SocketAddrV4) -> Option<u64> {
    drops_in(&std::fs::read_to_string(path).ok()?, addr)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::Ipv4Addr;

    const TABLE: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  282: 0100007F:2455 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 123456 2 0000000000000000 17
  300: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 123457 2 0000000000000000 0
  301: 0100007F:2456 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 123458 2 0000000000000000 notanumber
";

    fn localhost(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    #[test]
    fn finds_the_socket_by_address_and_port() {
        if cfg!(target_endian = "little") {
            assert_eq!(drops_in(TABLE, localhost(0x2455)), Some(17));
            assert_eq!(
                drops_in(TABLE, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0x44)),
                Some(0)
            );
        }
    }

    #[test]
    fn missing_sockets_and_bad_lines_are_none() {
        assert_eq!(drops_in(TABLE, localhost(9)), None);
        assert_eq!(drops_in(TABLE, localhost(0x2456)), None);
        assert_eq!(drops_in("", localhost(1)), None);
        assert_eq!(drops_in("header only\n  1:\n", localhost(1)), None);
    }

    #[test]
    fn reads_a_real_socket_from_proc() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let std::net::SocketAddr::V4(addr) = socket.local_addr().unwrap() else {
            unreachable!("bound an ipv4 address")
        };
        if Path::new(PROC_NET_UDP).exists() {
            assert_eq!(read_drops(Path::new(PROC_NET_UDP), addr), Some(0));
        }
    }
}
