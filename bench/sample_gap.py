"""How far below the truth the sampled error was: for every exhaustive check the searches
under the given directories ran (`verified` events), the checked max minus the sampled
error (the larger of training and validation max) the member was ranked by before.

    python bench/sample_gap.py runs/goals runs/goals-b
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def checks(roots: list[str]) -> list[dict]:
    out = []
    for root in roots:
        for events in sorted(Path(root).rglob("events.jsonl")):
            for line in events.read_text().splitlines():
                e = json.loads(line)
                if e["event"] == "verified" and e.get("max_ulp") is not None and e.get("sampled") is not None:
                    out.append(e | {"run": str(events.parent)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="+", help="directories holding run directories")
    a = ap.parse_args()
    found = checks(a.roots)
    if not found:
        raise SystemExit("no exhaustive checks under " + ", ".join(a.roots))
    gap = np.array([float(e["max_ulp"]) - float(e["sampled"]) for e in found])
    runs = len({e["run"] for e in found})
    print(f"{len(found)} exhaustive checks in {runs} runs: exhaustive max - sampled error: "
          f"median {np.median(gap):.3f} ULP, max {gap.max():.3f}, min {gap.min():.3f}; "
          f"{np.mean(gap > 0.05):.0%} more than 0.05 ULP above the sample")


if __name__ == "__main__":
    main()
