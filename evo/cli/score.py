"""evo score PROGRAM.json --target T: error on the validation set (sampled, not exhaustive)."""
from __future__ import annotations

import math

import click

from ..core.ir import render
from ..core.numbers import fmt_error
from ..core.scoring import Scorer
from ..errors import EvoError
from ..platforms import get_platform, legacy_platform
from ._common import load_program, print_json, resolve_target, target_options


@click.command()
@click.argument("program", type=click.Path(dir_okay=False))
@target_options()
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True,
              help="float64: as a reals-mode program (its real-number function, relative error).")
@click.option("--fixed-ulp", type=float, default=None, metavar="REF",
              help="Measure errors in ulp(REF) instead of ulp of the exact value (e.g. 1.5).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the validation points.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def score(program: str, target: str, interval: str | None, dtype: str, fixed_ulp: float | None,
          seed: int, as_json: bool) -> None:
    """Score PROGRAM on the target's validation set (random points, fixed by seed)."""
    if fixed_ulp is not None and not (math.isfinite(fixed_ulp) and fixed_ulp != 0):
        raise EvoError(f"--fixed-ulp must be a finite nonzero number, not {fixed_ulp!r}")
    p = load_program(program)
    t = resolve_target(target, interval)
    platform = get_platform(legacy_platform(dtype))  # --dtype float64: the reals platform
    metric = "fixed" if fixed_ulp is not None else platform.metrics[0]
    scorer = Scorer(t, platform, metric, fixed_ref=1.5 if fixed_ulp is None else fixed_ulp, seed=seed)
    st = scorer.score(p, "validation")
    if as_json:
        d = st.to_dict(scorer.unit)
        d |= {"target": t.to_dict(), "dtype": dtype, "metric": metric, "ops": p.n_ops,
              "exhaustive": False, "sampled_inputs": st.n, "expression": render(p)}
        print_json(d)
        return
    label = {"ulp": "ULP", "fixed": f"ULP of {fixed_ulp}", "relative": "relative error"}[metric]
    click.echo(f"target   {t.expr} on [{t.interval[0]:.9g}, {t.interval[1]:.9g}] ({dtype})")
    click.echo(f"program  {render(p)}  ({p.n_ops} ops)")
    click.echo(f"max      {fmt_error(st.max)} {label} at x = {st.argmax!r}")
    click.echo(f"mean     {fmt_error(st.mean)} {label}")
    click.echo(f"sampled  {st.n} validation points (seed {seed}); use 'evo verify' for an exhaustive check")
