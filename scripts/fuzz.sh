#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 20s each), as CI does.
# A crasher is written to the package's testdata/fuzz and fails the run;
# commit it as a regression case once fixed.
set -euo pipefail
budget="${1:-20s}"
targets=(
  "./receiver FuzzRender"
  "./receiver FuzzDecodePayload"
  "./config FuzzLoad"
  "./templates FuzzNeutralize"
  "./wecom FuzzCut"
)
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "fuzz $name ($pkg) for $budget"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$budget" "$pkg"
done
