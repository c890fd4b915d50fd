#!/usr/bin/env bash
# Runs the demo: installs what is missing, builds the widget, starts `xero-sync-demo`, which runs the
# service against the built-in Xero and Zoho CRM simulators and prints the page to open (see README).
# The real service is the `xero-sync` binary, configured as README.md ("Configuration") says.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/bootstrap.sh
(cd widget && trunk build --release)
exec cargo run --release -p demo --bin xero-sync-demo -- "$@"
