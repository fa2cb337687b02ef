#!/usr/bin/env bash
# Builds the liftwatch Lambda layer: one zip per architecture holding the release build of
# the `liftwatch` extension at `extensions/liftwatch` (Lambda unpacks layers into /opt and
# starts every file in /opt/extensions).
#
#   ./layer-build.sh [--arch x86_64|arm64|all] [--publish]
#
# The binaries are cross-built with cargo-lambda and zig (installed into .venv-layer/ on
# first use) against glibc 2.26, so they run on Amazon Linux 2 (glibc 2.26) as well as on
# Amazon Linux 2023; a plain `cargo build` here would need glibc 2.34. Each binary is
# checked (architecture, highest GLIBC_ symbol version), stripped and zipped, and each zip
# must stay under 5 MB. Output: dist/liftwatch-layer-<arch>.zip, with its size and sha256.
#
# --publish runs `aws lambda publish-layer-version` for each zip when the AWS CLI is on
# PATH (with your usual AWS credentials and region), and otherwise prints the commands.
#
# Environment: LIFTWATCH_LAYER_NAME (default liftwatch; published as <name>-<arch>),
# LIFTWATCH_LAYER_RUNTIMES (space-separated runtime identifiers for the layer's metadata),
# SOURCE_DATE_EPOCH (the zip entries' timestamp; default 1980-01-01, so the same binary
# always gives the same zip and the same sha256).
set -euo pipefail
cd "$(dirname "$0")"

# Amazon Linux 2's glibc; AL2023 has 2.34, so a binary built against 2.26 runs on both.
GLIBC_FLOOR=2.26
# Lambda accepts 50 MB zipped; ours is a sidecar, so it gets a far smaller budget.
MAX_ZIP_BYTES=5000000
VENV=.venv-layer
# The versions this script was checked with; cargo-lambda bundles cargo-zigbuild.
CARGO_LAMBDA_VERSION=1.9.2
ZIGLANG_VERSION=0.17.1
LAYER_NAME=${LIFTWATCH_LAYER_NAME:-liftwatch}
# At most 15 (PublishLayerVersion's limit). Only metadata: the console filters layers by
# it, while an external extension runs beside every runtime on AL2 and AL2023.
RUNTIMES=${LIFTWATCH_LAYER_RUNTIMES:-"provided.al2023 provided.al2 nodejs24.x nodejs22.x nodejs20.x python3.14 python3.13 python3.12 python3.11 python3.10 java25 java21 java17 java11 java8.al2"}

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

step() { echo "==> $*" >&2; }
note() { echo "    $*" >&2; }
die() {
    echo "layer-build.sh: $*" >&2
    exit 1
}

arch_arg=all
publish=false
while (($#)); do
    case "$1" in
        --arch) (($# >= 2)) || die "--arch needs a value: x86_64, arm64 or all"; arch_arg=$2; shift 2 ;;
        --arch=*) arch_arg=${1#--arch=}; shift ;;
        --publish) publish=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
case "$arch_arg" in
    x86_64 | arm64) arches=("$arch_arg") ;;
    all) arches=(x86_64 arm64) ;;
    *) die "--arch must be x86_64, arm64 or all (got '$arch_arg')" ;;
esac
read -r -a runtimes <<<"$RUNTIMES"
((${#runtimes[@]} >= 1 && ${#runtimes[@]} <= 15)) ||
    die "LIFTWATCH_LAYER_RUNTIMES lists ${#runtimes[@]} runtimes; Lambda takes 1 to 15"

# --- tools -------------------------------------------------------------------------------

command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"
command -v rustc >/dev/null || die "rustc is required (https://rustup.rs)"
command -v python3 >/dev/null ||
    die "python3 is required: cargo-lambda and zig are installed from PyPI into $VENV/, and the zip is written with Python's zipfile"
command -v readelf >/dev/null || command -v objdump >/dev/null ||
    die "readelf or objdump is required to check the binaries' glibc floor (Debian/Ubuntu: apt-get install binutils)"
command -v sha256sum >/dev/null || die "sha256sum is required (coreutils)"

# cargo-lambda (a prebuilt binary wheel) and zig (the `ziglang` wheel) in a private venv.
# cargo-zigbuild, inside cargo-lambda, finds zig as `python3 -m ziglang` on PATH.
ensure_cargo_lambda() {
    if [[ -x "$VENV/bin/cargo-lambda" ]] && "$VENV/bin/python3" -m ziglang version >/dev/null 2>&1; then
        return
    fi
    step "installing cargo-lambda $CARGO_LAMBDA_VERSION and zig (ziglang $ZIGLANG_VERSION) into $VENV/"
    if [[ ! -x "$VENV/bin/python3" ]]; then
        python3 -m venv "$VENV" ||
            die "'python3 -m venv $VENV' failed: install Python's venv module (Debian/Ubuntu: apt-get install python3-venv)"
    fi
    "$VENV/bin/python3" -m pip --version >/dev/null 2>&1 ||
        die "$VENV has no pip: install Python's venv and pip (Debian/Ubuntu: apt-get install python3-venv python3-pip), then rm -rf $VENV"
    "$VENV/bin/python3" -m pip install --disable-pip-version-check --progress-bar on \
        "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION" >&2 ||
        die "pip could not install cargo-lambda and ziglang (is PyPI reachable?)"
    "$VENV/bin/python3" -m ziglang version >/dev/null 2>&1 || die "zig from the ziglang wheel does not run here"
}

# The Rust standard library for `triple`, added with rustup when missing.
ensure_rust_target() {
    local triple=$1 sysroot
    sysroot=$(rustc --print sysroot)
    if [[ -d "$sysroot/lib/rustlib/$triple/lib" ]]; then
        return
    fi
    command -v rustup >/dev/null ||
        die "the Rust standard library for $triple is not installed and rustup is not available: install it for $(rustc -V) (with rustup: 'rustup target add $triple'), or build only --arch $(host_arch)"
    step "rustup target add $triple"
    rustup target add "$triple" >&2 ||
        die "'rustup target add $triple' failed (it downloads from static.rust-lang.org): run it yourself where the network allows, or build only --arch $(host_arch)"
}

host_arch() {
    case "$(uname -m)" in
        aarch64 | arm64) echo arm64 ;;
        *) echo x86_64 ;;
    esac
}

# --- per architecture ----------------------------------------------------------------------

# Runs a long command, saying every 30 s that it still runs (the LTO link is silent for minutes).
with_heartbeat() {
    local label=$1 started=$SECONDS beat status=0
    shift
    (
        while sleep 30; do
            echo "    ... $label: still running ($((SECONDS - started)) s)" >&2
        done
    ) &
    beat=$!
    "$@" || status=$?
    kill "$beat" 2>/dev/null || true
    wait "$beat" 2>/dev/null || true
    return "$status"
}

# The highest GLIBC_x.y symbol version the binary needs ("none" for a static binary).
glibc_max() {
    local versions
    if command -v readelf >/dev/null; then
        versions=$(readelf -W --version-info "$1" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' || true)
    else
        versions=$(objdump -T "$1" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' || true)
    fi
    if [[ -z "$versions" ]]; then
        echo none
    else
        sed 's/^GLIBC_//' <<<"$versions" | sort -uV | tail -n 1
    fi
}

# Strips what the release profile left (it already drops symbols): llvm-strip reads every
# architecture; GNU strip only the host's.
strip_binary() {
    local binary=$1 arch=$2 tool=
    if command -v llvm-strip >/dev/null; then
        tool=llvm-strip
    elif [[ "$arch" == "$(host_arch)" ]] && command -v strip >/dev/null; then
        tool=strip
    fi
    if [[ -z "$tool" ]]; then
        note "no llvm-strip (or host strip for $arch): keeping the release profile's stripped binary"
        return
    fi
    "$tool" --strip-all "$binary"
}

# Writes extensions/liftwatch (0755) at the zip's root, with fixed timestamps so the same
# binary always gives the same zip, then reads the zip back and checks name and mode.
write_zip() {
    local binary=$1 out=$2 epoch=$3
    python3 - "$binary" "$out" "$epoch" <<'PY'
import stat, sys, time, zipfile

binary, out, epoch = sys.argv[1], sys.argv[2], max(int(sys.argv[3]), 315532800)
stamp = time.gmtime(epoch)[:6]
with open(binary, "rb") as f:
    data = f.read()
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    folder = zipfile.ZipInfo("extensions/", date_time=stamp)
    folder.external_attr = ((stat.S_IFDIR | 0o755) << 16) | 0x10
    z.writestr(folder, b"")
    entry = zipfile.ZipInfo("extensions/liftwatch", date_time=stamp)
    entry.external_attr = (stat.S_IFREG | 0o755) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(entry, data)
with zipfile.ZipFile(out) as z:
    assert z.testzip() is None, "corrupt zip"
    names = z.namelist()
    assert names == ["extensions/", "extensions/liftwatch"], names
    info = z.getinfo("extensions/liftwatch")
    mode = info.external_attr >> 16
    assert info.create_system == 3 and mode & 0o111 == 0o111, oct(mode)
    assert info.file_size == len(data)
PY
}

# Lambda reports a layer's CodeSha256 as the base64 of the zip's SHA-256.
sha256_base64() {
    python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"
}

build_arch() {
    local arch=$1 triple cpu machine
    case "$arch" in
        # No CPU baseline is documented for Lambda's x86_64 hosts: keep rustc's generic one.
        x86_64) triple=x86_64-unknown-linux-gnu cpu=x86-64 machine="X86-64" ;;
        # Lambda's arm64 functions run on Graviton2 (Neoverse N1) or newer.
        arm64) triple=aarch64-unknown-linux-gnu cpu=neoverse-n1 machine="AArch64" ;;
    esac
    ensure_rust_target "$triple"

    local lambda_dir="$target_dir/lambda-layer/$arch"
    local binary="$lambda_dir/extensions/liftwatch"
    local out="dist/liftwatch-layer-$arch.zip"
    local rustflags=${RUSTFLAGS:-}
    [[ "$rustflags" == *target-cpu* ]] || rustflags="${rustflags:+$rustflags }-C target-cpu=$cpu"

    step "building liftwatch for $arch ($triple, glibc $GLIBC_FLOOR, RUSTFLAGS '$rustflags'); a release build with LTO takes minutes"
    rm -f "$binary"
    local started=$SECONDS
    # --no-default-features: the extension without the command-line tools (the `cli`
    # feature), which Lambda never runs. --disable-optimizations: the workspace's
    # [profile.release] decides (cargo-lambda
    # would otherwise add panic = "abort", and the extension relies on unwinding to survive
    # a panicked pipeline task). --skip-target-check: ensure_rust_target did it.
    with_heartbeat "cargo lambda build ($arch)" \
        env PATH="$PWD/$VENV/bin:$PATH" RUSTFLAGS="$rustflags" \
        cargo lambda build --release --locked --extension \
        --package liftwatch-extension --bin liftwatch --no-default-features \
        --target "$triple.$GLIBC_FLOOR" \
        --disable-optimizations --skip-target-check \
        --lambda-dir "$lambda_dir" --output-format binary >&2 ||
        die "cargo lambda build failed for $arch"
    local build_seconds=$((SECONDS - started))
    [[ -f "$binary" ]] || die "cargo lambda build did not produce $binary"
    note "built in ${build_seconds} s"

    # The right machine, dynamically linked to glibc no newer than the floor.
    if command -v readelf >/dev/null; then
        readelf -h "$binary" | grep -q "Machine:.*$machine" ||
            die "$binary is not an $arch binary: $(readelf -h "$binary" | grep Machine:)"
    fi
    if command -v file >/dev/null; then
        note "$(file -b "$binary")"
    fi
    local glibc
    glibc=$(glibc_max "$binary")
    if [[ "$glibc" != none ]] && [[ "$(printf '%s\n%s\n' "$glibc" "$GLIBC_FLOOR" | sort -V | tail -n 1)" != "$GLIBC_FLOOR" ]]; then
        die "$binary needs GLIBC_$glibc, newer than Amazon Linux 2's $GLIBC_FLOOR"
    fi
    note "highest glibc symbol version: $glibc (floor $GLIBC_FLOOR)"
    local needs="glibc $glibc or newer"
    [[ "$glibc" != none ]] || needs="no glibc (static)"

    local built_size
    built_size=$(stat -c %s "$binary")
    strip_binary "$binary" "$arch"
    local binary_size
    binary_size=$(stat -c %s "$binary")
    note "binary: $binary_size bytes (stripped from $built_size)"

    mkdir -p dist
    rm -f "$out"
    write_zip "$binary" "$out" "$epoch" || die "writing $out failed"
    local zip_size
    zip_size=$(stat -c %s "$out")
    if ((zip_size >= MAX_ZIP_BYTES)); then
        rm -f "$out"
        die "the $arch zip is $zip_size bytes, over the $MAX_ZIP_BYTES-byte budget (binary $binary_size bytes); removed $out"
    fi
    summary+=("$(printf '%-7s %s\n        zip %d bytes (%.2f MB), binary %d bytes, needs %s, built in %d s\n        sha256 %s\n        CodeSha256 (as Lambda reports it) %s' \
        "$arch" "$out" "$zip_size" "$(mb "$zip_size")" "$binary_size" "$needs" "$build_seconds" \
        "$(sha256sum "$out" | cut -d' ' -f1)" "$(sha256_base64 "$out")")")
    built+=("$arch")
}

mb() { python3 -c 'import sys; print(int(sys.argv[1]) / 1e6)' "$1"; }

publish_command() {
    local arch=$1
    local -a cmd=(aws lambda publish-layer-version
        --layer-name "$LAYER_NAME-$arch"
        --description "liftwatch $version observability extension ($arch)"
        --license-info Apache-2.0
        --zip-file "fileb://dist/liftwatch-layer-$arch.zip"
        --compatible-architectures "$arch"
        --compatible-runtimes)
    cmd+=("${runtimes[@]}")
    printf '%s\n' "${cmd[@]}"
}

# Prints a command for people: one option per line, words quoted only where the shell needs it.
print_command() {
    local word line="  $1"
    shift
    for word in "$@"; do
        [[ "$word" =~ ^[A-Za-z0-9._/:=@%+,-]+$ ]] || word="'${word//\'/\'\\\'\'}'"
        if [[ "$word" == --* ]]; then
            echo "$line \\"
            line="    $word"
        else
            line+=" $word"
        fi
    done
    echo "$line"
}

# --- main --------------------------------------------------------------------------------

ensure_cargo_lambda
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
version=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "liftwatch-extension"))')
epoch=${SOURCE_DATE_EPOCH:-315532800}

summary=()
built=()
for arch in "${arches[@]}"; do
    build_arch "$arch"
done

echo "liftwatch $version layer zips (each holds extensions/liftwatch, mode 0755):"
for line in "${summary[@]}"; do
    echo "  $line"
done

if $publish; then
    for arch in "${built[@]}"; do
        mapfile -t cmd < <(publish_command "$arch")
        if command -v aws >/dev/null; then
            step "publishing $LAYER_NAME-$arch (region: your AWS CLI default, or AWS_REGION)"
            # Prints the new version's ARN (what functions attach) and Lambda's CodeSha256,
            # which must equal the one printed above.
            "${cmd[@]}" --query '[LayerVersionArn, Content.CodeSha256]' --output text ||
                die "publishing failed; the command was: ${cmd[*]}"
        else
            echo "The AWS CLI is not installed; to publish the $arch layer, run:"
            print_command "${cmd[@]}"
        fi
    done
fi
