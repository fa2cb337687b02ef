#!/usr/bin/env bash
# Builds the liftwatch Lambda layer for this machine's architecture (first version:
# a release build of the host target; cross builds for x86_64/arm64 come later).
# The zip holds extensions/liftwatch at its root, executable, as Lambda expects.
set -euo pipefail
cd "$(dirname "$0")"

command -v zip >/dev/null || command -v python3 >/dev/null || {
  echo "layer-build.sh needs zip or python3 to write the zip" >&2; exit 1; }

echo "==> cargo build --release -p liftwatch-extension" >&2
cargo build --release --locked -p liftwatch-extension --bin liftwatch >&2

arch=$(uname -m)
out="dist/liftwatch-layer-${arch}.zip"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/extensions" dist
install -m 0755 target/release/liftwatch "$stage/extensions/liftwatch"
rm -f "$out"
if command -v zip >/dev/null; then
  (cd "$stage" && zip -q -X -r - extensions) > "$out"
else
  python3 - "$stage" "$out" <<'PY'
import os, sys, zipfile
stage, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    info = zipfile.ZipInfo("extensions/liftwatch")
    info.external_attr = (0o100755 << 16)
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(os.path.join(stage, "extensions", "liftwatch"), "rb") as f:
        z.writestr(info, f.read())
PY
fi
binary_size=$(stat -c %s target/release/liftwatch)
zip_size=$(stat -c %s "$out")
echo "layer: $out"
echo "zip size: $zip_size bytes; binary size: $binary_size bytes ($arch, glibc build)"
