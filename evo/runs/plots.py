"""Plots of a run: the front against the classical baselines (front.png) and the best
error per cost over evaluations (progress.png; evo.runs.front.write_plots writes both).
Figures are built from a Front's records and the event log only, so every point is
labelled by where its error was measured.
They are plain matplotlib Figures, not pyplot ones: no GUI backend is touched, and a
notebook shows the one `Front.plot()` returns."""
from __future__ import annotations

from typing import Any, Iterable

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..core.numbers import digits

Front = Any  # an evo.runs.front.Front (which draws itself with these: no import back)

MARKERS = {"exhaustive": ("*", 140, "k", "exhaustive (every input)"),
           "validation": ("o", 40, "C3", "validation sample"),
           "train": ("^", 40, "C1", "training set")}


BASELINE_ON = {"exhaustive": "exhaustive", "validation": "validation sample: a lower bound"}


def front_figure(front: Front, with_baselines: bool = True) -> Figure:
    """The front plot of a run, as its platform displays errors."""
    return FRONT_FIGURES[front.platform.display](front, with_baselines)


def error_front_figure(front: Front, with_baselines: bool = True) -> Figure:
    """Max error (log scale) against cost: the front, each point marked by where its error
    was measured, and the classical baselines."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    pts = [(m.cost, m.error) for m in front if m.error > 0 and m.error != float("inf")]
    if pts:
        ax.step(*zip(*pts), where="post", color="C3", alpha=0.5, label="evolved front (best known error)")
    for kind, (marker, size, color, label) in MARKERS.items():
        sel = [(m.cost, m.error) for m in front if m.error_on == kind and 0 < m.error < float("inf")]
        if sel:
            ax.scatter(*zip(*sel), marker=marker, s=size, color=color, zorder=5, label=f"evolved: {label}")
    if with_baselines:
        rows = front.baselines()
        for i, form in enumerate(("fma", "horner")):
            for on, marker in (("exhaustive", "x"), ("validation", "+")):  # each labelled by where it was measured
                b = [(float(r.ops), r.max_error) for r in rows if r.form == form and r.error_on == on and r.max_error > 0]
                if b:
                    ax.scatter(*zip(*b), marker=marker, color=f"C{i}",
                               label=f"baselines ({form}, {BASELINE_ON[on]})")
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    return _finish(fig, ax, front, f"max error ({front.unit})", "")


def _finish(fig: Figure, ax, front: Front, ylabel: str, title_tail: str) -> Figure:
    """Axis labels, title, legend and grid of a front plot."""
    ax.set_xlabel("cost (x-dependent ops)" if front.cost_kind == "ops" else "cost (ns/element)")
    if front.cost_kind == "ops":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))   # op counts: no 2.5 or 7.5
    ax.set_ylabel(ylabel)
    lo, hi = front.target.interval
    ax.set_title(f"{front.target.expr} on [{lo:.8g}, {hi:.8g}]{title_tail}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def digits_front_figure(front: Front, with_baselines: bool = True) -> Figure:
    """Significant digits (-log10 max relative error) against ops (reals mode): the evolved
    front (sampled, and certified where proven) against every classical form."""
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
        rows = front.baselines(max_ops=max(14, int(max((m.cost for m in front), default=0))))
        for i, kind in enumerate(dict.fromkeys(r.kind for r in rows)):
            b = sorted((r.ops, r.digits) for r in rows if r.kind == kind)
            ax.plot(*zip(*b), marker="x", ls="--", lw=0.8, color=f"C{i}", label=f"{kind} (real optimum)")
    return _finish(fig, ax, front, "significant digits  (-log10 max relative error)", ", reals: digits against ops")


def rounding_front_figure(front: Front, with_baselines: bool = True) -> Figure:
    """A small output format: the largest distance from the correctly rounded value against
    ops (under the 0.5 line: every result rounds correctly), each checked member labelled
    with its misrounded count, and the classical forms judged alike."""
    fig = error_front_figure(front, with_baselines)
    ax = fig.axes[0]
    ax.lines[-1].remove()                       # the 1-ulp line: here the line is at 0.5
    ax.axhline(0.5, color="grey", lw=0.8, ls="--", label="correctly rounded below; numbers: misrounded inputs")
    for m in front:
        if m.exhaustive and 0 < m.error < float("inf"):
            ax.annotate(f"{m.exhaustive['not_correctly_rounded']:,}", (m.cost, m.error), fontsize=7,
                        xytext=(2, 6), textcoords="offset points")
    fmt = front.platform.output_format
    # near 0.5 is what matters: a linear axis there, larger distances off the top
    ax.set_yscale("linear")
    ax.set_ylim(0.45, 1.5)
    ax.set_ylabel(f"max distance from the correctly rounded {fmt}\n({fmt} ulps; above 1.5 off the plot)")
    ax.legend(fontsize=7)
    return fig


# How each way of displaying errors (Platform.display) draws a front.
FRONT_FIGURES = {"ulp": error_front_figure, "digits": digits_front_figure, "rounding": rounding_front_figure}


# Errors above this are no fit at all (a reals child at 1e308 relative): left off, as
# matplotlib's log axis overflows on them.
NO_FIT = 1e30


def progress_figure(events: Iterable[dict]) -> Figure:
    """Best training max error per cost against evaluations, from a run's eval events."""
    best: dict[float, list[tuple[int, float]]] = {}
    for e in events:
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
    fig.tight_layout()
    return fig
