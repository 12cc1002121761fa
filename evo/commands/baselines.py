"""evo baselines TARGET: Taylor, minimax, Padé and rational minimax as float32 programs, scored alike."""
from __future__ import annotations

import click

from ..baselines import FORMS, KINDS, baselines as build_baselines, parse_degrees
from ..errors import EvoError
from ..scoring import Scorer
from ._common import fmt_ulp, print_json, resolve_target


def _parse_list(text: str, known: tuple[str, ...], what: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise EvoError(f"--{what} is empty (known: {', '.join(known)})")
    for s in items:
        if s not in known:
            raise EvoError(f"unknown {what[:-1]} {s!r} (known: {', '.join(known)})")
    return items


@click.command()
@click.argument("target", metavar="TARGET")
@click.option("--interval", metavar="A,B", help="Interval (default: the target's own).")
@click.option("--degrees", default="2-8", show_default=True, metavar="LO-HI",
              help="Degrees: a range LO-HI, one degree, or a comma list (rationals: numerator + denominator).")
@click.option("--kinds", default=",".join(KINDS), show_default=True, help="Comma list of kinds.")
@click.option("--forms", default=",".join(FORMS), show_default=True,
              help="horner: mul then add (two roundings a step); fma: one fma a step.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the validation points.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per baseline.")
def baselines(target: str, interval: str | None, degrees: str, kinds: str, forms: str, seed: int,
              as_json: bool) -> None:
    """Classical approximations of TARGET (a name or an mpmath expression in x), as float32
    Horner and fma programs with float32 coefficients, scored on the validation set."""
    degs = parse_degrees(degrees)
    kind_list = _parse_list(kinds, KINDS, "kinds")
    form_list = _parse_list(forms, FORMS, "forms")
    t = resolve_target(target, interval)
    scorer = Scorer(t, seed=seed)
    skipped: list[tuple[str, str]] = []
    rows = build_baselines(t, degs, kind_list, form_list, scorer, on_skip=lambda n, why: skipped.append((n, why)))
    n_points = int(scorer.validation.x.size)
    if as_json:
        print_json([b.to_dict() | {"target": t.to_dict()} for b in rows])
        for name, why in skipped:
            click.echo(f"evo: note: {name} skipped: {why}", err=True)
        return

    from rich.console import Console
    from rich.table import Table

    lo, hi = t.interval
    table = Table(title=f"{t.expr} on [{lo:.9g}, {hi:.9g}], float32 coefficients")
    table.add_column("name")
    table.add_column("ops", justify="right")
    table.add_column("max ULP", justify="right")
    table.add_column("mean ULP", justify="right")
    table.add_column("exact-arith. err", justify="right", style="dim")
    for b in rows:
        ap = b.approximation
        err = f"{ap.error:.2e}" + ("" if ap.weight == "relative" else " abs")
        table.add_row(b.name, str(b.ops), fmt_ulp(b.max_ulp), fmt_ulp(b.mean_ulp), err)
    console = Console(width=max(100, Console().width))
    console.print(table)
    console.print(f"max/mean ULP: on the validation sample, {n_points:,} random float32 inputs (seed {seed}), "
                  f"not exhaustive (check one with 'evo verify')")
    console.print("exact-arith. err: max relative error of the approximation before float32 rounding",
                  style="dim")
    for name, why in skipped:
        console.print(f"skipped {name}: {why}")
