//! Replaying a fuzz target's corpus (`fuzz/corpus/<target>/`, docs/TESTING.md "Fuzzing")
//! through the decoder call of the target, so that a plain `cargo test` checks every seed
//! and every saved crash: the extension's `tests/fuzz_corpus.rs` and the SDK's
//! `tests/fuzz_corpus_jwt.rs` both use it.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// How a corpus fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Files read.
    pub files: usize,
    /// Files the decoder accepted.
    pub accepted: usize,
}

/// Why a corpus does not pass.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("{0} holds no inputs")]
    Empty(PathBuf),
    #[error("{path} panics the {target} decoder")]
    Panicked { path: PathBuf, target: String },
    /// A corpus must hold inputs the decoder accepts and inputs it refuses.
    #[error("{target}: the corpus should hold accepted and refused inputs: {replayed:?}")]
    NotMixed { target: String, replayed: Replayed },
}

/// The corpus directory of `target`.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Feeds every file of `target`'s corpus, in name order, to `decode`, which says whether
/// the decoder accepted it. A panic is an error naming the file; so is a corpus that is
/// empty or whose inputs are all accepted or all refused.
pub fn replay(target: &str, decode: impl Fn(&[u8]) -> bool) -> Result<Replayed, ReplayError> {
    let dir = corpus_dir(target);
    let mut paths = fs::read_dir(&dir)
        .and_then(|entries| {
            entries
                .map(|entry| entry.map(|e| e.path()))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| ReplayError::Read(dir.clone(), e))?;
    paths.sort();
    if paths.is_empty() {
        return Err(ReplayError::Empty(dir));
    }
    let mut accepted = 0;
    for path in &paths {
        let bytes = fs::read(path).map_err(|e| ReplayError::Read(path.clone(), e))?;
        match catch_unwind(AssertUnwindSafe(|| decode(&bytes))) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => {
                return Err(ReplayError::Panicked {
                    path: path.clone(),
                    target: target.to_owned(),
                });
            }
        }
    }
    let replayed = Replayed {
        files: paths.len(),
        accepted,
    };
    if !(1..replayed.files).contains(&replayed.accepted) {
        return Err(ReplayError::NotMixed {
            target: target.to_owned(),
            replayed,
        });
    }
    Ok(replayed)
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_a_one_sided_corpus_and_a_missing_one_are_errors() {
        let first = corpus_dir("xray_header");
        assert!(matches!(
            replay("xray_header", |_| panic!("decoder bug")),
            Err(ReplayError::Panicked { path, .. }) if path.starts_with(&first)
        ));
        assert!(matches!(
            replay("xray_header", |_| true),
            Err(ReplayError::NotMixed { replayed, .. }) if replayed.accepted == replayed.files
        ));
        assert!(matches!(
            replay("no-such-target", |_| true),
            Err(ReplayError::Read(..))
        ));
        let mixed = replay("xray_header", |bytes| bytes.first() == Some(&b'R'))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            mixed.files > mixed.accepted && mixed.accepted > 0,
            "{mixed:?}"
        );
    }
}
