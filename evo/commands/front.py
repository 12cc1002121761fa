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
    """Show the Pareto front of RUN (validation max error; exhaustive where verified)."""
    f = load_front(run)
    if plot:
        from ..plots import plot_front

        plot_front(Path(run), Path(plot))
    if as_json:
        print_json(list(f.members))
        return
    unit = "ulp" if f.dtype == "float32" else "rel"
    t = Table(title=f"{f.target.expr} on [{f.target.interval[0]:.6g}, {f.target.interval[1]:.6g}] "
                    f"- run {f.path.name} ({len(f.members)} members)")
    for col in ("id", "ops", f"max {unit}", "exhaustive?", "expression"):
        t.add_column(col, overflow="fold")
    for m in f.members:
        ex = m.get("exhaustive_max_ulp")
        t.add_row(str(m["id"]), f"{m['cost']:g}", fmt_ulp(m.get(f"max_{unit}")),
                  f"yes: {fmt_ulp(ex)}" if ex is not None else "no", m["expression"])
    console = Console()
    console.print(t)
    console.print(f"max {unit}: on {_n(f)} validation points (sampled); 'exhaustive?' = every float32 of the interval")
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
    return str(f.members[0].get("validation_inputs", "16384")) if f.members else "0"
