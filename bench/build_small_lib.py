"""Build the bfloat16 functions of the ready library (evo.lib.jax.bfloat16) from the fronts
kept in bench/kernels/, and measure them.
For each format and function (exp2, exp): the front's members, cheapest first; each kernel's
constants are fitted to the wrapper's rounding intervals (evo.lib.small.fit_small) and the
JAX function is run under jax.jit on all 65,536 inputs of the format; the first with no
misrounded result is kept. Writes evo/lib/jax/bfloat16.py and
evo/lib/small_kernels.json, and prints the table of the README (with jax's built-ins
checked the same way, on every input).

    python bench/build_small_lib.py            # about a minute on 2 cores
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evo.codegen.small_native import FUNCTIONS, SmallFunction  # noqa: E402
from evo.core.ir import Builder, Program, render, to_dict  # noqa: E402
from evo.lib.small import check, check_c, fit_small, small_catalog, small_files, write_catalog  # noqa: E402
from evo.runs.front import load_front  # noqa: E402

_EXP2 = ("bench/kernels/exp2-bf16-front",
         "evo search exp2 --interval=-0.5,0.5 --format bfloat16 --budget 3m --workers 0 --verify-below 0.7")
_LOG2 = ("bench/kernels/log2-bf16-front",
         "evo search log2 --interval 0.7071068,1.4142136 --format bfloat16 --budget 3m --workers 0 --verify-below 0.7")
# (format, function) -> where its kernel is taken from: a kept front (exp's and log's
# constants are fitted afresh from exp2's and log2's kernels) or a stand-in
FRONTS = {("bfloat16", "exp2"): _EXP2, ("bfloat16", "exp"): _EXP2, ("bfloat16", "log2"): _LOG2,
          ("bfloat16", "log"): _LOG2, ("bfloat16", "sigmoid"): _EXP2, ("bfloat16", "tanh"): _EXP2,
          ("float16", "log2"): _LOG2, ("float16", "log"): _LOG2}
# float16 tanh: not built. (1 - E) / (1 + E) for small |x| carries E's own float32 rounding
# (~3e-8) into a result of ~0.03 where float16's hardest inputs need ~1e-9: the Horner quintic
# and sextic leave 20-26 of 65,536 misrounded; it needs an odd kernel x + x P(x^2) near 0.


def _horner5() -> Program:
    b = Builder()
    return b.program(b.horner([math.log(2) ** k / math.factorial(k) for k in range(6)], 0))


# float16's exps: the float16 searches (4 and 10 minutes, `--format float16 --interval=-0.5,0.5`)
# found no kernel under 6 ops whose fit rounds every input (their 4-op Horner quartic leaves
# 11 reduced arguments misrounded), so a STAND-IN structure, written by hand: the Horner quintic
# (5 fmas), its constants fitted by evo (the Taylor coefficients are only the start)
STANDINS = {("float16", fn): ("STAND-IN: Horner quintic, written by hand", _horner5())
            for fn in ("exp2", "exp", "sigmoid")}


def candidates(fmt: str, function: str):
    """(label, member id or None, program, origin) cheapest first."""
    if (fmt, function) in STANDINS:
        label, p = STANDINS[fmt, function]
        yield label, None, p, {"member": None, "ops": p.n_ops, "front": None, "found_by": label}
    if (fmt, function) in FRONTS:
        where, found_by = FRONTS[fmt, function]
        for m in sorted(load_front(ROOT / where), key=lambda m: (m.cost, m.id)):
            yield (f"{where} #{m.id}, {m.ops} ops, found by `{found_by}`", m.id, m.program,
                   {"member": m.id, "ops": m.ops, "front": where, "found_by": found_by})


def first_correct(fmt: str, function: str) -> tuple[SmallFunction, object, dict] | None:
    """The cheapest candidate whose fit rounds every input correctly: first by the kernel
    alone, then allowing up to 6 hard cases (each a select on the reduced argument) and up to
    4 hard inputs (a select on the input: misrounded by the float32 steps after the kernel)."""
    for hard in (0, 6):
        for label, mid, p, origin in candidates(fmt, function):
            fitted, dist = fit_small(SmallFunction(function, fmt, p, label), max_exceptions=hard)
            result = check(fitted)
            if hard and 0 < result.misrounded <= 4 and all(abs(x) >= 2.0 ** -126 for x, _, _ in result.worst):
                fitted = replace(fitted, fixes=tuple((x, c) for x, _, c in result.worst))
                result = check(fitted)
            print(f"  {fmt} {function}: {label.split(',')[0]} ({p.n_ops} ops, {len(fitted.exceptions)} hard cases, "
                  f"{len(fitted.fixes)} hard inputs) kernel distance {dist:.4f}, {result.misrounded} misrounded "
                  f"of {result.inputs:,}", flush=True)
            if result.misrounded == 0:
                return fitted, result, {**origin, "hard_cases": len(fitted.exceptions)}
    return None


def main() -> None:
    t0 = time.perf_counter()
    entries, modules = [], {}
    for fmt in dict.fromkeys(f for f, _ in [*FRONTS, *STANDINS]):
        kept = []
        for function in FUNCTIONS:
            if (fmt, function) not in FRONTS and (fmt, function) not in STANDINS:
                continue
            got = first_correct(fmt, function)
            if got is None:
                print(f"  {fmt} {function}: no member of the front rounds every input correctly", flush=True)
                continue
            fn, result, origin = got
            kept.append(fn)
            c = check_c(fn)
            entries.append({**origin, "function": function, "format": fmt, "program": to_dict(fn.program),
                            "expression": render(fn.program), "exceptions": [list(e) for e in fn.exceptions],
                            "fixes": [list(e) for e in fn.fixes],
                            "check": result.to_dict(), "c_check": c.to_dict() if c else None})
        modules[fmt] = kept
    write_catalog(entries)
    for fmt in modules:      # written from the catalog, as `evo lib --lang jax --format FMT` writes them
        for name, text in small_files(small_catalog(fmt), "jax", "").items():
            (ROOT / "evo" / "lib" / "jax" / name).write_text(text)
    print(f"wrote evo/lib/jax/{{{','.join(modules)}}}.py and evo/lib/small_kernels.json "
          f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
