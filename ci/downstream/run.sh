#!/usr/bin/env bash
# Builds and runs each downstream application (debug builds, one shared target directory so
# the dependencies are compiled once per feature set). Each application builds its own reqwest
# client where it has reqwest, and the SDK's client, sends one request of its own and one SDK
# report to a loopback receiver, and exits 0; a panic or a failed request fails the run.
set -euo pipefail
cd "$(dirname "$0")"
# The crate's own target directory: a dependency built with the same version, features and
# profile as one of the crate's builds (`.ci/run` sets the profile both use) compiles once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/../../target}"

apps=(
    reqwest-default
    reqwest-plain-http
    own-ring-provider
    ring-opt-in
    no-reqwest
    shared-client
)

for app in "${apps[@]}"; do
    echo "-- build $app"
    cargo build --quiet -p "$app"
done

# The ring opt-in exists so that aws-lc-rs is not built: check the graph says so.
if cargo tree --quiet -p ring-opt-in -e normal --prefix none | grep -q '^aws-lc'; then
    echo "ring-opt-in: aws-lc-rs is in the build of an application that opted into ring only"
    cargo tree -p ring-opt-in -e normal,features -i aws-lc-rs || true
    exit 1
fi

failed=()
for app in "${apps[@]}"; do
    echo "-- run $app"
    if ! timeout 60 "$CARGO_TARGET_DIR/debug/$app"; then
        echo "FAILED: $app"
        failed+=("$app")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "downstream applications failed: ${failed[*]}"
    exit 1
fi
echo "downstream: ${#apps[@]} applications passed"
