#!/usr/bin/env bash
# A real Python Lambda runtime for the end-to-end tests (extension/tests/real_runtimes.rs):
# AWS's runtime interface client `awslambdaric`, the OpenTelemetry SDK with its OTLP/HTTP
# exporter and X-Ray propagator, and this repository's Python client (`liftwatch`), in a
# venv at .venv-runtime/. Installs only what is missing or changed (a stamp of the pins and
# the client's sources), then prints the venv's python, which the tests read from
# LIFTWATCH_TEST_PYTHON:
#
#   LIFTWATCH_TEST_PYTHON=$(bash scripts/python-runtime.sh)
#
# Needs python3 (3.9+) and the package registry; awslambdaric comes as a wheel (its source
# build needs cmake and autotools), so nothing is compiled.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-runtime
STAMP="$VENV/.installed"
CLIENT=clients/python
REQUIREMENTS=(
    'awslambdaric==4.2.2'
    'opentelemetry-api==1.45.2'
    'opentelemetry-sdk==1.45.2'
    'opentelemetry-exporter-otlp-proto-http==1.45.2'
    'opentelemetry-propagator-aws-xray==1.0.2'
)

# What the venv must hold: the pins and the client's sources.
wanted() {
    {
        printf '%s\n' "${REQUIREMENTS[@]}"
        find "$CLIENT/pyproject.toml" "$CLIENT/src/liftwatch" -type f ! -path '*/__pycache__/*' -print0 \
            | sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
}

install() {
    local want
    want=$(wanted)
    if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
        return
    fi
    command -v python3 >/dev/null || { echo "python3 is required for the Python runtime tests" >&2; exit 1; }
    echo "==> installing awslambdaric, the OpenTelemetry SDK and the liftwatch client into $VENV" >&2
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    local pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
    "${pip[@]}" --only-binary awslambdaric "${REQUIREMENTS[@]}" >&2
    "${pip[@]}" --force-reinstall --no-deps "./$CLIENT" >&2
    echo "$want" >"$STAMP"
}

install
echo "$PWD/$VENV/bin/python"
