#!/usr/bin/env bash
# Builds `app` (with vortex-client) and `bare` (a hand-written loop) from scratch in one release
# build, then prints: vortex-client's compile time against reqwest's (from cargo's --timings
# report, same run), and the stripped binaries' sizes; exits 1 when the SDK adds more than
# MAX_KIB (default 540) to the stripped binary. Usage: ci/footprint/run.sh [TARGET_DIR [MAX_KIB]]
set -euo pipefail
cd "$(dirname "$0")"
target="${1:-$(mktemp -d)}"
max_kib="${2:-540}"
export CARGO_TARGET_DIR="$target"
rm -rf "$target/release" "$target/cargo-timings"
cargo build --release --quiet --timings -p footprint-app -p footprint-bare
for bin in footprint-app footprint-bare; do
    strip -o "$target/$bin.stripped" "$target/release/$bin"
done
python3 - "$target" "$max_kib" <<'PY'
import json, os, re, sys
target, max_kib = sys.argv[1], int(sys.argv[2])
html = open(os.path.join(target, "cargo-timings", "cargo-timing.html")).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
def took(name):
    return sum(u["duration"] for u in units if u["name"] == name and u["target"] in ("", " (lib)", " lib"))
sdk, reqwest = took("vortex-client"), took("reqwest")
app = os.path.getsize(os.path.join(target, "footprint-app.stripped"))
bare = os.path.getsize(os.path.join(target, "footprint-bare.stripped"))
print(f"compile: vortex-client {sdk:.2f} s, reqwest {reqwest:.2f} s, ratio {sdk / reqwest:.2f}")
added = (app - bare) / 1024
print(f"stripped binary: app {app / 1024:.0f} KiB, bare loop {bare / 1024:.0f} KiB, the SDK adds {added:.0f} KiB (bound {max_kib} KiB)")
if added > max_kib:
    sys.exit(f"the SDK adds {added:.0f} KiB to a stripped release binary, over the bound of {max_kib} KiB")
PY
