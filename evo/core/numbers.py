"""Number helpers every layer shares: the float32 ulp, rounding a real to float32,
significant digits, and how an error figure is written (tables, JSON)."""
from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np

_EXP_MASK = np.uint64(0x7FF0000000000000)
_F32_ULP_FLOOR = 2.0 ** -149   # ulp of every float32 below 2^-126 (the subnormal spacing)


def ulp32(v: np.ndarray | float, lo: np.ndarray | float | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """The float32 ulp of the exact value v (+ lo, a double-double): 2^(E-23) with
    2^E <= |v + lo| < 2^(E+1) and E >= -126, from the exponent bits of v.

    lo: where v is a power of two and lo pulls the exact value below it, the exact value
    lies one binade lower. out: a float64 buffer of v's shape to write into (no temporaries)."""
    v = np.asarray(v, np.float64)
    shape = v.shape
    u = np.abs(v.reshape(-1), out=None if out is None else out.reshape(-1))
    bits = u.view(np.uint64)
    np.bitwise_and(bits, _EXP_MASK, out=bits)
    np.multiply(u, 2.0 ** -23, out=u)
    np.maximum(u, _F32_ULP_FLOOR, out=u)
    if lo is not None:
        lo = np.broadcast_to(np.asarray(lo, np.float64), shape).reshape(-1)
        vv = v.reshape(-1)
        below = (np.abs(vv) == u * 2.0 ** 23) & (lo != 0) & (np.sign(lo) == -np.sign(vv)) & (u > _F32_ULP_FLOOR)
        u[below] *= 0.5
    return u.reshape(shape)


def round_f32(t: Any) -> float:
    """The float32 nearest to the real t (an mpmath number or float; ties to even),
    subnormals and overflow included: one rounding, never through float64."""
    if t == 0:
        return 0.0
    with mpmath.workprec(max(mpmath.mp.prec, 128)):
        t = mpmath.mpf(t)
        e = max(int(mpmath.floor(mpmath.log(abs(t), 2))), -126)
        if abs(t) >= mpmath.ldexp(1, e + 1):   # log2 rounded up to the next power: one lower exponent
            e += 1
        elif abs(t) < mpmath.ldexp(1, e) and e > -126:
            e -= 1
        q = mpmath.ldexp(1, e - 23)
        r = mpmath.nint(t / q) * q             # ties to even
        if abs(r) >= mpmath.ldexp(1, 128):
            return math.copysign(math.inf, float(t))
        return float(r)


def digits(rel: float | None) -> float:
    """Significant digits of a max relative error: -log10(rel) (inf for 0, 0 for >= 1, inf or None)."""
    if rel is None or not rel < 1 or not math.isfinite(rel):
        return 0.0
    return math.inf if rel <= 0 else -math.log10(rel)


def json_float(v: float) -> float | str:
    """inf is not JSON: write it as the string "inf"."""
    return v if np.isfinite(v) else "inf"


def fmt_error(v: float | str | None, precision: int = 4) -> str:
    """An error figure for a table: "-" for none, "inf", else `precision` significant
    digits (JSON files hold inf as the string "inf")."""
    if v is None:
        return "-"
    v = float(v)
    return "inf" if v == float("inf") else f"{v:.{precision}g}"
