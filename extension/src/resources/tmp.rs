//! Usage of the `/tmp` file system (Lambda's ephemeral storage, 512 MB to 10 GB) from
//! `statvfs`: the sampler keeps the peak used bytes as `TmpUsed` and the size as `TmpMax`.
//! On a developer machine `/tmp` is the host's, so the local sandbox gives each sandbox a
//! directory of its own and [`read_tmp_files`] counts the files in it instead.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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

/// Lambda's default ephemeral storage (512 MiB): `TmpMax` when the files of a directory are
/// counted.
pub const LAMBDA_DEFAULT_TMP_BYTES: u64 = 512 * 1024 * 1024;

/// At most this many entries are visited by [`read_tmp_files`]; a tree larger than that
/// is reported as far as it was walked.
const MAX_ENTRIES: usize = 100_000;

/// The bytes allocated to the files and directories under `dir` (`st_blocks` × 512, as
/// `du` counts, symbolic links not followed), against a size of `total` bytes. An entry
/// that vanishes during the walk is skipped; `dir` itself not being readable is an error.
pub fn read_tmp_files(dir: &Path, total: u64) -> Result<TmpUsage, ReadError> {
    let mut used = 0u64;
    let mut pending: Vec<PathBuf> = vec![dir.to_path_buf()];
    let mut visited = 0usize;
    while let Some(current) = pending.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(source) if current == dir => return Err(ReadError::io(dir, source)),
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            visited += 1;
            if visited > MAX_ENTRIES {
                return Ok(TmpUsage { used, total });
            }
            let Ok(meta) = entry.metadata() else { continue };
            used = used.saturating_add(meta.blocks().saturating_mul(512));
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok(TmpUsage { used, total })
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
    fn counts_the_files_of_a_directory_tree_not_its_file_system() {
        let dir = std::env::temp_dir().join(format!("liftwatch-tmp-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
        std::fs::write(dir.join("a"), vec![1u8; 100_000]).unwrap();
        std::fs::write(dir.join("sub/deeper/b"), vec![2u8; 300_000]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.join("link")).unwrap();
        let usage = read_tmp_files(&dir, LAMBDA_DEFAULT_TMP_BYTES).unwrap();
        let allocated =
            |path: &str| std::fs::symlink_metadata(dir.join(path)).unwrap().blocks() * 512;
        let expected = ["a", "sub", "sub/deeper", "sub/deeper/b", "link"]
            .iter()
            .map(|p| allocated(p))
            .sum::<u64>();
        assert_eq!(
            usage,
            TmpUsage {
                used: expected,
                total: 536_870_912
            }
        );
        // Both files, whatever the block size, and nothing of what the link points at.
        assert!((400_000..600_000).contains(&usage.used), "{usage:?}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            read_tmp_files(&dir, 1).is_err(),
            "a missing directory is an error"
        );
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
