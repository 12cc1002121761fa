"""Reals mode's classical forms: each kind's real-number approximation (mpmath; Remez for
the minimax kinds, evo.classical.baselines) with float64 coefficients, written in x and
judged like an evolved reals program: digits against ops."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import mpmath

from targets import Target

from ..classical.baselines import (
    BaselineError,
    approximation,
    precision_for,
    problem,
    split_degree,
)
from ..core.ir import CONST, Builder, Program, to_dict
from ..core.numbers import digits, json_float
from ..errors import EvoError, ProgramError
from .certify import sampled_max

REALS_KINDS: tuple[str, ...] = ("taylor", "pade", "chebyshev", "minimax", "rational")


@dataclass(frozen=True)
class RealsBaseline:
    """A classical form as a reals-mode program: the real-number approximation (mpmath,
    Remez for the minimax kinds) with its coefficients rounded to float64, written in x
    (Horner in x: a degree-d polynomial is d mul + d add; a rational p/q has q monic:
    2(m + n) ops), judged like an evolved reals program (evo.reals.certify.sampled_max)."""

    name: str                 # e.g. "minimax5", "rational3/2", "taylor4"
    kind: str
    num_degree: int
    den_degree: int
    program: Program
    max_rel: float            # max relative error of its real function (dense sample, peaks refined)
    argmax: float
    center: float             # expansion point (Taylor, Padé)

    @property
    def ops(self) -> int:
        return self.program.n_ops

    @property
    def digits(self) -> float:
        return digits(self.max_rel)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "num_degree": self.num_degree,
                "den_degree": self.den_degree, "ops": self.ops, "max_rel": json_float(self.max_rel),
                "digits": round(self.digits, 3), "argmax": self.argmax, "center": self.center,
                "program": to_dict(self.program)}


def _shift(coeffs: Sequence[Any], c: Any) -> list[Any]:
    """Coefficients in x of sum a_k (x - c)^k (exact in mpmath: a Taylor shift)."""
    out = [mpmath.mpf(0)] * len(coeffs)
    for k, a in enumerate(coeffs):
        for j in range(k + 1):
            out[j] += a * mpmath.binomial(k, j) * (-c) ** (k - j)
    return out


def reals_program(num: Sequence[Any], den: Sequence[Any] = (1,)) -> Program:
    """num(x) / den(x) (coefficients in x, lowest first) as a Program with float64
    coefficients: Horner in x, den made monic (its leading coefficient folded into num)."""
    num, den = [mpmath.mpf(v) for v in num], [mpmath.mpf(v) for v in den]
    while len(den) > 1 and den[-1] == 0:
        den.pop()
    if len(den) > 1:
        lead = den[-1]
        num, den = [v / lead for v in num], [v / lead for v in den]
    b = Builder()
    emit = b.emit

    def horner(cs: list[Any], monic: bool) -> int:
        cs = [float(v) for v in cs]
        top = max((k for k, v in enumerate(cs) if v != 0), default=0)
        if top == 0:
            return emit(CONST, value=cs[0])
        if monic or cs[top] == 1.0:
            acc = 0 if cs[top - 1] == 0 else emit("add", 0, emit(CONST, value=cs[top - 1]))
        else:
            acc = emit("mul", 0, emit(CONST, value=cs[top]))
            if cs[top - 1] != 0:
                acc = emit("add", acc, emit(CONST, value=cs[top - 1]))
        for c in reversed(cs[:top - 1]):
            acc = emit("mul", acc, 0)
            if c != 0:
                acc = emit("add", acc, emit(CONST, value=c))
        return acc

    out = horner(num, False)
    if len(den) > 1:
        out = emit("div", out, horner(den, True))
    return b.program(out)


def _chebyfit(f: Callable[[Any], Any], lo: float, hi: float, n: int) -> list[Any]:
    """Coefficients (lowest first) of the degree n - 1 Chebyshev interpolant of f on [lo, hi]."""
    try:
        poly, _ = mpmath.chebyfit(f, [lo, hi], n, error=True, asc=True)
        return list(poly)
    except TypeError:  # mpmath < 1.4: highest first, no asc
        poly, _ = mpmath.chebyfit(f, [lo, hi], n, error=True)
        return list(reversed(poly))


def _reals_center(target: Target) -> float:
    """Taylor/Padé expansion point: a zero of f in the interval (kept exact), else the middle."""
    pb = problem(target)
    lo, hi = target.interval
    return pb.c if pb.factored else (lo + hi) / 2


def reals_approximation(target: Target, kind: str, m: int, n: int = 0) -> tuple[list[Any], list[Any], float]:
    """(num, den, center) in x of the kind's real-number approximation of degrees m/n."""
    f = target.mp
    lo, hi = target.interval
    with mpmath.workprec(precision_for(m, n)):
        if kind in ("taylor", "pade"):
            c = _reals_center(target)
            a = mpmath.taylor(f, mpmath.mpf(c), m + n)
            if kind == "taylor":
                p, q = a[: m + 1], [mpmath.mpf(1)]
            else:
                try:
                    p, q = mpmath.pade(a, m, n)
                except ZeroDivisionError:
                    raise BaselineError(f"the Padé block [{m}/{n}] is degenerate at x = {c}") from None
            return _shift(p, c), _shift(q, c), c
        if kind == "chebyshev":
            pb = problem(target)
            if pb.factored:   # (x - c) * (Chebyshev fit of f / (x - c)): the zero stays exact
                g = _chebyfit(lambda x: pb.g(x - pb.c), lo, hi, m)
                num = [mpmath.mpf(0)] * (len(g) + 1)
                for k, v in enumerate(g):   # (x - c) * g(x)
                    num[k + 1] += v
                    num[k] -= pb.c * v
                return num, [mpmath.mpf(1)], float(pb.c)
            return _chebyfit(f, lo, hi, m + 1), [mpmath.mpf(1)], (lo + hi) / 2
        ap = approximation(target, "minimax" if kind == "minimax" else "rational", m + n)
        return _shift(ap.num, mpmath.mpf(ap.center)), _shift(ap.den, mpmath.mpf(ap.center)), ap.center


def reals_baselines(target: Target, max_ops: int = 14, kinds: Iterable[str] = REALS_KINDS,
                    on_skip: Callable[[str, str], None] | None = None) -> list[RealsBaseline]:
    """Every kind's approximation with 2..max_ops ops, as reals programs judged by their max
    relative error. Polynomials: degree 1..max_ops // 2; rationals (Padé, rational minimax):
    total degree 2..max_ops // 2, split as the float32 baselines split it."""
    skip = on_skip or (lambda name, why: warnings.warn(f"baseline {name} skipped: {why}", stacklevel=3))
    out: list[RealsBaseline] = []
    for kind in kinds:
        if kind not in REALS_KINDS:
            raise EvoError(f"unknown kind {kind!r} (known: {', '.join(REALS_KINDS)})")
        rational = kind in ("pade", "rational")
        for d in range(2 if rational else 1, max_ops // 2 + 1):
            m, n = split_degree(kind, d) if rational else (d, 0)
            name = f"{kind}{m}/{n}" if rational else f"{kind}{m}"
            try:
                num, den, c = reals_approximation(target, kind, m, n)
                prog = reals_program(num, den)
            except (BaselineError, ProgramError, ZeroDivisionError, ValueError) as e:
                skip(name, str(e))
                continue
            if prog.n_ops > max_ops:
                continue
            err, at, _, _ = sampled_max(prog, target, n=4001)
            out.append(RealsBaseline(name, kind, m, n, prog, err, at, float(c)))
    return out


def best_per_ops(rows: Iterable[Any], max_ops: int = 14) -> dict[int, Any]:
    """For each op count k, the row with the smallest max_rel among those with <= k ops."""
    rows = sorted(rows, key=lambda r: (r.ops, r.max_rel))
    best: dict[int, Any] = {}
    cur = None
    for k in range(0, max_ops + 1):
        for r in rows:
            if r.ops <= k and (cur is None or r.max_rel < cur.max_rel):
                cur = r
        if cur is not None:
            best[k] = cur
    return best


__all__ = ["REALS_KINDS", "RealsBaseline", "reals_approximation", "reals_baselines", "reals_program", "best_per_ops"]
