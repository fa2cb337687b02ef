//! CPU time from the aggregate `cpu` line of `/proc/stat`. In Lambda the microVM holds only
//! the sandbox, so this line is the CPU time of the function, its runtime and extensions
//! (liftwatch included); the sampler turns two readings into `CpuUserTime`,
//! `CpuSystemTime` and `CpuTotalTime`.

use std::path::Path;

use super::error::{Malformed, ReadError, read_parsed};

/// The kernel's `USER_HZ`: `/proc/stat` counts time in ticks of 1/100 s. The value is fixed
/// by the kernel ABI on x86_64 and arm64 (the two Lambda architectures), whatever the
/// kernel's internal `HZ`, so it is a constant rather than a `sysconf(_SC_CLK_TCK)` call.
pub const USER_HZ: u64 = 100;

/// Milliseconds in one clock tick (10 ms with `USER_HZ` = 100). This is also the
/// resolution of the CPU metrics: an invocation's CPU time is a multiple of 10 ms.
pub const MS_PER_TICK: f64 = 1000.0 / USER_HZ as f64;

/// CPU time of all CPUs together, in clock ticks, as `/proc/stat` counts it since boot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// `user + nice`: time running user code, at any priority. `guest` and `guest_nice`
    /// are already included in these by the kernel, so they are not added again.
    pub user: u64,
    /// `system + irq + softirq`: time in the kernel, on the process's behalf or serving
    /// interrupts (packet processing lands in softirq, and belongs to the invocation's
    /// network I/O). `idle`, `iowait` and `steal` are not CPU the sandbox used.
    pub system: u64,
}

impl CpuTicks {
    /// The ticks spent since `earlier`, field by field; a counter smaller than its
    /// baseline (a reset) gives 0.
    #[must_use]
    pub fn since(self, earlier: Self) -> Self {
        Self {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// Converts clock ticks to milliseconds.
#[must_use]
#[allow(clippy::cast_precision_loss)] // exact below 2^53 ticks (28 million years)
pub fn ticks_to_ms(ticks: u64) -> f64 {
    ticks as f64 * MS_PER_TICK
}

/// Parses the aggregate `cpu` line (the first line, `cpu` followed by spaces) of a
/// `/proc/stat` text. The line needs at least the seven fields up to `softirq`, which every
/// kernel since 2.6 writes.
pub fn parse_cpu(text: &str) -> Result<CpuTicks, Malformed> {
    let line = text
        .lines()
        .find(|line| line.starts_with("cpu "))
        .ok_or(Malformed("no aggregate cpu line"))?;
    // user nice system idle iowait irq softirq [steal guest guest_nice]
    let mut fields = [0_u64; 7];
    let mut values = line.split_ascii_whitespace().skip(1);
    for field in &mut fields {
        let value = values
            .next()
            .ok_or(Malformed("cpu line has fewer than 7 fields"))?;
        *field = value
            .parse()
            .map_err(|_| Malformed("cpu line has a non-numeric field"))?;
    }
    let [user, nice, system, _idle, _iowait, irq, softirq] = fields;
    Ok(CpuTicks {
        user: user.saturating_add(nice),
        system: system.saturating_add(irq).saturating_add(softirq),
    })
}

/// Reads and parses the `/proc/stat` file at `path`, using `buf` as the read buffer.
pub fn read_cpu(path: &Path, buf: &mut String) -> Result<CpuTicks, ReadError> {
    read_parsed(path, buf, parse_cpu)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/proc");

    #[test]
    fn parses_the_aggregate_line() {
        let cases: [(&str, Result<CpuTicks, Malformed>); 8] = [
            (
                "cpu  323714 9441 47519 215292 756 0 9464 295 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n",
                Ok(CpuTicks {
                    user: 333_155,
                    system: 56_983,
                }),
            ),
            // Old kernels without steal/guest columns.
            (
                "cpu  10 1 20 300 4 2 3\n",
                Ok(CpuTicks {
                    user: 11,
                    system: 25,
                }),
            ),
            // The aggregate line is found even when it is not first.
            (
                "intr 5\ncpu  1 0 1 0 0 0 0 0 0 0\n",
                Ok(CpuTicks { user: 1, system: 1 }),
            ),
            ("", Err(Malformed("no aggregate cpu line"))),
            (
                "cpu0 1 2 3 4 5 6 7\n",
                Err(Malformed("no aggregate cpu line")),
            ),
            (
                "cpu  323714 9441 47",
                Err(Malformed("cpu line has fewer than 7 fields")),
            ),
            (
                "cpu  1 2 x 4 5 6 7\n",
                Err(Malformed("cpu line has a non-numeric field")),
            ),
            (
                "cpu  1 2 -3 4 5 6 7\n",
                Err(Malformed("cpu line has a non-numeric field")),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_cpu(text), expected, "{text:?}");
        }
    }

    #[test]
    fn reads_the_fixture_files() {
        let mut buf = String::new();
        let stat = read_cpu(Path::new(&format!("{FIXTURES}/stat")), &mut buf).unwrap();
        assert_eq!(
            stat,
            CpuTicks {
                user: 333_155,
                system: 56_983
            }
        );
        let after = read_cpu(Path::new(&format!("{FIXTURES}/stat.after")), &mut buf).unwrap();
        assert_eq!(
            after,
            CpuTicks {
                user: 333_170,
                system: 56_991
            }
        );

        let err = read_cpu(Path::new(&format!("{FIXTURES}/truncated-stat")), &mut buf);
        assert!(
            matches!(err, Err(ReadError::Malformed { source: Malformed(m), .. })
            if m == "cpu line has fewer than 7 fields")
        );
    }

    #[test]
    fn deltas_convert_to_milliseconds_and_never_go_negative() {
        let before = CpuTicks {
            user: 100,
            system: 50,
        };
        let after = CpuTicks {
            user: 115,
            system: 58,
        };
        let delta = after.since(before);
        assert_eq!(
            delta,
            CpuTicks {
                user: 15,
                system: 8
            }
        );
        assert_eq!(ticks_to_ms(delta.user), 150.0);
        assert_eq!(ticks_to_ms(delta.system), 80.0);
        assert_eq!(before.since(after), CpuTicks { user: 0, system: 0 });
        assert_eq!(MS_PER_TICK, 10.0);
    }

    #[test]
    fn reads_the_real_proc_stat() {
        let path = Path::new("/proc/stat");
        if path.exists() {
            let mut buf = String::new();
            let first = read_cpu(path, &mut buf).unwrap();
            let second = read_cpu(path, &mut buf).unwrap();
            assert!(first.user + first.system > 0);
            assert!(second.user >= first.user && second.system >= first.system);
        }
    }
}
