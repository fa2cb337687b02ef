//! Tests of the resource readers and the sampler over the fixture trees under
//! `testdata/proc` (copied into a scratch directory when a test changes them between
//! `start` and `finish`), and against this machine's real `/proc`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod live;
mod processes;
mod sampler;

use std::fs;
use std::path::{Path, PathBuf};

/// The fixture proc tree: pids 101 and 102 well formed, 103 with garbage limits, 104
/// without status; `stat`, `net/dev` and their `.after`, `.reset` and malformed variants.
pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/proc");

/// A directory under the system temp dir, removed when dropped.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    /// An empty directory unique to this test process and `name`.
    pub(crate) fn empty(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("liftwatch-resources-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// A copy of the fixture proc tree.
    pub(crate) fn fixture_copy(name: &str) -> Self {
        let scratch = Self::empty(name);
        copy_tree(Path::new(FIXTURES), &scratch.0);
        scratch
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Replaces the file `to` with the file `from`, both relative to the scratch root.
    pub(crate) fn replace(&self, to: &str, from: &str) {
        fs::copy(self.0.join(from), self.0.join(to)).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}
