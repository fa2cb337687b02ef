#!/usr/bin/env bash
# The whole test suite, on a fresh machine: builds every binary the end-to-end tests run
# (the extension and the example function), then runs unit, golden and end-to-end tests.
# Later suites that need AWS emulators start them here.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is required by the sandbox self-tests (apt-get install curl)" >&2; exit 1; }
command -v python3 >/dev/null || echo "note: python3 missing; the protocol doc example test will say it skipped" >&2

echo "==> building the extension, the example function and the sandbox"
cargo build --workspace --bins --locked
echo "==> running the tests"
cargo test --workspace --locked -- --test-threads "${LIFTWATCH_TEST_THREADS:-2}"
