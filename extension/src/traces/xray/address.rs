//! Where the X-Ray daemon listens: `AWS_XRAY_DAEMON_ADDRESS`, read by a pure function (the
//! config module does the environment lookup and passes the result to `XrayExporter::new`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The variable Lambda sets (`169.254.79.129:2000`) when active tracing is on.
pub const DAEMON_ADDRESS_ENV: &str = "AWS_XRAY_DAEMON_ADDRESS";

/// The X-Ray SDKs' default when the variable is unset.
pub const DEFAULT_DAEMON_ADDRESS: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2000);

/// Reads the daemon's UDP address from either form the X-Ray SDKs accept:
/// `host:port` (the same address for UDP and TCP), or `tcp:host:port udp:host:port` in
/// any order (the UDP one is used). The host is an IP address (`[...]` for IPv6) or
/// `localhost`; names are not resolved. Anything else, and port 0, is `None`.
pub fn parse_daemon_address(value: &str) -> Option<SocketAddr> {
    let value = value.trim();
    let mut parts = value.split_whitespace();
    let first = parts.next()?;
    let Some(second) = parts.next() else {
        return match first.split_once(':') {
            Some(("udp", address)) => parse_socket(address),
            Some(("tcp", _)) => None,
            _ => parse_socket(first),
        };
    };
    if parts.next().is_some() {
        return None;
    }
    let mut udp = None;
    let mut tcp = false;
    for part in [first, second] {
        match part.split_once(':') {
            Some(("udp", address)) if udp.is_none() => udp = Some(parse_socket(address)?),
            Some(("tcp", address)) if !tcp => {
                // Validated so a typo is not silently accepted; the exporter never uses it.
                parse_socket(address)?;
                tcp = true;
            }
            _ => return None,
        }
    }
    udp
}

fn parse_socket(text: &str) -> Option<SocketAddr> {
    let address = match text.strip_prefix("localhost:") {
        Some(port) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port.parse().ok()?),
        None => text.parse().ok()?,
    };
    (address.port() != 0).then_some(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Option<SocketAddr> {
        s.parse().ok()
    }

    #[test]
    fn both_forms_parse_and_the_udp_address_wins() {
        let cases = [
            ("169.254.79.129:2000", addr("169.254.79.129:2000")),
            ("  127.0.0.1:2000\n", addr("127.0.0.1:2000")),
            ("localhost:3000", addr("127.0.0.1:3000")),
            ("[::1]:2000", addr("[::1]:2000")),
            ("tcp:1.2.3.4:2000 udp:1.2.3.5:2001", addr("1.2.3.5:2001")),
            ("udp:1.2.3.5:2001 tcp:1.2.3.4:2000", addr("1.2.3.5:2001")),
            ("udp:[::1]:2001  tcp:[::1]:2000", addr("[::1]:2001")),
            ("udp:10.0.0.1:2000", addr("10.0.0.1:2000")),
        ];
        for (input, expected) in cases {
            assert!(expected.is_some(), "{input}");
            assert_eq!(parse_daemon_address(input), expected, "{input}");
        }
    }

    #[test]
    fn malformed_addresses_are_none() {
        for bad in [
            "",
            "   ",
            "2000",
            "127.0.0.1",
            "127.0.0.1:0",
            "127.0.0.1:70000",
            "xray.local:2000",
            "tcp:1.2.3.4:2000",
            "tcp:1.2.3.4:2000 tcp:1.2.3.5:2000",
            "udp:1.2.3.4:2000 udp:1.2.3.5:2000",
            "tcp:1.2.3.4:2000 udp:nope",
            "tcp:nope udp:1.2.3.4:2000",
            "tcp:1.2.3.4:2000 udp:1.2.3.5:2000 udp:1.2.3.6:2000",
            "1.2.3.4:2000 udp:1.2.3.5:2000",
            "http:1.2.3.4:2000",
        ] {
            assert_eq!(parse_daemon_address(bad), None, "{bad:?}");
        }
    }
}
