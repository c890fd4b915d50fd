#!/usr/bin/env bash
# Every test, from a fresh clone: installs what is missing, then formatting and lints, the native tests
# (rules, contracts, simulators, backend, end-to-end in headless Chromium), the rule and component tests on
# wasm32 in headless Chromium, the release build of the widget, and its size against the budget.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/bootstrap.sh

step() { printf '\n==> %s\n' "$*"; }

step "format and lints"
cargo fmt --all -- --check
# The production service links no simulator: `backend`'s normal dependencies hold neither `sandbox` nor
# the `demo` built on it (the tests also check the binary's strings).
if cargo tree -p backend -e normal --prefix none --locked | grep -E '^(sandbox|demo) '; then
  echo "backend depends on the simulators (above): the production binary must not" >&2; exit 1
fi
# The widget runs on wasm32 only: it is linted there (below), not a second time for the host, which would
# check Yew and web-sys natively for nothing.
cargo clippy --workspace --exclude widget --all-targets --locked -- -D warnings
cargo clippy -p widget -p shared --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

step "release build of the widget (trunk, wasm-opt)"
(cd widget && trunk build --release --locked)

step "native tests"
cargo test --workspace --exclude widget --locked

step "wasm32 tests in headless Chromium"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
CHROMEDRIVER="$(command -v chromedriver)" \
  cargo test -p shared -p widget --target wasm32-unknown-unknown --locked

step "widget bundle size"
scripts/bundle-size.sh
