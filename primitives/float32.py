"""Exact float32 arithmetic helpers that numpy lacks (a correctly rounded fma).

numpy has no fma. A float32 product is exact in float64 (24 + 24 bits < 53), so
fma(a, b, c) = round32(a*b + c) needs one correctly rounded step from an exact
real. We add in float64, recover the addition's exact error with TwoSum, and
round the float64 sum *to odd* when it was inexact; rounding a round-to-odd
value with >= 2 extra bits to float32 is then correctly rounded (Boldo &
Melquiond). Only sums that land exactly on a float32 rounding boundary can be
hurt by double rounding, so the exact fix-up runs on those few elements only.
"""
from __future__ import annotations

import numpy as np

_LOW29 = np.uint64((1 << 29) - 1)  # float64 mantissa bits below float32 precision
_HALF29 = np.uint64(1 << 28)       # ...that mark a float32 midpoint
_F32_MIN_NORMAL = 2.0 ** -126
_F32_OVERFLOW_ZONE = 2.0 ** 127


def _round_to_odd_f64(p: np.ndarray, c: np.ndarray) -> np.ndarray:
    """p + c in float64, rounded to odd (exact when representable)."""
    s = p + c
    bb = s - p
    err = (p - (s - bb)) + (c - bb)  # TwoSum: p + c == s + err exactly
    even = (s.view(np.uint64) & np.uint64(1)) == 0
    fix = (err != 0) & even & np.isfinite(err)
    if fix.any():
        toward = np.where(err > 0, np.inf, -np.inf)
        s = np.where(fix, np.nextafter(s, toward), s)
    return s


def fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Correctly rounded float32 fused multiply-add (one rounding), elementwise."""
    a32, b32, c32 = np.broadcast_arrays(np.float32(a) if np.ndim(a) == 0 else a, b, c)
    shape = a32.shape
    with np.errstate(all="ignore"):  # NaN/inf operands and overflow are IEEE results, not errors
        a64, b64, c64 = (np.asarray(v, np.float32).astype(np.float64).ravel() for v in (a32, b32, c32))
        p = a64 * b64  # exact
        s = p + c64
        mag = np.abs(s)
        # Double rounding can only bite where the float64 sum sits on a float32
        # midpoint, or where float32 spacing differs (subnormal / overflow zone).
        risky = ((s.view(np.uint64) & _LOW29) == _HALF29) | (mag < _F32_MIN_NORMAL) | (mag >= _F32_OVERFLOW_ZONE)
        risky &= np.isfinite(s)
        if risky.any():
            s[risky] = _round_to_odd_f64(p[risky], c64[risky])
        return s.astype(np.float32).reshape(shape)


def fma64(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float64 fma; correctly rounded where the product is exact, else a*b+c.

    Used only by the float64 "reals" mode, where one extra rounding is far below
    the error being measured.
    """
    return np.asarray(a, np.float64) * b + c


# -- float32 ordinals: consecutive integers for consecutive float32 values --------

def to_ordinal(x: np.ndarray | float) -> np.ndarray:
    """Map float32 values to int64 ordinals, monotone, with -0.0 == +0.0 == 0."""
    bits = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def from_ordinal(o: np.ndarray | int) -> np.ndarray:
    """Inverse of to_ordinal (0 maps to +0.0)."""
    o = np.asarray(o, np.int64)
    bits = np.where(o < 0, (-o) | 0x80000000, o).astype(np.uint32)
    return bits.view(np.float32)


def f32_range(lo: float, hi: float) -> tuple[int, int]:
    """Ordinals of the first float32 >= lo and the last float32 <= hi (inclusive)."""
    a, b = np.float32(lo), np.float32(hi)
    oa, ob = int(to_ordinal(a)), int(to_ordinal(b))
    if float(a) < lo:
        oa += 1
    if float(b) > hi:
        ob -= 1
    return oa, ob
