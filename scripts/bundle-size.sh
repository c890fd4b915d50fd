#!/usr/bin/env bash
# Prints the widget's release bundle size (wasm + js, gzip -9) and fails above the budget.
# Run after `trunk build --release` in widget/ (scripts/test.sh does).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
budget_kb=150
dist="$root/widget/dist"
shopt -s nullglob
files=("$dist"/*.wasm "$dist"/*.js)
if [ ${#files[@]} -eq 0 ]; then
  echo "no widget build in $dist: run 'trunk build --release' in widget/" >&2; exit 1
fi
total_raw=0; total_gz=0
for f in "${files[@]}"; do
  raw=$(stat -c %s "$f"); gz=$(gzip -9c "$f" | wc -c)
  printf '%-10s %8d bytes raw %8d bytes gzip\n' "${f##*.}" "$raw" "$gz"
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
done
printf '%-10s %8d bytes raw %8d bytes gzip (%s KB; budget %d KB)\n' total "$total_raw" "$total_gz" \
  "$(awk -v b="$total_gz" 'BEGIN { printf "%.1f", b / 1024 }')" "$budget_kb"
if [ "$total_gz" -gt $((budget_kb * 1024)) ]; then
  echo "the widget bundle is over its ${budget_kb} KB gzip budget" >&2; exit 1
fi
