"""Markdown table: each run's front next to the classical baselines at equal op counts.

Usage: python bench/front_table.py runs/ten-minute/*   (one column group per run)
Errors are max ULP on the validation sample; a '*' marks figures verified on
every float32 of the interval.
"""
from __future__ import annotations

import sys

from evo.baselines import baselines
from evo.runs import load_front


def fmt(v: float | None, exhaustive: bool = False) -> str:
    if v is None:
        return "-"
    s = f"{v:.3g}" if v < 1000 else f"{v:.1e}"
    return s + ("*" if exhaustive else "")


def main(paths: list[str]) -> None:
    for path in paths:
        front = load_front(path)
        best_base: dict[int, tuple[float, str]] = {}
        for b in baselines(front.target, on_skip=lambda *a: None):
            if b.max_ulp < best_base.get(b.ops, (float("inf"), ""))[0]:
                best_base[b.ops] = (b.max_ulp, b.name)
        print(f"\n{front.target.expr} on [{front.target.interval[0]:.6g}, {front.target.interval[1]:.6g}] "
              f"(run {path})\n")
        print("| ops | evolved max ULP | best baseline | baseline max ULP |")
        print("|---|---|---|---|")
        evolved = {int(m["cost"]): m for m in front.members}
        for ops in sorted(set(evolved) | set(best_base)):
            if ops == 0 or ops > 16:
                continue
            m = evolved.get(ops)
            ev = fmt(m["exhaustive_max_ulp"], True) if m and m.get("exhaustive_max_ulp") is not None \
                else fmt(m["max_ulp"]) if m else "-"
            b = best_base.get(ops)
            print(f"| {ops} | {ev} | {b[1] if b else '-'} | {fmt(b[0]) if b else '-'} |")


if __name__ == "__main__":
    main(sys.argv[1:])
