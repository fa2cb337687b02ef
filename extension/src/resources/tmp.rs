//! Usage of the `/tmp` file system (Lambda's ephemeral storage, 512 MB to 10 GB) from
//! `statvfs`: the sampler keeps the peak used bytes as `TmpUsed` and the size as `TmpMax`.

use std::path::Path;

use nix::sys::statvfs::statvfs;

use super::error::ReadError;

/// The file system's used and total bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TmpUsage {
    /// `(blocks − bfree) × fragment size`: every block not free, including those reserved
    /// for root, which is what `df` reports as used.
    pub used: u64,
    /// `blocks × fragment size`: the file system's size.
    pub total: u64,
}

impl TmpUsage {
    /// Usage from `statvfs` fields, in blocks of `fragment_size` bytes. A free count above
    /// the block count (never written by a sane kernel) gives 0 used, and products that
    /// would overflow saturate.
    #[must_use]
    pub fn from_blocks(blocks: u64, blocks_free: u64, fragment_size: u64) -> Self {
        Self {
            used: blocks
                .saturating_sub(blocks_free)
                .saturating_mul(fragment_size),
            total: blocks.saturating_mul(fragment_size),
        }
    }
}

/// `statvfs` on `path` (a directory on the file system to measure, normally `/tmp`).
pub fn read_tmp(path: &Path) -> Result<TmpUsage, ReadError> {
    let stat = statvfs(path).map_err(|source| ReadError::Statvfs {
        path: path.to_path_buf(),
        source,
    })?;
    // The field types are u64 on 64-bit Linux but vary between platforms.
    #[allow(clippy::useless_conversion)]
    let (blocks, free, fragment) = (
        u64::from(stat.blocks()),
        u64::from(stat.blocks_free()),
        u64::from(stat.fragment_size()),
    );
    Ok(TmpUsage::from_blocks(blocks, free, fragment))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn usage_from_blocks() {
        // (blocks, free, fragment size) → (used, total) bytes.
        let cases = [
            // 512 MB of 4 KiB blocks, 10 MiB used.
            ((131_072, 128_512, 4096), (10_485_760, 536_870_912)),
            ((100, 100, 1024), (0, 102_400)),
            ((100, 0, 512), (51_200, 51_200)),
            ((10, 20, 4096), (0, 40_960)),
            ((u64::MAX, 0, 4096), (u64::MAX, u64::MAX)),
            ((0, 0, 0), (0, 0)),
        ];
        for ((blocks, free, fragment), (used, total)) in cases {
            let expected = TmpUsage { used, total };
            assert_eq!(TmpUsage::from_blocks(blocks, free, fragment), expected);
        }
    }

    #[test]
    fn reads_a_real_file_system() {
        let usage = read_tmp(&std::env::temp_dir()).unwrap();
        assert!(usage.total > 0);
        assert!(usage.used <= usage.total);
    }

    #[test]
    fn a_missing_path_is_an_error() {
        let err = read_tmp(Path::new("/nonexistent/liftwatch/tmp")).unwrap_err();
        assert_eq!(err.to_string(), "cannot statvfs /nonexistent/liftwatch/tmp");
        assert!(matches!(
            err,
            ReadError::Statvfs {
                source: nix::errno::Errno::ENOENT,
                ..
            }
        ));
    }
}
