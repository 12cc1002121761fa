"""Exhaustive checks of float32 functions that are not programs: a C file's or a shared
library's symbol (evo.verification.native), a JAX function (evo.verification.xla), or a
program's full-range C export, on every float32 of an interval or on all 2^32 inputs,
with a table of special values (the caller's: evo.codegen.fullrange.special_inputs)."""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from targets import Target

from ..core.progress import ProgressFn
from .result import VerifyResult
from .yardstick import _error_ulp, exhaustive

ALL_ORDINALS = (-0x7FFFFFFF, 0x7FFFFFFF)  # every bit pattern but -0.0 (ordinal 0 is +0.0)
FULL_RANGE_NOTE = ("float32 results beyond the float32 range count as +-inf (exp2(200) is +inf): "
                   "inf there has error 0, a finite result is measured in ulp of the float64 value")
Fn32 = Callable[[np.ndarray], np.ndarray]


def check_function(fn: Fn32, t: Target, full_range: bool = False, progress: ProgressFn | None = None,
                   specials: np.ndarray | tuple = (), **options) -> VerifyResult:
    """Every float32 of the target's interval (or every input), plus the special-value table
    (`special_values`: expected, the float64 reference rounded to float32, against what fn
    gives) on `specials` (those inside the interval, and its ends). options: exhaustive's."""
    a, b = ALL_ORDINALS if full_range else t.f32_inputs()
    r = exhaustive(fn, t, ordinals=(a, b), progress=progress, **options)
    if full_range:
        r = _with_negative_zero(r, fn, t)
        xs = np.asarray(specials, np.float32)
    else:
        lo, hi = t.interval
        xs = np.array([v for v in specials if lo <= v <= hi] + [lo, hi], np.float32)
    return dataclasses.replace(r, special_values=tuple(special_table(fn, t, xs)))


def expected(target: Target, x: np.ndarray) -> np.ndarray:
    """The float32 rounding of the float64 reference (inf where it overflows float32)."""
    with np.errstate(all="ignore"):
        return np.asarray(target.f64(np.asarray(x, np.float32).astype(np.float64))).astype(np.float32)


def _with_negative_zero(r: VerifyResult, fn: Fn32, t: Target) -> VerifyResult:
    """Ordinals cover every bit pattern but -0.0: check it too."""
    z = exhaustive(lambda x: fn(np.negative(x)), t, ordinals=(0, 0), reference=lambda x: t.f64(np.negative(x)),
                   threads=1)
    worse = z.max_ulp > r.max_ulp
    return dataclasses.replace(r, max_ulp=max(r.max_ulp, z.max_ulp), argmax=-0.0 if worse else r.argmax,
                               mean_ulp=(r.mean_ulp * r.inputs + z.mean_ulp) / (r.inputs + 1),
                               not_correctly_rounded=r.not_correctly_rounded + z.not_correctly_rounded,
                               inputs=r.inputs + 1, interval=(-math.inf, math.inf))


def special_table(fn: Fn32, t: Target, xs: np.ndarray) -> list[dict]:
    """Expected (the float64 reference rounded to float32) vs got, per special input."""
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
        rows.append({"x": json_num(float(x)), "expected": json_num(float(w)), "got": json_num(float(g)),
                     "ulp": json_num(float(e)), "same": bool(same)})
    return rows


def json_num(v: float) -> float | str:
    """JSON has no NaN / inf / -0: write those as strings."""
    if math.isnan(v) or math.isinf(v) or (v == 0 and math.copysign(1, v) < 0):
        return repr(v)
    return v
