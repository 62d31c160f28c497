#!/usr/bin/env bash
# Runs every fuzz target for a bounded number of executions, as CI does.
# The budgets are counts (-fuzztime Nx), not durations: with a duration, Go
# 1.26's fuzz coordinator can report a spurious "context deadline exceeded"
# when the time runs out on a busy machine (golang/go#75804, fixed in Go
# 1.27). Each count is about 10-20 s on this project's 2-core CI machine kind.
# SCALE multiplies them: ./scripts/fuzz.sh 10 explores ten times as long.
# A crasher is written to the package's testdata/fuzz and fails the run;
# commit it as a regression case once fixed.
set -euo pipefail
scale="${1:-1}"
targets=(
  "./receiver FuzzRender 150000"
  "./receiver FuzzDecodePayload 60000"
  "./config FuzzLoad 200000"
  "./templates FuzzNeutralize 100000"
  "./templates FuzzQuickRender 100000"
  "./wecom FuzzCut 150000"
  "./wecom FuzzAppendJSON 200000"
  "./wecom FuzzPlainAnswer 200000"
)
for t in "${targets[@]}"; do
  read -r pkg name count <<<"$t"
  n=$((count * scale))
  echo "fuzz $name ($pkg) for ${n} executions"
  # Minimising a new input may take a minute by default: bounded, so that
  # a lucky find does not stretch CI.
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "${n}x" -fuzzminimizetime 10s "$pkg"
done
