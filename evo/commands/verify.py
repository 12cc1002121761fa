"""evo verify: every float32 input of an interval, for a program (or, see export, C / a library symbol)."""
from __future__ import annotations

import click

from ..errors import EvoError
from ..progress import progress_bar
from ..verify import VerifyResult, verify_program
from ._common import fmt_ulp, load_program, print_json, resolve_target, target_options


def print_result(r: VerifyResult, what: str) -> None:
    click.echo(f"verified    {what}")
    click.echo(f"inputs      {r.inputs:,} float32 in [{r.interval[0]!r}, {r.interval[1]!r}] (exhaustive)")
    click.echo(f"max ulp     {fmt_ulp(r.max_ulp)} at x = {r.argmax!r}")
    click.echo(f"mean ulp    {fmt_ulp(r.mean_ulp)}")
    click.echo(f"not correctly rounded  {r.not_correctly_rounded:,} ({100.0 * r.not_correctly_rounded / max(r.inputs, 1):.3g}%)")
    click.echo(f"reference   {r.reference}")
    if r.cross_checked:
        click.echo(f"backend     LLVM JIT, bit-exact with the interpreter on {r.cross_checked:,} cross-checked inputs")
    click.echo(f"elapsed     {r.seconds:.1f} s")


@click.command()
@click.argument("program", required=False, type=click.Path(dir_okay=False))
@target_options()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def verify(program: str | None, target: str, interval: str | None, as_json: bool, quiet: bool) -> None:
    """Check PROGRAM on every float32 input of the interval."""
    if program is None:
        raise EvoError("give a PROGRAM.json to verify")
    p = load_program(program)
    t = resolve_target(target, interval)
    a, b = t.f32_inputs()
    with progress_bar("verifying", b - a + 1, enabled=not quiet) as update:
        r = verify_program(p, t, progress=update)
    if as_json:
        print_json(r.to_dict() | {"target": t.to_dict()})
    else:
        print_result(r, f"{program} against {t.expr}")
