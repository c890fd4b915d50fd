#!/usr/bin/env bash
# Runs the product: installs what is missing, builds the widget, starts the backend.
# With no Xero/Zoho credentials configured it runs against the built-in sandbox (see README).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/bootstrap.sh
(cd widget && trunk build --release)
exec cargo run --release -p backend --bin xero-sync -- "$@"
