//! Network bytes from `/proc/net/dev`: received and transmitted bytes summed over every
//! interface except loopback, so traffic between the function and liftwatch's own local
//! intake is not counted. The sampler turns two readings into `RxBytes` and `TxBytes`.

use std::path::Path;

use super::error::{Malformed, ReadError, read_parsed};

/// The loopback interface, left out of the sums.
pub const LOOPBACK: &str = "lo";

/// Bytes received and transmitted since boot over the non-loopback interfaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetBytes {
    /// Received bytes.
    pub rx: u64,
    /// Transmitted bytes.
    pub tx: u64,
}

impl NetBytes {
    /// The bytes moved since `earlier`; a smaller counter than the baseline (an interface
    /// that went away or was reset) gives 0.
    #[must_use]
    pub fn since(self, earlier: Self) -> Self {
        Self {
            rx: self.rx.saturating_sub(earlier.rx),
            tx: self.tx.saturating_sub(earlier.tx),
        }
    }
}

/// Parses a `/proc/net/dev` table: two header lines, then one line per interface,
/// `name: rx_bytes rx_packets ... (8 receive columns) tx_bytes ... (8 transmit columns)`.
/// The name and the first number may touch (`eth0:123`), so the line is split at the colon.
pub fn parse_net_dev(text: &str) -> Result<NetBytes, Malformed> {
    let mut lines = text.lines();
    let headers = lines.next().zip(lines.next());
    if !headers.is_some_and(|(first, second)| first.contains('|') && second.contains('|')) {
        return Err(Malformed("missing the two header lines"));
    }
    let mut total = NetBytes::default();
    for line in lines.filter(|line| !line.trim().is_empty()) {
        let (name, counters) = line
            .split_once(':')
            .ok_or(Malformed("interface line without a colon"))?;
        let mut columns = counters.split_ascii_whitespace();
        let rx = column(columns.next())?;
        let tx = column(columns.nth(7))?;
        if columns.nth(6).is_none() {
            return Err(Malformed("interface line has fewer than 16 columns"));
        }
        if name.trim() != LOOPBACK {
            total.rx = total.rx.saturating_add(rx);
            total.tx = total.tx.saturating_add(tx);
        }
    }
    Ok(total)
}

/// Parses one byte counter column.
fn column(value: Option<&str>) -> Result<u64, Malformed> {
    value
        .ok_or(Malformed("interface line has fewer than 16 columns"))?
        .parse()
        .map_err(|_| Malformed("interface line has a non-numeric column"))
}

/// Reads and parses the `/proc/net/dev` file at `path`, using `buf` as the read buffer.
pub fn read_net_dev(path: &Path, buf: &mut String) -> Result<NetBytes, ReadError> {
    read_parsed(path, buf, parse_net_dev)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/proc");
    const HEADER: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
";

    fn table(rows: &str) -> String {
        format!("{HEADER}{rows}")
    }

    #[test]
    fn sums_every_interface_but_loopback() {
        let too_short = Malformed("interface line has fewer than 16 columns");
        let no_headers = Malformed("missing the two header lines");
        let cases: [(String, Result<NetBytes, Malformed>); 9] = [
            (
                table(concat!(
                    "    lo: 44421583489 104868166 0 0 0 0 0 0 44421583489 104868166 0 0 0 0 0 0\n",
                    "  eth0: 96355253    6497    0    0    0     0          0         0   482542    5403    0    0    0     0       0          0\n",
                    "  eth1:     2048      16    0    0    0     0          0         0     1024       8    0    0    0     0       0          0\n",
                )),
                Ok(NetBytes {
                    rx: 96_357_301,
                    tx: 483_566,
                }),
            ),
            // Only loopback: nothing counted.
            (
                table("    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n"),
                Ok(NetBytes::default()),
            ),
            // Old kernels glue the name to a wide first column.
            (
                table("eth0:4294967296 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n"),
                Ok(NetBytes {
                    rx: 4_294_967_296,
                    tx: 7,
                }),
            ),
            (HEADER.to_owned(), Ok(NetBytes::default())),
            (String::new(), Err(no_headers)),
            (
                "eth0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n".to_owned(),
                Err(no_headers),
            ),
            (
                table("  eth0 1 2 3\n"),
                Err(Malformed("interface line without a colon")),
            ),
            (table("  eth0: 96355253 6497 0 0 0"), Err(too_short)),
            (
                table("  eth0: 1 1 0 0 0 0 0 0 n/a 1 0 0 0 0 0 0\n"),
                Err(Malformed("interface line has a non-numeric column")),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_net_dev(&text), expected, "{text:?}");
        }
    }

    #[test]
    fn reads_the_fixture_files() {
        let mut buf = String::new();
        let dev = read_net_dev(Path::new(&format!("{FIXTURES}/net/dev")), &mut buf).unwrap();
        assert_eq!(
            dev,
            NetBytes {
                rx: 96_357_301,
                tx: 483_566
            }
        );
        let after =
            read_net_dev(Path::new(&format!("{FIXTURES}/net/dev.after")), &mut buf).unwrap();
        assert_eq!(
            after,
            NetBytes {
                rx: 96_362_301,
                tx: 485_566
            }
        );
        let err = read_net_dev(Path::new(&format!("{FIXTURES}/bad-net-dev")), &mut buf);
        assert!(matches!(err, Err(ReadError::Malformed { .. })));
    }

    #[test]
    fn deltas_never_go_negative() {
        let before = NetBytes { rx: 1_000, tx: 500 };
        let after = NetBytes { rx: 1_600, tx: 400 };
        assert_eq!(after.since(before), NetBytes { rx: 600, tx: 0 });
    }

    #[test]
    fn reads_the_real_proc_net_dev() {
        let path = Path::new("/proc/net/dev");
        if path.exists() {
            let mut buf = String::new();
            assert!(read_net_dev(path, &mut buf).is_ok());
        }
    }
}
