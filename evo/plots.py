"""Plots of a run: front.png (front vs baselines), progress.png (best error per cost over evaluations)."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .runs import load_front  # noqa: E402


def baseline_points(front) -> list[tuple[str, float, float]]:
    """(name, ops, max ULP) of the classical baselines for the run's target, if it has them."""
    try:
        from .baselines import baselines
    except ImportError:
        return []
    return [(b.name, float(b.ops), float(b.max_ulp)) for b in baselines(front.target)]


def plot_front(run: Path, out: Path | None = None) -> Path:
    front = load_front(run)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    pts = [(m["cost"], m.get("max_ulp") or m.get("max_rel")) for m in front.members]
    pts = [(c, e) for c, e in pts if isinstance(e, (int, float))]
    if pts:
        ax.step(*zip(*pts), where="post", marker="o", color="C3", label="evolved front (validation)")
    ver = [(m["cost"], m["exhaustive_max_ulp"]) for m in front.members if m.get("exhaustive_max_ulp") is not None]
    if ver:
        ax.scatter(*zip(*ver), marker="*", s=120, color="k", zorder=5, label="exhaustive max ULP")
    for i, form in enumerate(("fma", "horner")):
        b = [(o, e) for n, o, e in baseline_points(front) if n.endswith(form) and e > 0]
        if b:
            ax.scatter(*zip(*b), marker="x", color=f"C{i}", label=f"baselines ({form})")
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("cost (x-dependent ops)" if front.meta.get("cost", "ops") == "ops" else "cost (ns/element)")
    ax.set_ylabel("max error (ULP)")
    ax.set_title(f"{front.target.expr} on [{front.target.interval[0]:.4g}, {front.target.interval[1]:.4g}]")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    out = out or run / "front.png"
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_progress(run: Path, out: Path | None = None) -> Path:
    best: dict[float, list[tuple[int, float]]] = {}
    f = run / "events.jsonl"
    for line in f.read_text().splitlines() if f.exists() else []:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") != "eval" or not isinstance(e.get("error"), (int, float)):
            continue
        c, err, n = e["cost"], e["error"], e["evals"]
        series = best.setdefault(c, [])
        if not series or err < series[-1][1]:
            series.append((n, err))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    costs = sorted(best)[:16]
    last = max((n for series in best.values() for n, _ in series), default=1)
    for k, c in enumerate(costs):
        xs, ys = map(list, zip(*best[c]))
        ax.step(xs + [last], ys + [ys[-1]], where="post", label=f"cost {c:g}",
                color=plt.cm.viridis(k / max(len(costs) - 1, 1)))
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best training max error")
    ax.grid(alpha=0.3)
    if best:
        ax.legend(fontsize=7, ncol=2)
    out = out or run / "progress.png"
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_run(run: Path) -> None:
    plot_front(run)
    plot_progress(run)
