#!/usr/bin/env bash
# A real Node.js Lambda runtime for the end-to-end tests (extension/tests/real_runtimes.rs):
# AWS's runtime interface client `aws-lambda-ric` (native code: it needs cmake, autoconf,
# automake, libtool, g++ and make, and builds for a few minutes on first install), the
# OpenTelemetry JS SDK with its OTLP/HTTP protobuf exporters, and this repository's Node
# client (`liftwatch`), in .node-runtime/. Installs only what is missing or changed (a
# stamp of the pins and the client's sources), then prints the directory whose
# node_modules the tests put on NODE_PATH:
#
#   LIFTWATCH_TEST_NODE_MODULES=$(bash scripts/node-runtime.sh)/node_modules
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=.node-runtime
STAMP="$DIR/.installed"
CLIENT=clients/node
PACKAGES=(
    'aws-lambda-ric@3.3.0'
    '@opentelemetry/api@1.9.0'
    '@opentelemetry/sdk-trace-base@2.5.1'
    '@opentelemetry/sdk-metrics@2.5.1'
    '@opentelemetry/resources@2.5.1'
    '@opentelemetry/exporter-trace-otlp-proto@0.212.0'
    '@opentelemetry/exporter-metrics-otlp-proto@0.212.0'
    '@opentelemetry/propagator-aws-xray@2.2.0'
)

wanted() {
    {
        printf '%s\n' "${PACKAGES[@]}"
        find "$CLIENT" -maxdepth 1 -type f -print0 | sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
}

want=$(wanted)
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
    command -v npm >/dev/null || { echo "npm is required for the Node runtime tests" >&2; exit 1; }
    for tool in cmake autoconf automake libtool make g++; do
        command -v "$tool" >/dev/null || [[ $tool == libtool && -x /usr/bin/libtoolize ]] || {
            echo "$tool is required to build aws-lambda-ric (apt-get install cmake autoconf automake libtool g++ make)" >&2
            exit 1
        }
    done
    echo "==> installing aws-lambda-ric, the OpenTelemetry JS SDK and the liftwatch client into $DIR" >&2
    mkdir -p "$DIR"
    [[ -f "$DIR/package.json" ]] || echo '{"name":"liftwatch-node-runtime","private":true}' >"$DIR/package.json"
    npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "${PACKAGES[@]}" "./$CLIENT" >&2
    # Newer npm runs a dependency's install scripts only once approved: build the native
    # part explicitly.
    if [[ ! -f "$DIR/node_modules/aws-lambda-ric/dist/rapid-client.node" ]]; then
        (cd "$DIR" && npm rebuild aws-lambda-ric --foreground-scripts --loglevel=error) >&2
    fi
    echo "$want" >"$STAMP"
fi
echo "$PWD/$DIR"
