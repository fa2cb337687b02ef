//! The shipped layer, run as Lambda runs it: `dist/liftwatch-layer-<host arch>.zip` (built
//! by `./layer-build.sh`) is unpacked into a temporary `opt/` as Lambda unpacks layers into
//! `/opt`, and the `opt/extensions/liftwatch` it holds runs in the local sandbox beside the
//! built `hello-function`: three invocations, SHUTDOWN, and the EMF it printed counts
//! exactly three invocations. Without the zip the test says how to build it and passes:
//! the cross build takes minutes, too long for every test run.
//!
//! `./layer-build.sh --arch x86_64 && cargo build --workspace --bins && cargo test -p liftwatch-sandbox --test layer`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use liftwatch_sandbox::emf::total;
use liftwatch_sandbox::{InvokeStatus, SandboxConfig, built_binary};
use serde_json::json;

const FUNCTION: &str = "layer-fn";

/// The zip for this machine's architecture, named as layer-build.sh names it.
fn layer_zip() -> PathBuf {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("dist")
        .join(format!("liftwatch-layer-{arch}.zip"))
}

/// A fresh directory standing for the layer's `/opt`, removed when dropped.
struct Opt(PathBuf);

impl Opt {
    fn create() -> Self {
        let dir = std::env::temp_dir().join(format!("liftwatch-layer-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("opt")).unwrap();
        Opt(dir.join("opt"))
    }
}

impl Drop for Opt {
    fn drop(&mut self) {
        if let Some(root) = self.0.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// Python's `zipfile` drops the entries' Unix modes when it extracts; this applies them.
const PYTHON_UNZIP: &str = "
import os, sys, zipfile
archive = zipfile.ZipFile(sys.argv[1])
for info in archive.infolist():
    path = archive.extract(info, sys.argv[2])
    mode = (info.external_attr >> 16) & 0o7777
    if mode:
        os.chmod(path, mode)
";

/// Unpacks `zip` into `dest` keeping the entries' Unix modes, as Lambda does: with `unzip`
/// when it is installed, else with Python.
fn unpack(zip: &Path, dest: &Path) {
    let unzip = Command::new("unzip")
        .arg("-q")
        .arg(zip)
        .arg("-d")
        .arg(dest)
        .status();
    if unzip.is_ok_and(|status| status.success()) {
        return;
    }
    let status = Command::new("python3")
        .args(["-c", PYTHON_UNZIP])
        .arg(zip)
        .arg(dest)
        .status()
        .expect("neither unzip nor python3 can unpack the layer");
    assert!(status.success(), "unpacking {} failed", zip.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_zip_runs_from_opt_extensions_and_counts_invocations() {
    let zip = layer_zip();
    if !zip.exists() {
        eprintln!(
            "skipping: {} does not exist; build it with ./layer-build.sh --arch {} (a release cross build, minutes)",
            zip.display(),
            std::env::consts::ARCH.replace("aarch64", "arm64")
        );
        return;
    }
    let opt = Opt::create();
    unpack(&zip, &opt.0);
    let extension = opt.0.join("extensions").join("liftwatch");
    let mode = std::fs::metadata(&extension)
        .unwrap_or_else(|e| panic!("the layer has no extensions/liftwatch: {e}"))
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o111,
        0o111,
        "extensions/liftwatch lost its executable bits: {mode:o}"
    );

    let mut sandbox = SandboxConfig::new(&extension, built_binary("hello-function"))
        .function_name(FUNCTION)
        .memory_mb(256)
        .env("LIFTWATCH_FLUSH", "end")
        .start()
        .await
        .unwrap();
    for _ in 0..3 {
        let outcome = sandbox.invoke(json!({ "items": 2 })).await.unwrap();
        assert_eq!(outcome.status, InvokeStatus::Success);
    }
    let shutdown = sandbox.shutdown().await.unwrap();
    assert!(shutdown.delivered, "SHUTDOWN was not delivered: {shutdown}");
    assert!(
        !shutdown.extension.killed,
        "the extension had to be killed: {shutdown}"
    );
    assert_eq!(shutdown.extension.exit_code(), Some(0), "{shutdown}");

    let scan = sandbox.emf();
    assert!(scan.rejected.is_empty(), "invalid EMF: {:?}", scan.rejected);
    assert_eq!(
        total(&scan.metrics, "Invocations", &[("FunctionName", FUNCTION)]),
        3.0,
        "stderr: {:?}",
        sandbox.extension_stderr()
    );
    assert_eq!(
        total(
            &scan.metrics,
            "ItemsProcessed",
            &[("FunctionName", FUNCTION)]
        ),
        6.0
    );
}
