"""Which means make the search find accurate kernels: the same seeds and evaluation
budgets, with one setting changed at a time.

    python bench/ablate_search.py exp2 --interval -0.5,0.5 --evals 12000 --seeds 0,1,2 --ops 6 \\
        --variant default --variant islands=1 --variant train_capacity=0 --variant second_start=0.25

Budgets are evaluations, not seconds, so the figures do not depend on the load of
the machine. In-loop exhaustive checks are off (they take time, not evaluations);
instead, after each search, every front member with at most --ops ops is measured on
a dense sample of 4M random inputs plus 1M near each end of the interval (the
"dense max": a sampled figure, a lower bound of the exhaustive max, far tighter
than the 16k validation sample). Reported per variant: for each seed the best dense
max at <= --ops ops, how many seeds got under --goal, and the median.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

from evo.core.interp import evaluate
from evo.core.scoring import error_ulp
from evo.evolution.config import SearchConfig
from evo.evolution.evaluators import LocalEvaluator
from evo.evolution.loop import Search
from evo.evolution.worker import EvalSpec
from targets import get_target, parse_interval


def dense_sample(target, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = target.interval
    rng = np.random.default_rng(seed)
    w = (hi - lo) * 0.01
    x = np.r_[rng.uniform(lo, hi, 4_000_000), rng.uniform(lo, lo + w, 1_000_000), rng.uniform(hi - w, hi, 1_000_000)]
    x = np.unique(x.astype(np.float32))
    x = x[(x >= lo) & (x <= hi)]
    return x, target.f64(x.astype(np.float64))


def parse_variant(text: str) -> dict:
    if text == "default":
        return {}
    out = {}
    for item in text.split(";"):
        k, _, v = item.partition("=")
        out[k] = json.loads(v)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target")
    ap.add_argument("--interval")
    ap.add_argument("--evals", type=int, default=12000)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--ops", type=int, default=6)
    ap.add_argument("--goal", type=float, default=1.0)
    ap.add_argument("--variant", action="append", default=[],
                    help="default, or KEY=JSON[;KEY=JSON] SearchConfig settings, e.g. islands=1 or "
                         "'fit={\"round_below\": 0}'")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    interval = parse_interval(a.interval) if a.interval else None
    target = get_target(a.target, interval)
    x, ref = dense_sample(target)
    seeds = [int(s) for s in a.seeds.split(",")]
    report = []
    for variant in a.variant or ["default"]:
        settings = parse_variant(variant)
        per_seed = []
        for seed in seeds:
            cfg = SearchConfig.from_dict(dict(target=a.target, interval=interval, max_evals=a.evals, seed=seed,
                                              verify_below=0, **settings))
            s = Search(cfg, t := get_target(cfg.target, cfg.interval), LocalEvaluator(EvalSpec.of(cfg, t)))
            t0 = time.monotonic()
            s.run()
            best = min((float(np.max(error_ulp(evaluate(m.program, x), ref))) for m in s.front
                        if m.ops <= a.ops), default=float("inf"))
            per_seed.append({"seed": seed, "dense_max": best, "seconds": time.monotonic() - t0})
            print(f"{variant:<40} seed {seed}: best dense max at <= {a.ops} ops {best:.4f} "
                  f"({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
        errs = [r["dense_max"] for r in per_seed]
        row = {"variant": variant, "under_goal": sum(e < a.goal for e in errs), "seeds": len(seeds),
               "median_dense_max": statistics.median(errs), "runs": per_seed}
        report.append(row)
        print(f"{variant:<40} {row['under_goal']}/{len(seeds)} under {a.goal:g}; median dense max "
              f"{row['median_dense_max']:.4f}; per seed " + " ".join(f"{e:.3f}" for e in errs), flush=True)
    if a.json:
        print(json.dumps({"target": a.target, "interval": a.interval, "evals": a.evals, "ops": a.ops,
                          "variants": report}, indent=1))


if __name__ == "__main__":
    main()
