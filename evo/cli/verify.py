"""evo verify: every float32 input of an interval (or all 2^32 with --full-range), for a
program, a C file (--c FILE.c --symbol FN) or a shared-library symbol (--lib L --symbol S)."""
from __future__ import annotations

import click
import numpy as np

from targets import Target

from .. import api
from ..core.numbers import digits, fmt_error
from ..core.progress import progress_bar
from ..errors import EvoError
from ..verification.functions import FULL_RANGE_NOTE, json_num
from ..verification.result import VerifyResult
from ._common import load_program, print_json, resolve_target, target_options


def print_result(r: VerifyResult, what: str, full_range: bool = False) -> None:
    click.echo(f"verified    {what}")
    if full_range:
        click.echo(f"inputs      {r.inputs:,} float32 bit patterns: every input (NaNs, infinities, -0 included)")
    else:
        click.echo(f"inputs      {r.inputs:,} float32 in [{r.interval[0]!r}, {r.interval[1]!r}] (exhaustive)")
    click.echo(f"max ulp     {fmt_error(r.max_ulp)} at x = {r.argmax!r}")
    click.echo(f"mean ulp    {fmt_error(r.mean_ulp)}")
    click.echo(f"not correctly rounded  {r.not_correctly_rounded:,} ({100.0 * r.not_correctly_rounded / max(r.inputs, 1):.3g}%)")
    click.echo(f"reference   {r.reference}" + (f"; {FULL_RANGE_NOTE}" if full_range else ""))
    if r.cross_checked:
        click.echo(f"backend     LLVM JIT, bit-exact with the interpreter on {r.cross_checked:,} cross-checked inputs")
    if r.computed_by:
        click.echo(f"computed by {r.computed_by}")
    if r.subnormal_results:
        click.echo(f"subnormal   {r.subnormal_results:,} results are subnormal, {r.flushed_to_zero:,} of them came out 0; "
                   f"max ulp over the other results {fmt_error(r.max_ulp_normal)} at x = {r.argmax_normal!r}")
    click.echo(f"elapsed     {r.seconds:.1f} s")


@click.command()
@click.argument("program", required=False, type=click.Path(dir_okay=False))
@target_options()
@click.option("--c", "c_file", type=click.Path(dir_okay=False), metavar="FILE.c",
              help="Verify a C function: compiled with gcc -O3 -march=native -std=c99.")
@click.option("--lib", "library", metavar="LIBRARY", help="Verify a shared-library symbol (libm.so.6, or a path).")
@click.option("--jax", "jax_file", type=click.Path(dir_okay=False), metavar="FILE.py",
              help="Verify a JAX function of a Python module (a native JAX export), as jax.jit compiles it.")
@click.option("--symbol", metavar="NAME", help="The function for --c / --lib (`float NAME(float)`) or --jax.")
@click.option("--full-range", is_flag=True,
              help="Every float32 input (all 2^32). A PROGRAM is checked as its full-range C export.")
@click.option("--reals", is_flag=True,
              help="Reals mode: prove a bound on the max relative error of PROGRAM's real-number function "
                   "over the whole interval (interval arithmetic); exit 1 if it cannot be certified.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def verify(program: str | None, target: str, interval: str | None, c_file: str | None, library: str | None,
           jax_file: str | None, symbol: str | None, full_range: bool, reals: bool, as_json: bool,
           quiet: bool) -> None:
    """Check PROGRAM, --c FILE.c --symbol FN, --lib LIBRARY --symbol NAME or --jax FILE.py
    --symbol NAME on every float32 input of the interval (or every float32 input with --full-range)."""
    given = [n for n, v in (("PROGRAM", program), ("--c", c_file), ("--lib", library), ("--jax", jax_file)) if v]
    if not given:
        raise EvoError("give a PROGRAM.json to verify")
    if len(given) > 1:
        raise EvoError(f"give only one of PROGRAM.json, --c FILE.c, --lib LIBRARY, --jax FILE.py "
                       f"(got {', '.join(given)})")
    if program is None and not symbol:
        raise EvoError(f"{given[0]} needs --symbol NAME")
    if program is not None and symbol:
        raise EvoError("--symbol goes with --c, --lib or --jax")
    if reals:
        if program is None or full_range:
            raise EvoError("--reals certifies a PROGRAM.json on its interval (not --c, --lib, --jax or --full-range)")
        certify_reals(load_program(program), resolve_target(target, interval), program, as_json, quiet)
        return
    t = resolve_target(target, interval)
    a, b = (-0x7FFFFFFF, 0x7FFFFFFF) if full_range else t.f32_inputs()
    with progress_bar("verifying", b - a + 1, enabled=not quiet) as update:
        if program is not None:  # full range: the program's C export is what is checked
            r = api.verify(load_program(program), t, full_range=full_range, progress=update)
            what = f"{program} (full-range C export) against {t.expr}" if full_range else f"{program} against {t.expr}"
        elif c_file is not None:
            r = api.verify_c(c_file, symbol, t, interval if full_range else None, full_range, update)
            what = f"{symbol} in {c_file} against {t.expr}"
        elif jax_file is not None:
            r = api.verify_jax(jax_file, symbol, t, interval if full_range else None, full_range, update)
            what = f"{symbol} in {jax_file} (jax.jit) against {t.expr}"
        else:
            r = api.verify_library(library, symbol, t, interval if full_range else None, full_range, update)
            what = f"{symbol} in {library} against {t.expr}"
    if as_json:
        d = r.to_dict() | {"target": t.to_dict()}
        if r.special_values or full_range:
            d |= {"symbol": symbol or "evo_full_range", "full_range": full_range}
            d["argmax"] = json_num(r.argmax)
            if full_range:
                d["interval"] = None
        print_json(d)
        return
    print_result(r, what, full_range)
    if r.special_values:
        print_table(r.special_values)


def print_table(rows: list[dict]) -> None:
    click.echo("special values (expected = float64 reference rounded to float32):")
    click.echo(f"  {'x':>16} {'expected':>16} {'got':>16}  ulp")
    for row in rows:
        flag = "same" if row["same"] else ("DIFFERS" if row["ulp"] != 0 else "differs in sign")
        ulp = row["ulp"] if isinstance(row["ulp"], str) else fmt_error(row["ulp"])
        click.echo(f"  {_fmt(row['x']):>16} {_fmt(row['expected']):>16} {_fmt(row['got']):>16}  {ulp:<6} {flag}")


def _fmt(v: float | str) -> str:
    if isinstance(v, str):
        return v
    return f"{np.float32(v)!r}".removeprefix("np.float32(").removesuffix(")")


def certify_reals(p, t: Target, what: str, as_json: bool, quiet: bool) -> None:
    """`evo verify P.json -t T --reals`: the certificate (evo.reals.certify); exit 1 when not certified."""
    import sys

    with progress_bar("certifying (pieces)", 1, enabled=not quiet) as update:
        c = api.certify(p, t, progress=(lambda done, total: update(done, total)) if update else None)
    if as_json:
        print_json(c.to_dict() | {"target": t.to_dict(), "program": what})
    else:
        lo, hi = c.interval
        click.echo(f"certified   {what} against {t.expr} on [{lo!r}, {hi!r}]: "
                   + ("yes" if c.ok else "NO"))
        if c.ok:
            click.echo(f"bound       max relative error <= {c.bound:.6g}  ({c.digits:.2f} significant digits), "
                       f"proven on {c.pieces} pieces")
        else:
            click.echo(f"reason      {c.reason}")
        click.echo(f"sampled     max relative error {c.sampled_max:.6g} at x = {c.argmax!r} "
                   f"({digits(c.sampled_max):.2f} digits; {c.sample_points:,} points, peaks refined in mpmath)")
        if c.ok:
            click.echo(f"tightness   bound / sampled max = {c.bound / c.sampled_max:.4f}" if c.sampled_max else "")
        if c.float64_sampled_max is not None:
            click.echo(f"float64     the program run in float64 (exported code): max relative error "
                       f"{c.float64_sampled_max:.6g} on the sample (rounding included; not certified)")
        click.echo(f"what        {c.what}")
        click.echo(f"elapsed     {c.seconds:.1f} s")
    if not c.ok:
        sys.exit(1)
