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
from ..errors import EvoError
from ..runs.front import Front, load_front
from ..runs.member import Member
from ._common import print_json


@dataclass(frozen=True)
class ProofColumn:
    """How a platform's proven figure is shown (by Platform.display)."""

    title: str
    show: Callable[[Member], str]     # the cell: the figure, or "no"
    note: str
    baselines: bool     # whether the classical baselines are listed below


def _exhaustive(m: Member) -> str:
    return f"yes: {fmt_error(m.exhaustive_max)}" if m.exhaustive else "no"


def _certified(m: Member) -> str:
    return f"<= {fmt_error(m.certified_max_rel)}" if m.certified_max_rel else "no"


def _misrounded(m: Member) -> str:
    e = m.exhaustive
    return f"{e['not_correctly_rounded']:,} of {e['inputs']:,}" if e else "no"


PROOF = {
    "ulp": ProofColumn("exhaustive?", _exhaustive, "", True),
    "digits": ProofColumn("certified bound", _certified, "certified bound = proven on every real x of the interval "
                          "(interval arithmetic, evo verify --reals)", False),
    "rounding": ProofColumn("misrounded", _misrounded, "misrounded = results not correctly rounded, counted on "
                            "every input (exhaustive)", True),
}


def write_plot(f: Front, path: str, baselines: bool) -> None:
    """The front plot as a PNG, and one line saying so."""
    try:
        f.plot(baselines=baselines).savefig(Path(path), dpi=110, format="png")
    except OSError as e:
        raise EvoError(f"{path}: cannot write: {e.strerror or e}") from None
    click.echo(f"wrote {path} (front plot: {len(f)} member{'s' if len(f) != 1 else ''}{', baselines' if baselines else ''})", err=True)


@click.command()
@click.argument("run", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the front as a JSON list (with --id: that member).")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Write the front plot (PNG) here (instead of the table; with --json or --id, beside it).")
@click.option("--no-baselines", is_flag=True, help="Do not list the classical baselines.")
@click.option("--id", "member_id", metavar="K", help="Show front member K whole (its expression is not cut).")
def front(run: str, as_json: bool, plot: str | None, no_baselines: bool, member_id: str | None) -> None:
    """Show the Pareto front of RUN (each error labelled: exhaustive, validation or train)."""
    f = load_front(run)
    if plot:
        write_plot(f, plot, baselines=not no_baselines)
        if member_id is None and not as_json:
            return  # the plot was asked for; the table is `evo front RUN`
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
    t = Table(title=f"{f.target.expr} on [{f.target.interval[0]:.8g}, {f.target.interval[1]:.8g}] "
                    f"- run {f.path.name} ({len(f)} members)")
    for col in ("id", "ops", f"max {unit}", "measured on", "train", "validation", proof.title):
        t.add_column(col, no_wrap=True)
    for m in f:
        t.add_row(str(m.id), f"{m.cost:g}", fmt_error(m.error), m.error_on, fmt_error(m.train.max),
                  fmt_error(m.validation.max if m.validation else None), proof.show(m))
    console.print(t)
    cut = False
    for m in f:
        head = f"  #{m.id}: "
        room = max(width - len(head), 20)
        text = m.expression if len(m.expression) <= room else m.expression[:room - 1] + "…"
        cut |= text != m.expression
        console.print(head + text, markup=False, highlight=False, soft_wrap=True)
    if cut:
        console.print(f"(expressions cut to fit {width} columns; --id ID shows one whole)",
                      markup=False, highlight=False)
    what = (f"the largest distance of a float32 result from the correctly rounded {f.platform.output_format} value "
            f"in its ulps (under 0.5: correctly rounded)" if f.platform.output_format else "the best known max error")
    # one line, however long: the terminal wraps it, and a search for a phrase finds it whole
    click.echo(f"max {unit}: {what}, measured on: exhaustive = {f.platform.exhaustive_over}; "
               f"validation = {_n(f)} {_sampled(f)}; train = the (grown) training set. Sampled figures are "
               "lower bounds of the true max." + (f" {proof.note[0].upper() + proof.note[1:]}." if proof.note else ""))
    if not no_baselines and proof.baselines:
        rows = f.baselines()
        if rows:
            bt = Table(title="classical baselines (same scorer; measured on: exhaustive where checked by "
                             f"`evo baselines --verify`, else validation {_sampled(f)})")
            for col in ("name", "ops", f"max {unit}", "measured on"):
                bt.add_column(col)
            for r in sorted(rows, key=lambda r: (r.ops, r.max_error)):
                bt.add_row(r.name, f"{r.ops:g}", fmt_error(r.max_error), r.error_on)
            console.print(bt)


def show_member(f: Front, m: Member) -> None:
    """One member whole: its figures and its expression."""
    proof = PROOF[f.platform.display]
    click.echo(f"member      #{m.id} of run {f.path}  ({m.cost:g} {f.cost_kind}, {m.ops} ops; "
               f"parent {m.parent}, {m.mutation})")
    click.echo(f"max {f.unit:<7} {fmt_error(m.error)} (on {m.error_on}); train {fmt_error(m.train.max)}, "
               f"validation {fmt_error(m.validation.max if m.validation else None)}, {proof.title} {proof.show(m)}")
    click.echo(f"expression  {m.expression}")


def _sampled(f: Front) -> str:
    """What the validation set is: with a small input format, every input (not a sample)."""
    return f"(every {f.platform.input_format} input)" if f.platform.input_format else "sampled points"


def _n(f: Front) -> str:
    sizes = {m.validation.n for m in f if m.validation and m.validation.n}
    return f"{sizes.pop():,}" if len(sizes) == 1 else "16,382"
