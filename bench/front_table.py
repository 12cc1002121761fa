"""Markdown table: each run's front next to the classical baselines at equal op counts.

Usage: python bench/front_table.py runs/ten-minute/*   (one column group per run)
Errors are max ULP on the same validation sample for both (a fair comparison);
the evolved member's exhaustive max (every float32 of the interval) is shown
where the run verified it.
"""
from __future__ import annotations

import sys

from evo.runs.front import load_front


def fmt(v: float | str | None) -> str:
    if v is None:
        return "-"
    v = float(v)
    return f"{v:.3g}" if v < 1000 else f"{v:.1e}"


def main(paths: list[str]) -> None:
    for path in paths:
        front = load_front(path)
        best_base: dict[int, tuple[float, str]] = {}
        for b in front.baselines():
            if b.max_error < best_base.get(b.ops, (float("inf"), ""))[0]:
                best_base[b.ops] = (b.max_error, b.name)
        print(f"\n{front.target.expr} on [{front.target.interval[0]:.6g}, {front.target.interval[1]:.6g}] "
              f"(run {path})\n")
        print("| ops | evolved max ULP (sample) | evolved, exhaustive | best baseline | baseline max ULP (sample) |")
        print("|---|---|---|---|---|")
        evolved = {int(m.cost): m for m in front}
        for ops in sorted(set(evolved) | set(best_base)):
            if ops == 0 or ops > 16:
                continue
            m = evolved.get(ops)
            b = best_base.get(ops)
            sample = max(m.train.max, m.validation.max) if m and m.validation else None
            print(f"| {ops} | {fmt(sample)} | {fmt(m.exhaustive_max if m else None)} "
                  f"| {b[1] if b else '-'} | {fmt(b[0]) if b else '-'} |")


if __name__ == "__main__":
    main(sys.argv[1:])
