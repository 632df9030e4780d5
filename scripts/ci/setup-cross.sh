#!/usr/bin/env bash
# Installs the cross toolchain the packaging and its verification need, on a fresh Debian machine:
# zig (PyPI wheel) + cargo-zigbuild, the Rust targets (Linux, plus macOS and Windows gnu for the
# compile checks and the Wine run), qemu-user and the arm64 loader, Wine and the musl loader.
# Each step is skipped when already present, so a warm machine spends seconds here.
set -euo pipefail

if ! command -v pip3 >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
fi
if ! command -v cargo-zigbuild >/dev/null 2>&1 || ! python3 -c 'import ziglang' >/dev/null 2>&1; then
  pip3 install --quiet --break-system-packages ziglang cargo-zigbuild 2>/dev/null \
    || pip3 install --quiet ziglang cargo-zigbuild
fi
# cargo-zigbuild finds zig as `zig` or through `python3 -m ziglang`; a shim keeps napi/cargo happy.
if ! command -v zig >/dev/null 2>&1; then
  shim_dir="${HOME}/.local/bin"
  mkdir -p "$shim_dir"
  printf '#!/bin/sh\nexec python3 -m ziglang "$@"\n' > "$shim_dir/zig"
  chmod +x "$shim_dir/zig"
fi

wanted="x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-gnu"
installed="$(rustup target list --installed)"
missing=""
for t in $wanted; do
  grep -qx "$t" <<<"$installed" || missing="$missing $t"
done
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086
  rustup target add $missing
fi

if ! command -v qemu-aarch64 >/dev/null 2>&1 || [ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] \
  || ! command -v objdump >/dev/null 2>&1 || ! command -v readelf >/dev/null 2>&1 \
  || ! command -v wine >/dev/null 2>&1 || [ ! -e /lib/ld-musl-x86_64.so.1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq qemu-user libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross binutils file wine64 musl >/dev/null
fi
