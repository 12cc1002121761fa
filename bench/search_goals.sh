#!/usr/bin/env bash
# The README's search-reliability table: `evo bench search` for each goal of issue 10,
# default settings (embedded local Ray, all cores), seeds 0..N-1, one search at a time.
# Each line of OUT/summary.txt is one goal; OUT/NAME.json holds every seed's record.
# Usage: [SEEDS=N] bench/search_goals.sh [OUT_DIR] [GOAL ...]   (GOAL: exp2-sym exp2 log2 log erf; default all)
# SEEDS overrides each goal's seed count (the issue's goals: 5 for exp2, 3 for log2, log and erf).
set -euo pipefail
out=${1:-runs/goals}; shift || true
goals=${*:-exp2-sym exp2 log2 log erf}
mkdir -p "$out"
SQRT2="--interval=0.7071068,1.4142136"   # [sqrt(1/2), sqrt(2)]: the full-range log wrappers' kernel interval
for g in $goals; do
  case $g in
    exp2-sym) args=(exp2 --interval=-0.5,0.5 --max-ops 6 --seeds 5 --limit 600) ;;
    exp2)     args=(exp2 --seeds 5 --limit 600) ;;
    log2)     args=(log2 "$SQRT2" --seeds 3 --limit 1800) ;;
    log)      args=(log "$SQRT2" --seeds 3 --limit 1800) ;;
    erf)      args=(erf --seeds 3 --limit 1800) ;;
    *) echo "unknown goal $g" >&2; exit 2 ;;
  esac
  [[ -n "${SEEDS:-}" ]] && args+=(--seeds "$SEEDS")
  echo "== $g: evo bench search ${args[*]}  (load: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/summary.txt"
  evo bench search "${args[@]}" --out "$out/$g" --json > "$out/$g.json"
  python - "$out/$g.json" <<'PY' | tee -a "$out/summary.txt"
import json, sys
r = json.load(open(sys.argv[1]))
med = r["median_seconds"]
print(f"{r['target']} {r['interval'] or ''}: {r['successes']}/{r['seeds']} seeds reached {r['goal']} within "
      f"{r['limit_seconds']:g} s; median {'%.0f s' % med if med is not None else 'over the limit'}; per seed: "
      + ", ".join(f"{x['seed']}: " + (f"{x['seconds']:.0f} s ({x['member']['ops']} ops, {float(x['member']['max_ulp']):.4f})"
                                     if x['reached'] else "failed") for x in r["runs"]))
PY
done
