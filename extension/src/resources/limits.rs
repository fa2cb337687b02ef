//! Soft resource limits of one process from `/proc/<pid>/limits`: `Max open files` bounds
//! its file descriptors (`FdMax`) and `Max processes` its threads (`ThreadsMax`; Linux
//! counts every thread against `RLIMIT_NPROC`). Lambda sets both to 1,024.

use super::error::Malformed;

/// The two soft limits the sampler reports. `None` means `unlimited`: an unlimited soft
/// limit bounds nothing, so it is kept apart rather than turned into `u64::MAX`, which would
/// read as a real (absurd) number on a dashboard. The sampler reports the highest finite
/// limit among the processes, or its fallback when none is finite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Soft `Max open files` (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
    /// Soft `Max processes` (`RLIMIT_NPROC`).
    pub processes: Option<u64>,
}

/// Parses a `/proc/<pid>/limits` table. Its rows are `name soft hard [units]` with a
/// name of several words, so a row is found by its name and the soft limit is the first
/// word after it. Both rows are required.
pub fn parse_limits(text: &str) -> Result<Limits, Malformed> {
    if !text.starts_with("Limit ") {
        return Err(Malformed("missing the limits header"));
    }
    let mut open_files = None;
    let mut processes = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Max open files ") {
            open_files = Some(soft_limit(rest)?);
        } else if let Some(rest) = line.strip_prefix("Max processes ") {
            processes = Some(soft_limit(rest)?);
        }
    }
    Ok(Limits {
        open_files: open_files.ok_or(Malformed("no Max open files row"))?,
        processes: processes.ok_or(Malformed("no Max processes row"))?,
    })
}

/// The soft limit, the first word after a row's name: a number or `unlimited` (`None`).
fn soft_limit(rest: &str) -> Result<Option<u64>, Malformed> {
    match rest.split_ascii_whitespace().next() {
        Some("unlimited") => Ok(None),
        Some(value) => value
            .parse()
            .map(Some)
            .map_err(|_| Malformed("soft limit is neither a number nor unlimited")),
        None => Err(Malformed("limit row without a soft limit")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "Limit                     Soft Limit           Hard Limit           Units     \n";
    const REAL: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/proc/101/limits"
    ));

    fn table(rows: &str) -> String {
        format!("{HEADER}{rows}")
    }

    #[test]
    fn parses_the_soft_limits() {
        let cases: [(String, Result<Limits, Malformed>); 8] = [
            (
                REAL.to_owned(),
                Ok(Limits {
                    open_files: Some(1024),
                    processes: Some(1024),
                }),
            ),
            (
                table(concat!(
                    "Max processes             unlimited            unlimited            processes \n",
                    "Max open files            20000                1048576              files     \n",
                )),
                Ok(Limits {
                    open_files: Some(20_000),
                    processes: None,
                }),
            ),
            (String::new(), Err(Malformed("missing the limits header"))),
            (
                "Max open files 1024 1024 files\nMax processes 5 5 processes\n".to_owned(),
                Err(Malformed("missing the limits header")),
            ),
            (
                table(
                    "Max processes             96365                96365                processes \n",
                ),
                Err(Malformed("no Max open files row")),
            ),
            (
                table(
                    "Max open files            1024                 4096                 files     \n",
                ),
                Err(Malformed("no Max processes row")),
            ),
            (
                table(
                    "Max open files            lots                 4096                 files     \nMax processes 1 1\n",
                ),
                Err(Malformed("soft limit is neither a number nor unlimited")),
            ),
            (
                table("Max open files \nMax processes 1 1\n"),
                Err(Malformed("limit row without a soft limit")),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_limits(&text), expected, "{text:?}");
        }
    }
}
