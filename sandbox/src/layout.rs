//! The sandbox's directory tree, laid out as in Lambda: the extension at
//! `opt/extensions/<name>` and the function at `var/task/bootstrap`, under a fresh
//! temporary directory that is removed when the layout is dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::SandboxError;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary directory holding `opt/extensions/` and `var/task/`.
#[derive(Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Creates a fresh, uniquely named directory under the system temporary directory.
    pub fn create() -> Result<Self, SandboxError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "liftwatch-sandbox-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let root = std::env::temp_dir().join(name);
        for dir in ["opt/extensions", "var/task", "tmp"] {
            let path = root.join(dir);
            fs::create_dir_all(&path)
                .map_err(|e| SandboxError::io(format!("creating {}", path.display()), e))?;
        }
        Ok(Layout { root })
    }

    /// The directory's root (Lambda's `/`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The function's working directory (`var/task`).
    pub fn task_dir(&self) -> PathBuf {
        self.root.join("var/task")
    }

    /// The sandbox's own `/tmp` (both children's `TMPDIR`).
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Places `source` at `opt/extensions/<its file name>` and returns that path.
    /// Lambda starts every file in `/opt/extensions`, and extensions register under their
    /// file name, so the name is kept.
    pub fn install_extension(&self, source: &Path) -> Result<PathBuf, SandboxError> {
        let name = source.file_name().unwrap_or_else(|| "extension".as_ref());
        let target = self.root.join("opt/extensions").join(name);
        place(source, &target)?;
        Ok(target)
    }

    /// Places `source` at `var/task/bootstrap` (how `provided.al2*` runtimes start) and
    /// returns that path.
    pub fn install_function(&self, source: &Path) -> Result<PathBuf, SandboxError> {
        let target = self.task_dir().join("bootstrap");
        place(source, &target)?;
        Ok(target)
    }
}

/// Hard-links `source` to `target`, copying when the link is impossible (another file
/// system); both keep the executable bits.
fn place(source: &Path, target: &Path) -> Result<(), SandboxError> {
    if fs::hard_link(source, target).is_ok() {
        return Ok(());
    }
    fs::copy(source, target).map(|_| ()).map_err(|e| {
        SandboxError::io(
            format!("copying {} to {}", source.display(), target.display()),
            e,
        )
    })
}

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// A binary this workspace built in its debug profile (`CARGO_TARGET_DIR`, else the
/// workspace's `target/`), for the end-to-end tests. Panics with the command to run when it
/// is missing: a test without its binary cannot say anything.
#[must_use]
#[allow(
    clippy::panic,
    reason = "a test helper: a missing binary is a setup error"
)]
pub fn built_binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join(name);
    if !path.exists() {
        panic!(
            "{} is missing: run `cargo build --workspace --bins` first (scripts/test.sh does)",
            path.display()
        );
    }
    path
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn installs_under_lambda_paths_and_cleans_up() {
        let src_dir = Layout::create().unwrap();
        let src = src_dir.root().join("my-ext");
        fs::write(&src, "#!/bin/sh\n").unwrap();
        let layout = Layout::create().unwrap();
        let ext = layout.install_extension(&src).unwrap();
        let func = layout.install_function(&src).unwrap();
        assert!(ext.ends_with("opt/extensions/my-ext") && ext.exists());
        assert!(func.ends_with("var/task/bootstrap") && func.exists());
        let root = layout.root().to_path_buf();
        drop(layout);
        assert!(!root.exists());
    }
}
