#!/usr/bin/env bash
# The README's 10-minute results: one search per registered target, default settings
# (embedded local Ray, all cores), then the comparison table with the baselines.
# Usage: bench/ten_minute_runs.sh [OUT_DIR] [BUDGET]
set -euo pipefail
out=${1:-runs/ten-minute}
budget=${2:-10m}
for t in exp2 exp log2 log erf; do
  evo search "$t" --budget "$budget" --seed 0 --name "$t" --out "$out" --verify-below 1.5 -q
done
python "$(dirname "$0")/front_table.py" "$out"/*
