"""evo front runs/NAME: the Pareto front of a run, baselines alongside."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click
from rich.console import Console
from rich.table import Table

from ..core.numbers import fmt_error
from ..runs.front import Front, load_front
from ..runs.member import Member
from ._common import print_json


@dataclass(frozen=True)
class ProofColumn:
    """How a platform's proven figure is shown (by Platform.display)."""

    title: str
    value: Callable[[Member], float | None]
    prefix: str
    note: str
    baselines: bool     # whether the classical baselines are listed below


PROOF = {
    "ulp": ProofColumn("exhaustive?", lambda m: m.exhaustive_max, "yes: ", "exhaustive = every float32 of the interval",
                       True),
    "digits": ProofColumn("certified bound", lambda m: m.certified_max_rel, "<= ",
                          "certified bound = proven on every real x of the interval (interval arithmetic, "
                          "evo verify --reals)", False),
}


@click.command()
@click.argument("run", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the front as a JSON list (with --id: that member).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the front plot (PNG) here.")
@click.option("--no-baselines", is_flag=True, help="Do not list the classical baselines.")
@click.option("--id", "member_id", metavar="K", help="Show front member K whole (its expression is not cut).")
def front(run: str, as_json: bool, plot: str | None, no_baselines: bool, member_id: str | None) -> None:
    """Show the Pareto front of RUN (each error labelled: exhaustive, validation or train)."""
    f = load_front(run)
    if plot:
        f.plot().savefig(Path(plot), dpi=110)
    if member_id is not None:
        m = f.member(member_id)
        if as_json:
            print_json(m.to_dict(f.platform))
        else:
            show_member(f, m)
        return
    if as_json:
        print_json([m.to_dict(f.platform) for m in f])
        return
    proof = PROOF[f.platform.display]
    unit = f.unit
    width = shutil.get_terminal_size((80, 24)).columns
    console = Console(width=width)
    t = Table(title=f"{f.target.expr} on [{f.target.interval[0]:.6g}, {f.target.interval[1]:.6g}] "
                    f"- run {f.path.name} ({len(f)} members)")
    for col in ("id", "ops", f"max {unit}", "measured on", "train", "validation", proof.title):
        t.add_column(col, no_wrap=True)
    for m in f:
        checked = proof.value(m)
        t.add_row(str(m.id), f"{m.cost:g}", fmt_error(m.error), m.error_on, fmt_error(m.train.max),
                  fmt_error(m.validation.max if m.validation else None),
                  f"{proof.prefix}{fmt_error(checked)}" if checked is not None else "no")
    console.print(t)
    cut = False
    for m in f:
        head = f"  #{m.id}: "
        room = max(width - len(head), 20)
        text = m.expression if len(m.expression) <= room else m.expression[:room - 1] + "…"
        cut |= text != m.expression
        console.print(head + text, markup=False, highlight=False, soft_wrap=True)
    if cut:
        console.print(f"(expressions cut to fit {width} columns; evo front {run} --id ID shows one whole)",
                      markup=False, highlight=False)
    console.print(f"max {unit}: the best known max error, measured on: {proof.note}; "
                  f"validation = {_n(f)} sampled points; train = the (grown) training set. Sampled figures are "
                  "lower bounds of the true max.")
    if not no_baselines and proof.baselines:
        rows = f.baselines()
        if rows:
            bt = Table(title="classical baselines (same scorer, validation sample)")
            for col in ("name", "ops", "max ulp"):
                bt.add_column(col)
            for r in sorted(rows, key=lambda r: (r.ops, r.max_error)):
                bt.add_row(r.name, f"{r.ops:g}", fmt_error(r.max_error))
            console.print(bt)


def show_member(f: Front, m: Member) -> None:
    """One member whole: its figures and its expression."""
    proof = PROOF[f.platform.display]
    checked = proof.value(m)
    click.echo(f"member      #{m.id} of run {f.path}  ({m.cost:g} {f.cost_kind}, {m.ops} ops; "
               f"parent {m.parent}, {m.mutation})")
    click.echo(f"max {f.unit:<7} {fmt_error(m.error)} (on {m.error_on}); train {fmt_error(m.train.max)}, "
               f"validation {fmt_error(m.validation.max if m.validation else None)}, {proof.title} "
               + (f"{proof.prefix}{fmt_error(checked)}" if checked is not None else "no"))
    click.echo(f"expression  {m.expression}")


def _n(f: Front) -> str:
    sizes = {m.validation.n for m in f if m.validation and m.validation.n}
    return f"{sizes.pop():,}" if len(sizes) == 1 else "16,382"
