"""evo baselines TARGET: Taylor, minimax, Padé and rational minimax as float32 programs, scored alike."""
from __future__ import annotations

import click

from ..classical.baselines import FORMS, KINDS, checked, parse_degrees
from ..classical.baselines import baselines as build_baselines
from ..core.numbers import fmt_error
from ..core.progress import progress_bar
from ..core.scoring import Scorer
from ..errors import EvoError
from ..platforms import FLOAT32, REALS
from ._common import print_json, resolve_target


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
@click.option("--reals", is_flag=True,
              help="Reals mode: each form's real-number optimum (mpmath; Remez for minimax) with float64 "
                   "coefficients, Horner in x, as significant digits against ops (2 to --max-ops).")
@click.option("--max-ops", type=int, default=14, show_default=True, help="--reals: largest op count.")
@click.option("--verify", is_flag=True,
              help="Check each one on every float32 of the interval (cached by program and target: "
                   "`evo front` and the plots then show these exhaustive figures too).")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per baseline.")
def baselines(target: str, interval: str | None, degrees: str, kinds: str, forms: str, seed: int,
              reals: bool, max_ops: int, verify: bool, quiet: bool, as_json: bool) -> None:
    """Classical approximations of TARGET (a name or an mpmath expression in x), as float32
    Horner and fma programs with float32 coefficients, scored on the validation set
    (--reals: as real-number programs, digits against ops)."""
    if reals:
        if not 2 <= max_ops <= 2 * 20:
            raise EvoError(f"--max-ops must be between 2 and 40, got {max_ops}")
        reals_table(resolve_target(target, interval), max_ops, as_json)
        return
    degs = parse_degrees(degrees)
    kind_list = _parse_list(kinds, KINDS, "kinds")
    form_list = _parse_list(forms, FORMS, "forms")
    t = resolve_target(target, interval)
    scorer = Scorer(t, FLOAT32, seed=seed)
    skipped: list[tuple[str, str]] = []
    rows = build_baselines(t, scorer, degs, kind_list, form_list, on_skip=lambda n, why: skipped.append((n, why)))
    if verify:
        from ..verification.fused import verify_program

        with progress_bar("verifying the baselines", len(rows), enabled=not quiet) as update:
            rows = checked(rows, t, verify_program, FLOAT32.name, "all", update)
    n_points = int(scorer.validation.x.size)
    if as_json:
        _print_rows(rows, t, skipped)
        return

    from rich.console import Console
    from rich.table import Table

    lo, hi = t.interval
    table = Table(title=f"{t.expr} on [{lo:.9g}, {hi:.9g}], float32 coefficients")
    table.add_column("name")
    table.add_column("ops", justify="right")
    table.add_column("max ULP", justify="right")
    table.add_column("on", justify="left")
    table.add_column("mean ULP", justify="right")
    table.add_column("exact-arith. err", justify="right", style="dim")
    for b in rows:
        ap = b.approximation
        err = f"{ap.error:.2e}" + ("" if ap.weight == "relative" else " abs")
        table.add_row(b.name, str(b.ops), fmt_error(b.max_error), b.error_on, fmt_error(b.mean_error), err)
    console = Console(width=max(100, Console().width))
    console.print(table)
    if verify:
        console.print("max/mean ULP: on every float32 of the interval (exhaustive, as front members are verified)")
    else:
        console.print(f"max/mean ULP: on the validation sample, {n_points:,} random float32 inputs (seed {seed}), "
                      f"not exhaustive (--verify checks every float32, as front members are)")
    console.print("exact-arith. err: max relative error of the approximation before float32 rounding",
                  style="dim")
    for name, why in skipped:
        console.print(f"skipped {name}: {why}")


def _print_rows(rows: list, t, skipped: list[tuple[str, str]]) -> None:
    """--json: one object per baseline, with its target; skipped ones noted on stderr."""
    print_json([r.to_dict() | {"target": t.to_dict()} for r in rows])
    for name, why in skipped:
        click.echo(f"evo: note: {name} skipped: {why}", err=True)


def reals_table(t, max_ops: int, as_json: bool) -> None:
    """`evo baselines T --reals`: every kind, digits against ops, and the best per op count."""
    from ..reals.baselines import best_per_ops

    skipped: list[tuple[str, str]] = []
    rows = REALS.baselines(t, max_ops, on_skip=lambda n, why: skipped.append((n, why)))
    if as_json:
        _print_rows(rows, t, skipped)
        return
    from rich.console import Console
    from rich.table import Table

    lo, hi = t.interval
    kinds = sorted({r.kind for r in rows}, key=lambda k: [r.kind for r in rows].index(k))
    table = Table(title=f"{t.expr} on [{lo:.9g}, {hi:.9g}], reals: significant digits (-log10 max relative error)")
    table.add_column("ops", justify="right")
    for k in kinds:
        table.add_column(k, justify="right")
    table.add_column("best", justify="right")
    best = best_per_ops(rows, max_ops)
    for ops in range(2, max_ops + 1):
        cells = []
        for k in kinds:
            r = next((r for r in rows if r.kind == k and r.ops == ops), None)
            cells.append(f"{r.digits:.2f}" if r else "")
        b = best.get(ops)
        table.add_row(str(ops), *cells, f"{b.digits:.2f} {b.name}" if b else "-")
    console = Console(width=max(120, Console().width))
    console.print(table)
    console.print("Columns: the form with that many ops (degree d: 2d ops; rational m/n: 2(m + n) ops). "
                  "Each form's real-number optimum (mpmath at >= 128 bits; Remez for minimax and rational) with its "
                  "coefficients rounded to float64, written in x; Taylor and Padé expand at the interval's middle "
                  "(or at a zero of f). Errors: max over 4,001 evenly spaced points, top peaks refined in mpmath. "
                  "best: the best form with at most that many ops.", style="dim")
    for name, why in skipped:
        console.print(f"skipped {name}: {why}")
