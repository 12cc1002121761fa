"""evo verify: every float32 input of an interval (or all 2^32 with --full-range), for a
program, a C file (--c FILE.c --symbol FN) or a shared-library symbol (--lib L --symbol S)."""
from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import click
import numpy as np

from targets import Target

from ..errors import EvoError
from ..progress import progress_bar
from ..verify import VerifyResult, exhaustive, verify_program
from ._common import fmt_ulp, load_program, print_json, resolve_target, target_options

ALL_ORDINALS = (-0x7FFFFFFF, 0x7FFFFFFF)  # every bit pattern but -0.0 (ordinal 0 is +0.0)
FULL_RANGE_NOTE = ("float32 results beyond the float32 range count as +-inf (exp2(200) is +inf): "
                   "inf there has error 0, a finite result is measured in ulp of the float64 value")


def print_result(r: VerifyResult, what: str, full_range: bool = False) -> None:
    click.echo(f"verified    {what}")
    if full_range:
        click.echo(f"inputs      {r.inputs:,} float32 bit patterns: every input (NaNs, infinities, -0 included)")
    else:
        click.echo(f"inputs      {r.inputs:,} float32 in [{r.interval[0]!r}, {r.interval[1]!r}] (exhaustive)")
    click.echo(f"max ulp     {fmt_ulp(r.max_ulp)} at x = {r.argmax!r}")
    click.echo(f"mean ulp    {fmt_ulp(r.mean_ulp)}")
    click.echo(f"not correctly rounded  {r.not_correctly_rounded:,} ({100.0 * r.not_correctly_rounded / max(r.inputs, 1):.3g}%)")
    click.echo(f"reference   {r.reference}" + (f"; {FULL_RANGE_NOTE}" if full_range else ""))
    if r.cross_checked:
        click.echo(f"backend     LLVM JIT, bit-exact with the interpreter on {r.cross_checked:,} cross-checked inputs")
    click.echo(f"elapsed     {r.seconds:.1f} s")


@click.command()
@click.argument("program", required=False, type=click.Path(dir_okay=False))
@target_options()
@click.option("--c", "c_file", type=click.Path(dir_okay=False), metavar="FILE.c",
              help="Verify a C function: compiled with gcc -O3 -march=native -std=c99.")
@click.option("--lib", "library", metavar="LIBRARY", help="Verify a shared-library symbol (libm.so.6, or a path).")
@click.option("--symbol", metavar="NAME", help="The `float NAME(float)` function for --c / --lib.")
@click.option("--full-range", is_flag=True,
              help="Every float32 input (all 2^32). A PROGRAM is checked as its full-range C export.")
@click.option("--reals", is_flag=True,
              help="Reals mode: prove a bound on the max relative error of PROGRAM's real-number function "
                   "over the whole interval (interval arithmetic); exit 1 if it cannot be certified.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def verify(program: str | None, target: str, interval: str | None, c_file: str | None, library: str | None,
           symbol: str | None, full_range: bool, reals: bool, as_json: bool, quiet: bool) -> None:
    """Check PROGRAM, --c FILE.c --symbol FN, or --lib LIBRARY --symbol NAME on every float32
    input of the interval (or every float32 input with --full-range)."""
    given = [n for n, v in (("PROGRAM", program), ("--c", c_file), ("--lib", library)) if v]
    if not given:
        raise EvoError("give a PROGRAM.json to verify")
    if len(given) > 1:
        raise EvoError(f"give only one of PROGRAM.json, --c FILE.c, --lib LIBRARY (got {', '.join(given)})")
    if program is None and not symbol:
        raise EvoError(f"{given[0]} needs --symbol NAME")
    if program is not None and symbol:
        raise EvoError("--symbol goes with --c or --lib")
    if reals:
        if program is None or full_range:
            raise EvoError("--reals certifies a PROGRAM.json on its interval (not --c, --lib or --full-range)")
        certify_reals(load_program(program), resolve_target(target, interval), program, as_json, quiet)
        return
    t = resolve_target(target, interval)
    if full_range and interval and program is None:  # (a program's interval picks its wrapper)
        raise EvoError("--full-range checks every float32 input: leave out --interval")

    if program is not None and not full_range:
        p = load_program(program)
        a, b = t.f32_inputs()
        with progress_bar("verifying", b - a + 1, enabled=not quiet) as update:
            r = verify_program(p, t, progress=update)
        if as_json:
            print_json(r.to_dict() | {"target": t.to_dict()})
        else:
            print_result(r, f"{program} against {t.expr}")
        return

    from ..export.native import load_c, load_library

    with tempfile.TemporaryDirectory(prefix="evo-verify-") as tmp:
        if program is not None:  # full range: the program's C export is what is checked
            from ..export import export_source

            path = Path(tmp) / "full_range.c"
            path.write_text(export_source(load_program(program), t, "c", full_range=True, name="evo_full_range"))
            fn, what = load_c(path, "evo_full_range"), f"{program} (full-range C export) against {t.expr}"
        elif c_file is not None:
            fn, what = load_c(c_file, symbol), f"{symbol} in {c_file} against {t.expr}"
        else:
            fn, what = load_library(library, symbol), f"{symbol} in {library} against {t.expr}"
        r, table = check_function(fn, t, full_range, quiet)
    if as_json:
        d = r.to_dict() | {"target": t.to_dict(), "symbol": symbol or "evo_full_range", "full_range": full_range,
                           "special_values": table}
        d["argmax"] = _json_num(r.argmax)
        if full_range:
            d["interval"] = None
        print_json(d)
        return
    print_result(r, what, full_range)
    print_table(table)


def check_function(fn, t: Target, full_range: bool, quiet: bool = True) -> tuple[VerifyResult, list[dict]]:
    """Exhaustive check of a float32 function (the interval, or every input) and its
    special-value table."""
    from ..fullrange import special_inputs

    a, b = ALL_ORDINALS if full_range else t.f32_inputs()
    with progress_bar("verifying", b - a + 1, enabled=not quiet) as update:
        r = exhaustive(fn, t, ordinals=(a, b), progress=update)
    if full_range:
        r = _with_negative_zero(r, fn, t)
        xs = special_inputs(t)
    else:
        lo, hi = t.interval
        xs = np.array([v for v in special_inputs(t) if lo <= v <= hi] + [lo, hi], np.float32)
    return r, special_table(fn, t, xs)


def _with_negative_zero(r: VerifyResult, fn, t: Target) -> VerifyResult:
    """Ordinals cover every bit pattern but -0.0: check it too."""
    z = exhaustive(lambda x: fn(np.negative(x)), t, ordinals=(0, 0), reference=lambda x: t.f64(np.negative(x)),
                   threads=1)
    worse = z.max_ulp > r.max_ulp
    return dataclasses.replace(r, max_ulp=max(r.max_ulp, z.max_ulp), argmax=-0.0 if worse else r.argmax,
                               mean_ulp=(r.mean_ulp * r.inputs + z.mean_ulp) / (r.inputs + 1),
                               not_correctly_rounded=r.not_correctly_rounded + z.not_correctly_rounded,
                               inputs=r.inputs + 1, interval=(-math.inf, math.inf))


def special_table(fn, t: Target, xs: np.ndarray) -> list[dict]:
    """Expected (the float64 reference rounded to float32) vs got, per special input."""
    from ..fullrange import expected
    from ..verify import _error_ulp

    xs = np.asarray(xs, np.float32)
    got = np.asarray(fn(xs), np.float32)
    want = expected(t, xs)
    with np.errstate(all="ignore"):
        ref = np.asarray(t.f64(xs.astype(np.float64)), np.float64)
    err = _error_ulp(got, ref, np.empty(xs.size), np.empty(xs.size))
    rows = []
    for x, w, g, e, rf in zip(xs, want, got, err, ref):
        same = w.view(np.uint32) == g.view(np.uint32) or (np.isnan(w) and np.isnan(g))
        if not np.isfinite(w) and not same:
            e = math.inf
        elif not np.isfinite(w) or (not np.isfinite(rf) and same):
            e = 0.0
        rows.append({"x": _json_num(float(x)), "expected": _json_num(float(w)), "got": _json_num(float(g)),
                     "ulp": _json_num(float(e)), "same": bool(same)})
    return rows


def _json_num(v: float) -> float | str:
    """JSON has no NaN / inf / -0: write those as strings."""
    if math.isnan(v) or math.isinf(v) or (v == 0 and math.copysign(1, v) < 0):
        return repr(v)
    return v


def print_table(rows: list[dict]) -> None:
    click.echo("special values (expected = float64 reference rounded to float32):")
    click.echo(f"  {'x':>16} {'expected':>16} {'got':>16}  ulp")
    for row in rows:
        flag = "same" if row["same"] else ("DIFFERS" if row["ulp"] != 0 else "differs in sign")
        ulp = row["ulp"] if isinstance(row["ulp"], str) else fmt_ulp(row["ulp"])
        click.echo(f"  {_fmt(row['x']):>16} {_fmt(row['expected']):>16} {_fmt(row['got']):>16}  {ulp:<6} {flag}")


def _fmt(v: float | str) -> str:
    if isinstance(v, str):
        return v
    return f"{np.float32(v)!r}".removeprefix("np.float32(").removesuffix(")")


def certify_reals(p, t: Target, what: str, as_json: bool, quiet: bool) -> None:
    """`evo verify P.json -t T --reals`: the certificate (evo.certify); exit 1 when not certified."""
    import sys

    from ..certify import certify
    from ..reals import digits

    with progress_bar("certifying (pieces)", 1, enabled=not quiet) as update:
        c = certify(p, t, progress=(lambda done, total: update(done, total)) if update else None)
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
