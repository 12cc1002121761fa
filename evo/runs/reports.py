"""Reports of a run as text: a reals run's significant digits against the classical forms."""
from __future__ import annotations

from ..core.numbers import digits
from ..reals.baselines import best_per_ops
from .front import Front


def digits_table(front: Front, max_ops: int = 14) -> str:
    """The evolved front of a reals run against the best classical form at each op count
    (same interval and metric): a Markdown table of significant digits."""
    best = best_per_ops(front.baselines(max_ops=max_ops), max_ops)
    lines = ["| ops | evolved (sampled) | evolved (certified) | best classical (<= ops) | margin |",
             "|---|---|---|---|---|"]
    for k in range(2, max_ops + 1):
        ms = [m for m in front if m.cost <= k and 0 < m.error < 1]
        m = min(ms, key=lambda a: a.error) if ms else None
        b = best.get(k)
        ev = f"{digits(m.error):.2f} (#{m.id}, {m.cost:g} ops)" if m else "-"
        cert = f"{digits(m.certified_max_rel):.2f}" if m is not None and m.certified_max_rel else "-"
        bl = f"{b.digits:.2f} ({b.name})" if b else "-"
        margin = f"{digits(m.error) - b.digits:+.2f}" if m and b else "-"
        lines.append(f"| {k} | {ev} | {cert} | {bl} | {margin} |")
    return "\n".join(lines)
