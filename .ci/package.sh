#!/usr/bin/env bash
# The published package holds the library and its documents only: fails when a test, an
# example, a benchmark, a fuzz target, a key or certificate, CSV or SVG data, or CI files are
# in `cargo package --list`; then `cargo publish --dry-run` packages, builds the package as a
# user would get it, and stops before uploading.
set -euo pipefail
cd "$(dirname "$0")/.."

list=$(cargo package --list --allow-dirty 2>/dev/null)
forbidden=$(printf '%s\n' "$list" | grep -E '^(tests|examples|benches|fuzz|ci|\.ci|\.cargo|docs/.*\.(csv|svg))(/|$)|\.(key|pem|der|p12|csv|svg)$' || true)
if [ -n "$forbidden" ]; then
    echo "files that must not be published are in the package (see 'include' in Cargo.toml):"
    printf '  %s\n' $forbidden
    exit 1
fi
printf '%s\n' "$list" | grep -qx 'src/lib.rs' || { echo "src/lib.rs is not in the package"; exit 1; }
echo "package: $(printf '%s\n' "$list" | wc -l) files, none of tests, examples, fuzz, keys, CSV or SVG"

cargo publish --dry-run --allow-dirty --locked 2>&1 | { grep -vE "^warning: ignoring (example|test|bench) " || true; }
