"""evo front runs/NAME: the Pareto front of a run, baselines alongside."""
from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..runs import load_front
from ._common import fmt_ulp, print_json


@click.command()
@click.argument("run", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the front as a JSON list.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the front plot (PNG) here.")
@click.option("--no-baselines", is_flag=True, help="Do not list the classical baselines.")
def front(run: str, as_json: bool, plot: str | None, no_baselines: bool) -> None:
    """Show the Pareto front of RUN (each error labelled: exhaustive, validation or train)."""
    f = load_front(run)
    if plot:
        f.plot().savefig(Path(plot), dpi=110)
    if as_json:
        print_json([m.to_dict(f.unit) for m in f])
        return
    unit = f.unit
    t = Table(title=f"{f.target.expr} on [{f.target.interval[0]:.6g}, {f.target.interval[1]:.6g}] "
                    f"- run {f.path.name} ({len(f)} members)")
    reals = f.dtype == "float64"
    for col in ("id", "ops", f"max {unit}", "measured on", "train", "validation",
                "certified bound" if reals else "exhaustive?", "expression"):
        t.add_column(col, overflow="fold")
    for m in f:
        checked = m.certified_max_rel if reals else m.exhaustive_max
        t.add_row(str(m.id), f"{m.cost:g}", fmt_ulp(m.error), m.error_on, fmt_ulp(m.train.max),
                  fmt_ulp(m.validation.max if m.validation else None),
                  f"{'<= ' if reals else 'yes: '}{fmt_ulp(checked)}" if checked is not None else "no", m.expression)
    console = Console()
    console.print(t)
    checked_on = ("certified bound = proven on every real x of the interval (interval arithmetic, evo verify --reals)"
                  if reals else "exhaustive = every float32 of the interval")
    console.print(f"max {unit}: the best known max error, measured on: {checked_on}; "
                  f"validation = {_n(f)} sampled points; train = the (grown) training set. Sampled figures are "
                  "lower bounds of the true max.")
    if not no_baselines and f.dtype == "float32":
        from ..plots import baseline_points

        b = baseline_points(f)
        if b:
            bt = Table(title="classical baselines (same scorer, validation sample)")
            for col in ("name", "ops", "max ulp"):
                bt.add_column(col)
            for name, ops, err in sorted(b, key=lambda r: (r[1], r[2])):
                bt.add_row(name, f"{ops:g}", fmt_ulp(err))
            console.print(bt)


def _n(f) -> str:
    sizes = {m.validation.n for m in f if m.validation and m.validation.n}
    return f"{sizes.pop():,}" if len(sizes) == 1 else "16,382"
