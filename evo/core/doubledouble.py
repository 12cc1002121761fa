"""Double-double evaluation: a program's real-number value, what reals mode scores
(`evo search TARGET --reals`; the platform is evo.platforms.reals).

A reals-mode program is the real function its ops compute with its float64
constants (as in AutoNumerics-Zero's reals experiment); its figure of merit is the
max relative error |P(x) - f(x)| / |f(x)| on the interval, shown as significant
digits, -log10(max relative error).

Why double-double: evaluated in float64, a program's own rounding is ~1e-16
relative per op, and a 10-op program ending in three squarings (x -> x^8)
amplifies it to ~2e-15 (measured on a Padé-and-squaring exp2 program: float64
and exact errors differ by up to 2.4e-15). At 14 digits that is a quarter of the
error being fitted. So reals mode evaluates programs in double-double (~106 bits,
error ~1e-31 relative per op): what it scores is the real-number function to far
below any error it reports. The float64 evaluation of the exported code has its own
rounding on top; `evo verify --reals` measures that beside its bound (evo.reals.certify).

Where an intermediate value is infinite (c / x at x = 0), the value is IEEE's, as
the float64 program computes it: c / 0 = inf, then c / inf = 0. A real function with
a removable singularity at a point (AutoNumerics-Zero's exp program has c / x) is so
scored by its limit there, and certification encloses the same extended values (evo.reals.certify);
a NaN (inf - inf, 0 * inf) anywhere scores inf.
"""
from __future__ import annotations

import numpy as np

from primitives import OPS

from .ir import Program
from .scoring import error_relative
from .walk import walk

_SPLIT = 134217729.0  # 2^27 + 1: Dekker's split of a float64 into two 26-bit halves


# -- double-double arithmetic on numpy arrays (Dekker, Knuth; no fma needed) ---------------

def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _fast_two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    return s, b - (s - a)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = _SPLIT * a
    hi = t - (t - a)
    return hi, a - hi


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def dd_add(ah, al, bh, bl):
    s, e = _two_sum(ah, bh)
    t, f = _two_sum(al, bl)
    e = e + t
    s, e = _fast_two_sum(s, e)
    e = e + f
    return _fast_two_sum(s, e)


def dd_neg(ah, al):
    return -ah, -al


def dd_sub(ah, al, bh, bl):
    return dd_add(ah, al, -bh, -bl)


def dd_mul(ah, al, bh, bl):
    p, e = _two_prod(ah, bh)
    e = e + (ah * bl + al * bh)
    return _fast_two_sum(p, e)


def dd_div(ah, al, bh, bl):
    q1 = ah / bh
    ph, pl = dd_mul(bh, bl, q1, np.zeros_like(q1))
    rh, rl = dd_sub(ah, al, ph, pl)
    q2 = rh / bh
    ph, pl = dd_mul(bh, bl, q2, np.zeros_like(q2))
    rh, rl = dd_sub(rh, rl, ph, pl)
    q3 = rh / bh
    q1, q2 = _fast_two_sum(q1, q2)
    return dd_add(q1, q2, q3, np.zeros_like(q3))


def dd_fma(ah, al, bh, bl, ch, cl):
    return dd_add(*dd_mul(ah, al, bh, bl), ch, cl)


def dd_sqrt(ah, al):
    s = np.sqrt(ah)
    ph, pl = _two_prod(s, s)
    rh, rl = dd_sub(ah, al, ph, pl)
    with np.errstate(all="ignore"):
        corr = np.where(s > 0, rh / (2 * s), 0.0)
    return _fast_two_sum(s, corr)


DD_OPS = {"add": dd_add, "sub": dd_sub, "mul": dd_mul, "div": dd_div, "fma": dd_fma, "neg": dd_neg, "sqrt": dd_sqrt}


def _ieee(name: str):
    """The double-double op `name` on (hi, lo) pairs, with IEEE's extended values where a
    value is infinite (c / 0 = inf, then c / inf = 0): the float64 program computes the same."""
    dd, f64 = DD_OPS[name], OPS[name].f64

    def op(*args: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        h, lo = dd(*(c for a in args for c in a))
        inf = ~np.isfinite(h)
        if inf.any():
            f = f64(*(a[0] for a in args))
            h, lo = np.where(inf, f, h), np.where(inf, 0.0, lo)
        return h, lo

    return op


# The double-double domain of the program walker.
DOUBLE_DOUBLE = {name: _ieee(name) for name in DD_OPS}


def evaluate_dd(p: Program, x: np.ndarray, constants: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The program's real-number value at float64 inputs x, as double-double (hi, lo).

    constants: replacement values (const_slots order). Points where an intermediate
    value is not finite (or an op has no real value) are NaN: NaN flows through every op.
    """
    x = np.asarray(x, np.float64)
    zero = np.zeros_like(x)
    consts = p.constants if constants is None else np.asarray(constants, np.float64)
    index = p.const_index
    with np.errstate(all="ignore"):
        h, lo = walk(p, DOUBLE_DOUBLE, (x, zero), lambda i, v: (np.full_like(x, consts[index[i]]), zero))
    bad = np.isnan(h)
    return h, np.where(bad, np.nan, lo)


def relative_errors(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray,
                    constants: np.ndarray | None = None) -> np.ndarray:
    """|P(x) - f(x)| / |f(x)| with P in double-double and f = hi + lo (double-double truth).

    Where f(x) = 0: 0 if P(x) = 0 too, else inf. Non-finite values score inf."""
    return error_relative(evaluate_dd(p, x, constants), hi, lo)


__all__ = ["DD_OPS", "DOUBLE_DOUBLE", "evaluate_dd", "relative_errors"]
