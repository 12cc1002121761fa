"""Reals mode: programs judged as real-number functions (`evo search TARGET --reals`).

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
rounding on top; `evo verify --reals` bounds that too (evo.certify).

Where an intermediate value is infinite (c / x at x = 0), the value is IEEE's, as
the float64 program computes it: c / 0 = inf, then c / inf = 0. A real function with
a removable singularity at a point (AutoNumerics-Zero's exp program has c / x) is so
scored by its limit there, and certification encloses the same extended values (evo.certify);
a NaN (inf - inf, 0 * inf) anywhere scores inf.
"""
from __future__ import annotations

import math

import numpy as np

from primitives import OPS

from .ir import CONST, X, Program, live_instrs

# Over the reals fma(a, b, c) is a*b + c, two ops: not in the reals op set (the
# classical counts, and AutoNumerics-Zero's, are of + - * /).
REALS_OPS: tuple[str, ...] = ("add", "sub", "mul", "div")

_SPLIT = 134217729.0  # 2^27 + 1: Dekker's split of a float64 into two 26-bit halves


def digits(rel: float) -> float:
    """Significant digits of a max relative error: -log10(rel) (inf for 0, 0 for >= 1 or inf)."""
    if rel is None or not rel < 1 or not math.isfinite(rel):
        return 0.0
    return math.inf if rel <= 0 else -math.log10(rel)


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


def evaluate_dd(p: Program, x: np.ndarray, constants: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The program's real-number value at float64 inputs x, as double-double (hi, lo).

    constants: replacement values (const_slots order). Points where an intermediate
    value is not finite (or an op has no real value) are NaN.
    """
    x = np.asarray(x, np.float64)
    zero = np.zeros_like(x)
    consts = p.constants if constants is None else np.asarray(constants, np.float64)
    index = {s: j for j, s in enumerate(p.const_slots)}
    vals: list = [None] * len(p.instrs)
    bad = np.zeros(x.shape, bool)
    with np.errstate(all="ignore"):
        for i, ins in live_instrs(p):
            if ins.op == X:
                vals[i] = (x, zero)
            elif ins.op == CONST:
                vals[i] = (np.full_like(x, consts[index[i]]), zero)
            else:
                args = [c for a in ins.args for c in vals[a]]
                h, lo = DD_OPS[ins.op](*args)
                inf = ~np.isfinite(h)
                if inf.any():
                    # IEEE's extended values where a value is infinite: c / 0 = inf, c / inf = 0
                    # (the float64 program computes the same there)
                    f = OPS[ins.op].f64(*(vals[a][0] for a in ins.args))
                    h, lo = np.where(inf, f, h), np.where(inf, 0.0, lo)
                    bad |= np.isnan(h)
                vals[i] = (h, lo)
        h, lo = vals[p.output]
    return np.where(bad, np.nan, h), np.where(bad, np.nan, lo)


def relative_errors(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray,
                    constants: np.ndarray | None = None) -> np.ndarray:
    """|P(x) - f(x)| / |f(x)| with P in double-double and f = hi + lo (double-double truth).

    Where f(x) = 0: 0 if P(x) = 0 too, else inf. Non-finite values score inf."""
    yh, yl = evaluate_dd(p, x, constants)
    with np.errstate(all="ignore"):
        d = (yh - hi) + (yl - lo)
        err = np.abs(d) / np.abs(hi)
        err = np.where(hi == 0, np.where((yh == 0) & (yl == 0), 0.0, np.inf), err)
    return np.where(np.isfinite(yh) & ~np.isnan(err), err, np.inf)


def digits_table(front, max_ops: int = 14) -> str:
    """The evolved front of a reals run against the best classical form at each op count
    (same interval and metric): a Markdown table of significant digits."""
    from .baselines import best_per_ops, reals_baselines

    rows = reals_baselines(front.target, max_ops, on_skip=lambda *a: None)
    best = best_per_ops(rows, max_ops)
    lines = ["| ops | evolved (sampled) | evolved (certified) | best classical (<= ops) | margin |",
             "|---|---|---|---|---|"]
    for k in range(2, max_ops + 1):
        ms = [m for m in front if m.cost <= k and 0 < m.error < 1]
        m = min(ms, key=lambda a: a.error) if ms else None
        b = best.get(k)
        ev = f"{digits(m.error):.2f} (#{m.id}, {m.cost:g} ops)" if m else "-"
        cert = f"{digits(m.certified_max_rel):.2f}" if m is not None and m.certified_max_rel else "-"
        bl = f"{b.digits:.2f} ({b.name})" if b else "-"
        margin = f"{digits(m.error) - b.digits:+.2f}" if m and b else "-"
        lines.append(f"| {k} | {ev} | {cert} | {bl} | {margin} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """python -m evo.reals RUN [MAX_OPS]: the digits-against-ops table of a reals run."""
    import sys

    from .cli import fail
    from .errors import EvoError
    from .runs import load_front

    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2 or (len(args) == 2 and not args[1].isdigit()):
        fail("usage: python -m evo.reals RUN [MAX_OPS]")
    try:
        front = load_front(args[0])
    except EvoError as e:
        fail(e.cli_message())
    print(digits_table(front, int(args[1]) if len(args) > 1 else 14))


if __name__ == "__main__":
    main()


__all__ = ["REALS_OPS", "digits", "digits_table", "evaluate_dd", "relative_errors"]
