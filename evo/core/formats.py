"""Small output formats: bfloat16 and float16. A kernel computes in float32 and its result
is rounded once to the format, as GPUs and FlashAttention compute activations.

With at most 65,536 values, every input of a format can be checked; what is asked of a
result is that it be the correctly rounded value c of the exact one. The float32 result y
rounds to c exactly when it lies inside c's rounding interval: so the figure evo fits and
ranks by is the distance of y from c in the format's spacing on y's side of c (below a
power of two the spacing halves), under 0.5 for a correctly rounded result (RLIBM's insight:
the target is c, not the real value; `cr_distance`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


def side_distance(y, c, below, above, margin: np.ndarray | float = 0.0) -> np.ndarray:
    """|y - c| (plus margin) in units of the gap on y's side of c: below c, `below`; above
    it, `above`. Under 0.5 means y is inside c's rounding interval."""
    with np.errstate(all="ignore"):
        return np.where(y >= c, (y - c + margin) / above, (c - y + margin) / below)


@dataclass(frozen=True)
class Format:
    name: str          # bfloat16 | float16
    bits: int          # stored mantissa bits (bfloat16 7, float16 10)
    emin: int          # exponent of the smallest normal (bfloat16 -126, float16 -14)
    emax: int          # exponent of the largest finite (127, 15)

    @property
    def precision(self) -> int:
        return self.bits + 1

    @property
    def max_finite(self) -> float:
        return float((2.0 - 2.0 ** -self.bits) * 2.0 ** self.emax)

    @property
    def min_normal(self) -> float:
        return float(2.0 ** self.emin)

    @property
    def tiny(self) -> float:
        """The smallest subnormal: the spacing below min_normal."""
        return float(2.0 ** (self.emin - self.bits))

    @cached_property
    def numpy_dtype(self) -> type:
        if self.name == "float16":
            return np.float16
        import ml_dtypes

        return ml_dtypes.bfloat16

    def every_value(self) -> np.ndarray:
        """All 65,536 bit patterns of the format, as float32 (NaNs and infinities included)."""
        return np.arange(1 << 16, dtype=np.uint16).view(self.numpy_dtype).astype(np.float32)

    def values(self, lo: float, hi: float) -> np.ndarray:
        """The format's values in [lo, hi], sorted, as float32 (-0 left out: it is +0's)."""
        v = self.every_value()
        v = v[np.isfinite(v) & (v >= lo) & (v <= hi)]
        return np.unique(v)

    def round(self, x: np.ndarray) -> np.ndarray:
        """float32 values rounded to the format (nearest, ties to even), as float32."""
        with np.errstate(all="ignore"):
            return np.asarray(x, np.float32).astype(self.numpy_dtype).astype(np.float32)

    def spacing(self, c: np.ndarray) -> np.ndarray:
        """The format's spacing above |c| (float64): 2^(E - bits), E the exponent of c, at least
        emin (0 and the subnormals: the smallest spacing). Bit arithmetic: these run on every
        input of an exhaustive check."""
        a = np.abs(np.asarray(c, np.float64))
        e = ((a.view(np.int64) >> 52) & 0x7FF) - 1023
        e = np.where(np.isfinite(a), np.maximum(e, self.emin), self.emax)
        return ((e - self.bits + 1023) << 52).view(np.float64)

    def correctly_rounded(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """The format's value nearest to the exact hi + lo (a double-double: |lo| <= ulp(hi)/2),
        ties to even; beyond the largest finite value (past its rounding boundary) +-inf; NaN
        stays NaN. On the float64 bits: drop the low 52 - bits of |hi|, up where the dropped
        part is over half, or half with lo pointing away from zero (or lo 0 and an odd kept part)."""
        hi = np.asarray(hi, np.float64)
        lo = np.asarray(lo, np.float64)
        a = np.abs(hi)
        away = lo * np.sign(hi)                      # lo, positive away from zero
        sh = 52 - self.bits
        b = a.view(np.int64)
        rem, q = b & ((1 << sh) - 1), b >> sh
        half = 1 << (sh - 1)
        up = (rem > half) | ((rem == half) & ((away > 0) | ((away == 0) & ((q & 1) == 1))))
        r = ((q + up) << sh).view(np.float64)
        sub = np.flatnonzero(a < self.min_normal)    # the format's subnormals: a fixed spacing
        if sub.size:
            r[sub] = self._round_fixed(a[sub], away[sub], self.tiny)
        bound = self.max_finite + self.spacing(self.max_finite) / 2
        with np.errstate(invalid="ignore"):
            r = np.where((a > bound) | ((a == bound) & (away >= 0)), np.inf, r)
        return np.where(np.isnan(hi), np.nan, np.copysign(r, hi))

    @staticmethod
    def _round_fixed(a: np.ndarray, away: np.ndarray, u: float) -> np.ndarray:
        """a >= 0 (+ away) to the nearest multiple of the power of two u, ties to even."""
        q = np.floor(a / u)
        d = (a - (q * u + u / 2)) + away        # a - mid is exact: its sign decides, away breaks a tie
        up = (d > 0) | ((d == 0) & (np.mod(q, 2) == 1))
        return (q + up) * u

    def gaps(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(below, above): the distances from c to its neighbours (float64; c finite). Above
        a power of two the spacing is twice the one below it."""
        c = np.asarray(c, np.float64)
        up = self.spacing(c)
        a = np.abs(c)
        power = (a > self.min_normal) & ((a.view(np.int64) & ((1 << 52) - 1)) == 0)
        down = np.where(power, up / 2, up)
        return (np.where(c > 0, down, up), np.where(c > 0, up, down))

    def cr_distance(self, y: np.ndarray, c: np.ndarray) -> np.ndarray:
        """|y - c| in units of the format's spacing on y's side of c: under 0.5 means y rounds
        to c (exactly 0.5: a tie, which goes to the even neighbour). Where c is infinite,
        0 if y rounds to it, else inf; a non-finite y elsewhere is inf."""
        y64 = np.asarray(y, np.float64)
        c = np.asarray(c, np.float64)
        fin = np.isfinite(c)
        cf = np.where(fin, c, 0.0)
        d = side_distance(y64, cf, *self.gaps(cf))
        with np.errstate(all="ignore"):
            same = self.round(y) == np.asarray(c, np.float32)
        d = np.where(fin, np.where(np.isfinite(y64), d, np.inf), np.where(same, 0.0, np.inf))
        return np.where(np.isnan(c) & np.isnan(y64), 0.0, d)

    def hardness(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """How close the exact hi + lo lies to a rounding boundary: its distance from its
        correctly rounded value c in the spacing on its side, in [0, 0.5] (0.5: a midpoint).
        A result within 0.5 - hardness (in spacings) of the exact value rounds correctly;
        the hardest inputs are what fitting must see. 0 where c is not finite."""
        c = self.correctly_rounded(hi, lo)
        fin = np.isfinite(c)
        cf = np.where(fin, c, 0.0)
        below, above = self.gaps(cf)
        with np.errstate(all="ignore"):
            d = (np.asarray(hi, np.float64) - cf) + lo
            h = np.where(d >= 0, d / above, -d / below)
        return np.where(fin & np.isfinite(h), h, 0.0)

    def ulp_error(self, y: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """The error of the result rounded to the format, |round(y) - v| / ulp(v), in the
        format's ulps (the subnormal spacing below min_normal), v = hi + lo exact."""
        r = self.round(y).astype(np.float64)
        with np.errstate(all="ignore"):
            err = np.abs((r - hi) - lo) / self.spacing(hi)
        return np.where(np.isfinite(r), err, np.inf)


FORMATS: dict[str, Format] = {f.name: f for f in (Format("bfloat16", 7, -126, 127), Format("float16", 10, -14, 15))}
