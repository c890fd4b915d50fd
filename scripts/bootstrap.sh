#!/usr/bin/env bash
# Installs what this project needs and a fresh machine lacks; skips what is already there, so it is safe
# (and quick) to run before every build. Sourced by run.sh and test.sh, which then find the tools on PATH.
#
#   wasm32 target      rustup                         (the widget and the wasm rule tests)
#   wasm-bindgen-cli   cargo install, Cargo.lock's version (must equal the wasm-bindgen library's)
#   trunk 0.21.14      cargo install --locked         (0.22 needs a newer rustc)
#   wasm-opt 132       npm, tools/package-lock.json   (Debian's binaryen 108 cannot read today's wasm)
#   chromium, chromedriver  Debian packages           (browser tests)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

say() { printf '[bootstrap] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# The toolchain rust-toolchain.toml names, with its wasm32 target.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must be exactly the library's version or the generated JS does not match the wasm.
wbg_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")"
if [ -z "$wbg_version" ]; then
  say "Cargo.lock names no wasm-bindgen version"; exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg_version" ]; then
  say "installing wasm-bindgen-cli $wbg_version (about 2 minutes)"
  # Not --locked: the CLI's own lock file names a dependency version the registry here does not serve.
  cargo install wasm-bindgen-cli --version "$wbg_version" --force
fi

trunk_version="0.21.14"
if [ "$(trunk --version 2>/dev/null | awk '{print $2}')" != "$trunk_version" ]; then
  say "installing trunk $trunk_version (about 6 minutes)"
  cargo install --locked trunk --version "$trunk_version" --force
fi

if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "132" ]; then
  say "installing wasm-opt (binaryen 132) from npm"
  npm ci --prefix "$root/tools" --no-audit --no-fund --loglevel=error
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  say "installing chromium and chromium-driver"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
