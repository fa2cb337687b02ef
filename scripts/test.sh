#!/usr/bin/env bash
# The whole test suite, on a fresh machine: builds every binary the end-to-end tests run
# (the extension and the example function), then runs unit, golden and end-to-end tests.
# The AWS API tests run against moto's server (installed into .venv-moto/ on first use),
# started here on a free loopback port and stopped at exit; the Python runtime test runs a
# handler on awslambdaric from .venv-runtime/ (scripts/python-runtime.sh), the Node one on
# aws-lambda-ric from .node-runtime/ (scripts/node-runtime.sh), both installed here.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is required by the sandbox self-tests (apt-get install curl)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required (moto, the AWS emulator, is a Python package)" >&2; exit 1; }
command -v node >/dev/null || { echo "node is required by the Node client's tests (apt-get install nodejs)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is required by the Node runtime test (apt-get install npm)" >&2; exit 1; }

echo "==> starting moto (AWS emulator) on 127.0.0.1"
LIFTWATCH_TEST_MOTO_URL=$(bash scripts/moto.sh start)
export LIFTWATCH_TEST_MOTO_URL
trap 'bash scripts/moto.sh stop >/dev/null 2>&1 || true' EXIT
echo "    moto at $LIFTWATCH_TEST_MOTO_URL"

echo "==> a real Python runtime (awslambdaric, the OpenTelemetry SDK, the liftwatch client)"
LIFTWATCH_TEST_PYTHON=$(bash scripts/python-runtime.sh)
export LIFTWATCH_TEST_PYTHON
echo "==> a real Node.js runtime (aws-lambda-ric, the OpenTelemetry JS SDK, the liftwatch client)"
LIFTWATCH_TEST_NODE_RUNTIME=$(bash scripts/node-runtime.sh)
export LIFTWATCH_TEST_NODE_RUNTIME

echo "==> building the extension, the example function and the sandbox"
# --all-features on both: the SDK's feature-gated tests (limiter, connection store, JWT) run
# whatever the members enable, and the build and the tests resolve the same features, so no
# dependency is compiled twice (a separate `-p liftwatch --all-features` run resolved tokio and
# the AWS SDK differently and built them all again: twice the disk, which a CI runner ran out of).
cargo build --workspace --all-features --bins --locked
echo "==> running the tests"
cargo test --workspace --all-features --locked -- --test-threads "${LIFTWATCH_TEST_THREADS:-2}"
echo "==> the Python and Node clients' unit tests (standard libraries only)"
python3 -m unittest discover -s clients/python/tests
node --test clients/node/test/
