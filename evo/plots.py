"""Plots of a run: front.png (the front against the classical baselines) and
progress.png (best error per cost over evaluations). Figures are built from the
Front records (evo.runs), so every point is labelled by where its error was measured.
They are plain matplotlib Figures, not pyplot ones: no GUI backend is touched, and a
notebook shows the one `Front.plot()` returns."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib import colormaps
from matplotlib.figure import Figure

from .runs import load_front

if TYPE_CHECKING:
    from .runs import Front

MARKERS = {"exhaustive": ("*", 140, "k", "exhaustive (every float32)"),
           "validation": ("o", 40, "C3", "validation sample"),
           "train": ("^", 40, "C1", "training set")}


def baseline_points(front: "Front") -> list[tuple[str, float, float]]:
    """(name, ops, max error on the validation sample) of the classical baselines for the run's target."""
    from .baselines import baselines

    return [(b.name, float(b.ops), float(b.max_ulp)) for b in baselines(front.target, on_skip=lambda *a: None)]


def front_figure(front: "Front", with_baselines: bool = True) -> Figure:
    if front.dtype == "float64":
        return reals_front_figure(front, with_baselines)
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    pts = [(m.cost, m.error) for m in front if m.error > 0 and m.error != float("inf")]
    if pts:
        ax.step(*zip(*pts), where="post", color="C3", alpha=0.5, label="evolved front (best known error)")
    for kind, (marker, size, color, label) in MARKERS.items():
        sel = [(m.cost, m.error) for m in front if m.error_on == kind and 0 < m.error < float("inf")]
        if sel:
            ax.scatter(*zip(*sel), marker=marker, s=size, color=color, zorder=5, label=f"evolved: {label}")
    if with_baselines and front.dtype == "float32":
        for i, form in enumerate(("fma", "horner")):
            b = [(o, e) for n, o, e in baseline_points(front) if n.endswith(form) and e > 0]
            if b:
                ax.scatter(*zip(*b), marker="x", color=f"C{i}", label=f"baselines ({form}, validation sample)")
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    return _finish(fig, ax, front, f"max error ({front.unit})", "")


def _finish(fig: Figure, ax, front: "Front", ylabel: str, title_tail: str) -> Figure:
    """Axis labels, title, legend and grid of a front plot."""
    ax.set_xlabel("cost (x-dependent ops)" if front.cost_kind == "ops" else "cost (ns/element)")
    ax.set_ylabel(ylabel)
    lo, hi = front.target.interval
    ax.set_title(f"{front.target.expr} on [{lo:.4g}, {hi:.4g}]{title_tail}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def reals_front_figure(front: "Front", with_baselines: bool = True) -> Figure:
    """Reals mode: significant digits (-log10 max relative error) against ops, the evolved
    front (sampled, and certified where proven) against every classical form."""
    from .reals import digits

    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.subplots()
    pts = [(m.cost, digits(m.error)) for m in front if 0 < m.error < 1]
    if pts:
        ax.step(*zip(*pts), where="post", color="C3", alpha=0.5)
        ax.scatter(*zip(*pts), marker="o", s=36, color="C3", zorder=5, label="evolved front (sampled max)")
    cert = [(m.cost, digits(m.certified_max_rel)) for m in front if m.certified_max_rel]
    if cert:
        ax.scatter(*zip(*cert), marker="*", s=150, color="k", zorder=6, label="evolved, certified bound")
    if with_baselines:
        from .baselines import reals_baselines

        rows = reals_baselines(front.target, max_ops=max(14, int(max((m.cost for m in front), default=0))),
                               on_skip=lambda *a: None)
        for i, kind in enumerate(dict.fromkeys(r.kind for r in rows)):
            b = sorted((r.ops, r.digits) for r in rows if r.kind == kind)
            ax.plot(*zip(*b), marker="x", ls="--", lw=0.8, color=f"C{i}", label=f"{kind} (real optimum)")
    return _finish(fig, ax, front, "significant digits  (-log10 max relative error)", ", reals: digits against ops")


def plot_front(run: Path, out: Path | None = None) -> Path:
    out = out or run / "front.png"
    front_figure(load_front(run)).savefig(out, dpi=110)
    return out


# Errors above this are no fit at all (a reals child at 1e308 relative): left off, as
# matplotlib's log axis overflows on them.
NO_FIT = 1e30


def plot_progress(run: Path, out: Path | None = None) -> Path:
    best: dict[float, list[tuple[int, float]]] = {}
    f = run / "events.jsonl"
    for line in f.read_text().splitlines() if f.exists() else []:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") != "eval" or not isinstance(e.get("error"), (int, float)) or not e["error"] < NO_FIT:
            continue
        c, err, n = e["cost"], e["error"], e["evals"]
        series = best.setdefault(c, [])
        if not series or err < series[-1][1]:
            series.append((n, err))
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    costs = sorted(best)[:16]
    last = max((n for series in best.values() for n, _ in series), default=1)
    for k, c in enumerate(costs):
        xs, ys = map(list, zip(*best[c]))
        ax.step(xs + [last], ys + [ys[-1]], where="post", label=f"cost {c:g}",
                color=colormaps["viridis"](k / max(len(costs) - 1, 1)))
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best training max error (sampled)")
    ax.grid(alpha=0.3)
    if best:
        ax.legend(fontsize=7, ncol=2)
    out = out or run / "progress.png"
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def plot_run(run: Path) -> None:
    plot_front(run)
    plot_progress(run)
