"""Classical baselines: Taylor, minimax polynomial, Padé and rational minimax.

Each approximation is computed in exact (mpmath) arithmetic, its coefficients are
rounded to the nearest float32, and it is built as a Program in two forms:

    horner   plain Horner, acc = acc*t + c: a mul and an add, two roundings per step
    fma      Horner with one fma per step: acc = fma(acc, t, c), one rounding

Rationals are numerator Horner / denominator Horner (one div). The programs are
scored by the same Scorer as evolved ones, so a front can be compared point by
point::

    from evo.platforms import FLOAT32
    for b in FLOAT32.baselines(get_target("exp2"), degrees=range(2, 9)):
        print(b.name, b.ops, b.max_error, b.mean_error)

Conventions (see `Approximation` for the details):

* Variable. Polynomials are in t = x - c. The expansion point c is a float32
  zero of f in the interval if f has one (log: 1, erf: 0), else 0 if the interval
  holds 0 (exp2, exp), else the interval midpoint rounded to float32. A nonzero c
  is one `sub` op in the program.
* Error measure. The minimax kinds minimise the maximum RELATIVE error, which is
  what ULP error measures up to a factor < 2. Where f(c) = 0, the numerator is
  t * N(t) exactly (the zero is kept, so the relative error stays finite), and the
  fit is of f(c + t) / t. If f has a zero that is not a float32, or its slope at
  the zero is not finite, the relative error is unbounded for any polynomial and
  the absolute error is minimised instead (Approximation.weight says which).
* Degree. For polynomials the degree. For rationals (pade, rational) the total
  degree d = m + n of numerator m and denominator n, split m = ceil(d/2),
  n = floor(d/2), so a rational of degree d costs about as many ops as a polynomial
  of degree d plus a div. Names: "minimax6-fma", "taylor7-horner",
  "pade3/3-horner", "rational3/2-fma".
* Taylor and Padé: expansions at c (mpmath.taylor; mpmath.pade of those
  coefficients). A degenerate Padé block (erf's [2/1]) is skipped, with the reason.
* Minimax polynomial: Remez exchange on the weighted error, reference of
  degree + 2 points (degree + 1 if the zero is factored out), extrema located on
  a dense Chebyshev grid and refined by golden-section search.
* Rational minimax: Remez exchange as well. At each reference the levelled
  equations p(t_i) - q(t_i)(g_i + (-1)^i E / w_i) = 0 are a generalised
  eigenproblem in E; projecting out the numerator leaves an (n+1)x(n+1)
  eigenproblem, solved with mpmath.eig. The pole-free solution (q keeps one sign
  on the interval) of smallest |E| is taken. The first reference is the minimax
  polynomial's of degree m + n (same number of points). If f is itself such a
  polynomial or rational (error zero to working precision), that fit is returned.

Scores are on the Scorer's validation sample: for exp2 the sample maximum is
~0.15-0.2 ULP below the maximum over every float32 (minimax6: sample 1.18 / 0.83,
every float32 1.38 / 0.98 for horner / fma). `checked` adds each one's exhaustive
check (the platform's verifier; `evo baselines --verify`), cached on disk by program
and target, so that a front and its baselines are compared on the same footing;
`max_error` is then the exhaustive max and `error_on` says so.

The mpmath results are cached on disk under targets.cache_dir()/"baselines",
keyed by expression, interval, kind and degrees, so a second run costs only the
float32 scoring.
"""
from __future__ import annotations

import hashlib
import json
import re
import warnings
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any, Callable, Iterable, Sequence

import mpmath
import numpy as np

from targets import Target, cache_dir

from ..core.cachefile import save_json
from ..core.ir import CONST, Builder, Program, to_dict
from ..core.numbers import json_float, round_f32
from ..core.scoring import ErrorStats, Scorer
from ..errors import EvoError, ProgramError

KINDS: tuple[str, ...] = ("taylor", "minimax", "pade", "rational")
FORMS: tuple[str, ...] = ("horner", "fma")
RATIONAL_KINDS = ("pade", "rational")
MAX_DEGREE = 20
PREC = 128          # bits for coefficient computations up to total degree 8 (more above: _prec)
_VERSION = 5        # bump when an algorithm changes: old cache entries are then ignored
_GRID = 401         # Chebyshev grid for locating extrema (refined afterwards)
_REMEZ_ITERS = 40
_REMEZ_TOL = 1e-9   # stop when max|e| / |E| - 1 is below this


class BaselineError(EvoError):
    """A baseline that cannot be built for this target (degenerate Padé block,
    Remez without convergence...). `baselines()` skips it and reports why."""


# -- the exact-arithmetic approximation -------------------------------------------

@dataclass(frozen=True)
class Approximation:
    """R(x) = N(t) / D(t), t = x - center, in exact arithmetic (before float32 rounding).

    num, den: coefficients in t, lowest degree first (mpmath numbers, _prec bits);
    den == (1,) for polynomials, else den[0] == 1. Where factored, num[0] == 0.
    error: max weighted error |R - f| * w on the interval in exact arithmetic
    (relative error when weight == "relative"); for the minimax kinds the levelled
    error of the last Remez step (the true max exceeds it by < 1e-9 relative,
    or < 1e-3 where the exchange stalls at working precision).
    reference: minimax kinds: the x values where the error equioscillates
    (len(num) + len(den) points, one fewer where factored); else ().
    """

    kind: str
    num_degree: int
    den_degree: int
    center: float
    num: tuple[Any, ...]
    den: tuple[Any, ...]
    error: float
    weight: str            # "relative" or "absolute"
    factored: bool         # f(center) == 0 and num[0] == 0
    reference: tuple[Any, ...] = ()

    def __call__(self, x: Any) -> Any:
        """R(x) in mpmath at the current precision."""
        t = mpmath.mpf(x) - self.center
        return _poly(self.num, t) / _poly(self.den, t)


@dataclass
class _Problem:
    """What is fitted: g(t) with weight w(t) on [ta, tb], t = x - c."""

    f: Callable[[Any], Any]
    a: Any
    b: Any
    c: float
    factored: bool
    relative: bool

    @property
    def ta(self) -> Any:
        return self.a - self.c

    @property
    def tb(self) -> Any:
        return self.b - self.c

    def F(self, t: Any) -> Any:
        return self.f(self.c + t)

    def g(self, t: Any) -> Any:
        if not self.factored:
            return self.F(t)
        if t == 0:
            return self.slope
        return self.F(t) / t

    @cached_property
    def slope(self) -> Any:
        """g(0) = f'(c), the limit of f(c + t) / t."""
        return mpmath.diff(self.f, mpmath.mpf(self.c))

    def inv_w(self, gt: Any) -> Any:
        """1 / weight, from g(t): |g| for relative error (|t g| / |t g| = the same)."""
        return abs(gt) if self.relative else mpmath.mpf(1)


def _real(v: Any) -> bool:
    return not isinstance(v, mpmath.mpc) and mpmath.isfinite(v)


def _f_value(f: Callable[[Any], Any], x: Any) -> Any:
    try:
        v = f(x)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return v if _real(v) else None


def problem(target: Target) -> _Problem:
    f = target.mp
    lo, hi = target.interval
    a, b = mpmath.mpf(lo), mpmath.mpf(hi)
    # A float32 zero of f among the usual places: fitting t*N(t) keeps it exact.
    for cand in (lo, hi, 0.0, 1.0, -1.0):
        c = float(np.float32(cand))
        if lo <= c <= hi and _f_value(f, mpmath.mpf(c)) == 0:
            try:
                s = mpmath.diff(f, mpmath.mpf(c))
            except (ValueError, ZeroDivisionError, OverflowError):
                s = None
            if s is not None and _real(s) and s != 0:
                return _Problem(f, a, b, c, factored=True, relative=True)
            return _Problem(f, a, b, c, factored=False, relative=False)
    c = 0.0 if lo <= 0.0 <= hi else float(np.float32((lo + hi) / 2))
    # Any other zero (a sign change, or an exact zero on the grid): relative error
    # is unbounded for every approximation, so fall back to absolute error.
    vals = [_f_value(f, x) for x in _cheb(a, b, 65)]
    if any(v is None for v in vals):
        raise BaselineError(f"{target.expr} is not finite and real on the whole interval")
    relative = all(v > 0 for v in vals) or all(v < 0 for v in vals)
    return _Problem(f, a, b, c, factored=False, relative=relative)


def _cheb(a: Any, b: Any, k: int) -> list[Any]:
    """k Chebyshev extrema points on [a, b], endpoints included, increasing."""
    mid, half = (a + b) / 2, (b - a) / 2
    return [mid - half * mpmath.cos(mpmath.pi * j / (k - 1)) for j in range(k)]


def precision_for(m: int, n: int) -> int:
    """Working precision: the minimax error must stay far above the rounding noise
    (exp2 loses ~6 bits a degree: degree 20 levels at ~2^-120)."""
    return PREC + 8 * max(0, m + n - 8)


@lru_cache(maxsize=16)
def _grid_for(expr: str, interval: tuple[float, float], prec: int) -> tuple[_Problem, list[Any], list[Any]]:
    with mpmath.workprec(prec):
        pb = problem(Target(expr, expr, interval))
        ts = _cheb(pb.ta, pb.tb, _GRID)
        gs = [pb.g(t) for t in ts]
    return pb, ts, gs


def _grid(target: Target) -> tuple[_Problem, list[Any], list[Any]]:
    """The problem and g on the dense grid, once per (expression, interval, precision)."""
    return _grid_for(target.expr, tuple(target.interval), mpmath.mp.prec)


# -- polynomial and rational Remez -------------------------------------------------

def _poly(c: Sequence[Any], t: Any) -> Any:
    """c[0] + c[1] t + ... by Horner, in mpmath at the current precision."""
    acc = c[-1]
    for v in reversed(c[:-1]):
        acc = acc * t + v
    return acc


def _rat(p: Sequence[Any], q: Sequence[Any], t: Any) -> Any:
    return _poly(p, t) / _poly(q, t)


def _levelled_poly(pb: _Problem, ref: list[Any], m: int) -> tuple[list[Any], list[Any], Any]:
    """p of degree m with w(t_i)(p(t_i) - g(t_i)) = (-1)^i E at the m + 2 reference points."""
    gs = [pb.g(t) for t in ref]
    A = mpmath.matrix(m + 2, m + 2)
    for i, t in enumerate(ref):
        for k in range(m + 1):
            A[i, k] = t ** k
        A[i, m + 1] = -(-1) ** i * pb.inv_w(gs[i])
    sol = mpmath.lu_solve(A, mpmath.matrix(gs))
    return [sol[k] for k in range(m + 1)], [mpmath.mpf(1)], sol[m + 1]


def _levelled_rational(pb: _Problem, ref: list[Any], m: int, n: int,
                       ts: list[Any]) -> tuple[list[Any], list[Any], Any]:
    """p/q (degrees m, n; q(0) = 1) levelled at the m + n + 2 reference points.

    A c = E B c with A = [V_p | -diag(g) V_q], B = [0 | diag(s/w) V_q]. Multiplying
    by a basis Q2 of range(V_p)'s orthogonal complement removes p:
    (Q2' diag(s/w) V_q)^-1 (-Q2' diag(g) V_q) q = E q.
    """
    N = m + n + 2
    gs = [pb.g(t) for t in ref]
    Vp = mpmath.matrix(N, m + 1)
    for i, t in enumerate(ref):
        for k in range(m + 1):
            Vp[i, k] = t ** k
    Q, _ = mpmath.qr(Vp, mode="full")
    Q2 = Q[:, m + 1:]
    GV, SV = mpmath.matrix(N, n + 1), mpmath.matrix(N, n + 1)
    for i, t in enumerate(ref):
        s = (-1) ** i * pb.inv_w(gs[i])
        for j in range(n + 1):
            GV[i, j] = -gs[i] * t ** j
            SV[i, j] = s * t ** j
    M = mpmath.inverse(Q2.T * SV) * (Q2.T * GV)
    E, ER = mpmath.eig(M)
    best = None
    for k, e in enumerate(E):
        if abs(mpmath.im(e)) > mpmath.mpf(2) ** (-mpmath.mp.prec // 2) * (1 + abs(e)):
            continue
        q = [mpmath.re(ER[j, k]) for j in range(n + 1)]
        if q[0] == 0:
            continue
        q = [v / q[0] for v in q]
        den = [_poly(q, t) for t in ts]
        if not (all(d > 0 for d in den) or all(d < 0 for d in den)):
            continue  # a pole in the interval
        if best is None or abs(mpmath.re(e)) < abs(best[0]):
            best = (mpmath.re(e), q)
    if best is None:
        raise BaselineError("no pole-free levelled rational at the reference")
    e, q = best
    rhs = mpmath.matrix([(gs[i] + (-1) ** i * e * pb.inv_w(gs[i])) * _poly(q, t)
                         for i, t in enumerate(ref)])
    p, _ = mpmath.qr_solve(Vp, rhs)
    return [p[k] for k in range(m + 1)], q, e


def _golden_max(h: Callable[[Any], Any], lo: Any, hi: Any, iters: int = 30) -> Any:
    """argmax of a unimodal h on [lo, hi] by golden-section search."""
    r = (mpmath.sqrt(5) - 1) / 2
    x1, x2 = hi - r * (hi - lo), lo + r * (hi - lo)
    h1, h2 = h(x1), h(x2)
    for _ in range(iters):
        if h1 >= h2:
            hi, x2, h2 = x2, x1, h1
            x1 = hi - r * (hi - lo)
            h1 = h(x1)
        else:
            lo, x1, h1 = x1, x2, h2
            x2 = lo + r * (hi - lo)
            h2 = h(x2)
    return x1 if h1 >= h2 else x2


def _extrema(pb: _Problem, p: list[Any], q: list[Any], ts: list[Any], gs: list[Any],
             npts: int) -> tuple[list[Any], list[Any]] | None:
    """npts alternating-sign extrema of the weighted error (refined), and their errors;
    None if the error is zero to working precision (f is itself such a polynomial/rational)."""

    def err(t: Any, gt: Any | None = None) -> Any:
        gt = pb.g(t) if gt is None else gt
        return (_rat(p, q, t) - gt) / pb.inv_w(gt)

    es = [err(t, g) for t, g in zip(ts, gs)]
    if max(abs(e) for e in es) <= mpmath.mpf(2) ** (24 - mpmath.mp.prec):
        return None   # g is (numerically) exactly p/q: nothing left to level
    # One extremum per run of equal sign: alternation by construction.
    idx: list[int] = []
    for j, e in enumerate(es):
        if idx and (e >= 0) == (es[idx[-1]] >= 0):
            if abs(e) > abs(es[idx[-1]]):
                idx[-1] = j
        else:
            idx.append(j)
    if len(idx) < npts:
        raise BaselineError(f"error has {len(idx)} sign alternations, {npts} needed")
    # Drop the smallest extrema, in adjacent pairs inside or one at an end.
    while len(idx) > npts:
        k = min(range(len(idx)), key=lambda i: abs(es[idx[i]]))
        if len(idx) - npts >= 2 and 0 < k < len(idx) - 1:
            nb = k - 1 if abs(es[idx[k - 1]]) < abs(es[idx[k + 1]]) else k + 1
            for i in sorted((k, nb), reverse=True):
                del idx[i]
        else:
            del idx[0 if abs(es[idx[0]]) < abs(es[idx[-1]]) else -1]
    ref, vals = [], []
    for j in idx:
        if 0 < j < len(ts) - 1:
            s = 1 if es[j] >= 0 else -1
            t = _golden_max(lambda u: s * err(u), ts[j - 1], ts[j + 1])
            e = err(t)
            if abs(e) < abs(es[j]):
                t, e = ts[j], es[j]
        else:
            t, e = ts[j], es[j]
        ref.append(t)
        vals.append(e)
    return ref, vals


def _remez(pb: _Problem, ts: list[Any], gs: list[Any], m: int, n: int,
           ref: list[Any] | None = None) -> tuple[list[Any], list[Any], Any, list[Any]]:
    """Minimax p/q (degrees m, n) of g with weight w: (p, q, levelled error, reference)."""
    npts = m + n + 2
    if ref is None:
        ref = _cheb(pb.ta, pb.tb, npts)
    ratio = mpmath.inf
    for _ in range(_REMEZ_ITERS):
        if n == 0:
            p, q, E = _levelled_poly(pb, ref, m)
        else:
            p, q, E = _levelled_rational(pb, ref, m, n, ts)
        found = _extrema(pb, p, q, ts, gs, npts)
        if found is None:
            return p, q, mpmath.mpf(0), ref
        new_ref, vals = found
        ratio = max(abs(v) for v in vals) / abs(E)
        if ratio - 1 < _REMEZ_TOL:
            return p, q, abs(E), ref
        ref = new_ref
    if ratio - 1 < 1e-3:  # levelled to 0.1%: as good as minimax for float32 coefficients
        return p, q, abs(E), ref
    raise BaselineError(f"Remez exchange did not converge (max/levelled error = {float(ratio):.4g})")


# -- the four kinds -------------------------------------------------------------------

def _taylor_coeffs(pb: _Problem, order: int) -> list[Any]:
    try:
        a = mpmath.taylor(pb.f, mpmath.mpf(pb.c), order)
    except (ValueError, ZeroDivisionError, OverflowError) as e:
        raise BaselineError(f"cannot expand at x = {pb.c}: {e}") from None
    if not all(_real(v) for v in a):
        raise BaselineError(f"the Taylor series at x = {pb.c} is not real and finite")
    # mpmath.taylor raises its working precision: coefficients are accurate to the working precision
    # relative, and a zero by symmetry (erf's even terms) comes out exactly 0.
    if pb.factored:
        a[0] = mpmath.mpf(0)
    return a


def _max_error(pb: _Problem, p: list[Any], q: list[Any], ts: list[Any], gs: list[Any]) -> Any:
    """max weighted error on the grid, for kinds that do not level it. p, q fit g."""
    den = [_poly(q, t) for t in ts]
    if not (all(d > 0 for d in den) or all(d < 0 for d in den)):
        raise BaselineError("the denominator has a zero in the interval")
    return max(abs(_rat(p, q, t) - g) / pb.inv_w(g) for t, g in zip(ts, gs))


def split_degree(kind: str, degree: int) -> tuple[int, int]:
    """(numerator, denominator) degrees of a baseline of total degree `degree`."""
    if kind in RATIONAL_KINDS:
        return (degree + 1) // 2, degree // 2
    return degree, 0


def _compute(target: Target, kind: str, m: int, n: int) -> Approximation:
    pb, ts, gs = _grid(target)
    fm = m - 1 if pb.factored else m   # degree of the factor fitted to g = F/t
    if fm < 0:
        raise BaselineError(f"degree {m} is too low: f({pb.c}) = 0 is kept, which needs degree >= 1")
    ref: tuple[Any, ...] = ()
    if kind in ("taylor", "pade"):
        a = _taylor_coeffs(pb, m + n)
        if kind == "taylor":
            p, q = a, [mpmath.mpf(1)]
        else:
            try:
                p, q = mpmath.pade(a, m, n)
            except ZeroDivisionError:
                raise BaselineError(f"the Padé block [{m}/{n}] is degenerate at x = {pb.c}") from None
            q0 = q[0]
            p, q = [v / q0 for v in p], [v / q0 for v in q]
            if pb.factored:
                p[0] = mpmath.mpf(0)
        gp = p[1:] if pb.factored else p   # F = t * g: compare the factor with g
        err = _max_error(pb, gp, q, ts, gs)
    elif kind in ("minimax", "rational"):
        start = None
        if n > 0:   # start from the polynomial minimax's reference (same number of points)
            start = [t - pb.c for t in approximation(target, "minimax", fm + n + (1 if pb.factored else 0)).reference]
        gp, q, err, tref = _remez(pb, ts, gs, fm, n, start)
        p = [mpmath.mpf(0)] + gp if pb.factored else gp
        ref = tuple(t + pb.c for t in tref)
    else:
        raise EvoError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    # mpmath's linear algebra works with guard digits: round to the working precision
    # (deterministic, and the cache round trip is exact)
    p, q, ref = [+v for v in p], [+v for v in q], tuple(+v for v in ref)
    return Approximation(kind, m, n, pb.c, tuple(p), tuple(q), float(err),
                         "relative" if pb.relative else "absolute", pb.factored, ref)


def _cache_key(target: Target, kind: str, m: int, n: int) -> str:
    lo, hi = target.interval
    return f"{target.expr}|{lo!r},{hi!r}|{kind}|{m}/{n}|{precision_for(m, n)}|{_GRID}|v{_VERSION}"


def _enc(v: Any) -> list:
    """Exact: [signed mantissa, exponent] (man_exp drops the sign)."""
    v = mpmath.mpf(v)
    man, exp = v.man_exp
    return [str(-man if v < 0 else man), int(exp)]


def _dec(v: list) -> Any:
    man = int(v[0])
    with mpmath.workprec(max(PREC, man.bit_length() + 1)):   # exact, whatever the width
        return mpmath.ldexp(mpmath.mpf(man), int(v[1]))


def approximation(target: Target, kind: str, degree: int) -> Approximation:
    """The exact-arithmetic approximation of `kind` and total `degree` (cached on disk).

    Raises BaselineError if it cannot be built for this target.
    """
    m, n = split_degree(kind, degree)
    key = _cache_key(target, kind, m, n)
    path = cache_dir() / "baselines" / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")
    with mpmath.workprec(precision_for(m, n)):
        try:
            d = json.loads(path.read_text())
            if d.get("key") == key:
                if "unavailable" in d:
                    raise BaselineError(d["unavailable"])
                return Approximation(kind, m, n, float(d["center"]), tuple(map(_dec, d["num"])),
                                     tuple(map(_dec, d["den"])), float(d["error"]), d["weight"],
                                     bool(d["factored"]), tuple(map(_dec, d["reference"])))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        try:
            ap = _compute(target, kind, m, n)
            d = {"key": key, "center": ap.center, "num": [_enc(v) for v in ap.num],
                 "den": [_enc(v) for v in ap.den], "error": ap.error, "weight": ap.weight,
                 "factored": ap.factored, "reference": [_enc(v) for v in ap.reference]}
        except BaselineError as e:
            ap, d = None, {"key": key, "unavailable": str(e)}
    save_json(path, d)
    if ap is None:
        raise BaselineError(d["unavailable"])
    return ap


# -- programs --------------------------------------------------------------------------

def build_program(ap: Approximation, form: str) -> Program:
    """`ap` with float32 coefficients as a Horner ("horner") or fma Horner ("fma") Program."""
    if form not in FORMS:
        raise EvoError(f"unknown form {form!r} (known: {', '.join(FORMS)})")
    b = Builder()
    t = 0 if ap.center == 0 else b.emit("sub", 0, b.emit(CONST, value=ap.center))

    def horner(coeffs: Sequence[Any]) -> int:
        # a zero coefficient (kept zero of f, erf's even terms) costs just the mul
        return b.horner([round_f32(v) for v in coeffs], t, fma=form == "fma")

    out = horner(ap.num)
    if any(round_f32(v) != 0 for v in ap.den[1:]):   # den == 1 (erf's Padé [1/1]): no div
        out = b.emit("div", out, horner(ap.den))
    try:
        return b.program(out)
    except ProgramError as e:  # a coefficient beyond float32 range
        raise BaselineError(f"cannot build the program: {e}") from None


# -- scored baselines --------------------------------------------------------------------

@dataclass(frozen=True)
class Baseline:
    """A classical approximation as a float32 Program, with its score."""

    name: str                 # e.g. "minimax6-fma", "pade3/3-horner"
    kind: str                 # taylor | minimax | pade | rational
    form: str                 # horner | fma
    degree: int               # total degree (numerator + denominator for rationals)
    num_degree: int
    den_degree: int
    program: Program
    stats: ErrorStats         # on the scorer's validation set (exhaustive: see `verified`)
    unit: str                 # the scorer's metric unit: "ulp"
    approximation: Approximation
    verified: dict | None = None   # the exhaustive check (VerifyResult.to_dict()), where made (`checked`)

    @property
    def ops(self) -> int:
        return self.program.n_ops

    @property
    def max_error(self) -> float:
        """The best known max: exhaustive where checked, else the validation sample's."""
        return float(self.verified["max_ulp"]) if self.verified else self.stats.max

    @property
    def mean_error(self) -> float:
        return float(self.verified["mean_ulp"]) if self.verified else self.stats.mean

    @property
    def error_on(self) -> str:
        """Where max_error was measured: exhaustive or validation (as a front member's)."""
        return "exhaustive" if self.verified else "validation"

    def to_dict(self) -> dict:
        """The record: flat max/mean/argmax are the best known error's (as a front member's)."""
        ap, unit = self.approximation, self.unit
        best = {f"max_{unit}": json_float(self.max_error), f"mean_{unit}": json_float(self.mean_error),
                "argmax": self.verified.get("argmax") if self.verified else self.stats.argmax}
        return {"name": self.name, "kind": self.kind, "form": self.form, "degree": self.degree,
                "num_degree": self.num_degree, "den_degree": self.den_degree, "ops": self.ops,
                **best, "error_on": self.error_on, "exhaustive": self.verified is not None,
                "validation": self.stats.to_dict(unit), "verified": self.verified,
                "center": ap.center, "weight": ap.weight, "approx_error": json_float(ap.error),
                "program": to_dict(self.program)}


CHECKS = ("none", "cached", "all")   # baselines' exhaustive checks: none, those already made, all


def checked(rows: list[Baseline], target: Target, verify: Callable[..., Any], platform: str, mode: str = "cached",
            progress: Callable[[int, int], None] | None = None) -> list[Baseline]:
    """The rows with their exhaustive checks (`verify(program, target)`, a VerifyResult):
    read from the cache (keyed by platform, target, interval and program), and with mode
    "all" made where missing and cached; mode "cached" makes none, "none" reads none."""
    if mode not in CHECKS:
        raise EvoError(f"unknown baseline check mode {mode!r} (known: {', '.join(CHECKS)})")
    if mode == "none":
        return rows
    out = []
    for i, b in enumerate(rows):
        path = _check_path(b.program, target, platform)
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            result = None
        if result is None and mode == "all":
            result = verify(b.program, target).to_dict()
            save_json(path, result)
        out.append(replace(b, verified=result) if result else b)
        if progress:
            progress(i + 1, len(rows))
    return out


def _check_path(p: Program, target: Target, platform: str) -> Any:
    lo, hi = target.interval
    key = json.dumps([_VERSION, platform, target.expr, float(lo), float(hi), to_dict(p)], sort_keys=True)
    return cache_dir() / "baselines" / f"checked-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def baseline_name(kind: str, degree: int, form: str) -> str:
    m, n = split_degree(kind, degree)
    return f"{kind}{m}/{n}-{form}" if kind in RATIONAL_KINDS else f"{kind}{degree}-{form}"


def baselines(target: Target, scorer: Scorer, degrees: Iterable[int] = range(2, 9), kinds: Iterable[str] = KINDS,
              forms: Iterable[str] = FORMS, on_skip: Callable[[str, str], None] | None = None) -> list[Baseline]:
    """Every kind x degree x form baseline for `target`, scored on `scorer`'s validation set
    (the float32 platform's, evo.platforms.float32.baselines). Rational kinds need degree >= 2 (degree 1 would
    be a polynomial) and are skipped below it. A baseline that cannot be built is
    skipped and on_skip(name, reason) is called (default: a warning).
    Order: kind, then degree, then form.
    """
    kinds, forms, degrees = list(kinds), list(forms), sorted(set(degrees))
    for k in kinds:
        if k not in KINDS:
            raise EvoError(f"unknown kind {k!r} (known: {', '.join(KINDS)})")
    for f in forms:
        if f not in FORMS:
            raise EvoError(f"unknown form {f!r} (known: {', '.join(FORMS)})")
    for d in degrees:
        if not (isinstance(d, (int, np.integer)) and 1 <= d <= MAX_DEGREE):
            raise EvoError(f"degree {d!r} must be an integer between 1 and {MAX_DEGREE}")
    skip = on_skip or (lambda name, why: warnings.warn(f"baseline {name} skipped: {why}", stacklevel=3))
    out: list[Baseline] = []
    for kind in kinds:
        for d in degrees:
            m, n = split_degree(kind, int(d))
            if kind in RATIONAL_KINDS and n == 0:
                continue
            try:
                ap = approximation(target, kind, int(d))
                progs = [(form, build_program(ap, form)) for form in forms]
            except BaselineError as e:
                skip(baseline_name(kind, int(d), "*").removesuffix("-*"), str(e))
                continue
            for form, prog in progs:
                out.append(Baseline(baseline_name(kind, int(d), form), kind, form, int(d), m, n, prog,
                                    scorer.score(prog, "validation"), scorer.unit, ap))
    return out


def parse_degrees(text: str) -> list[int]:
    """'2-8' -> [2, ..., 8]; also '6' and '2,4,6-8'. EvoError with one line otherwise."""
    out: list[int] = []
    for part in text.split(","):
        mt = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not mt:
            raise EvoError(f"{{--degrees}} {text!r}: expected a degree N or a range LO-HI, e.g. 2-8")
        lo = int(mt.group(1))
        hi = int(mt.group(2)) if mt.group(2) is not None else lo
        if lo > hi:
            raise EvoError(f"{{--degrees}} {text!r}: range {lo}-{hi} is reversed (use LO-HI with LO <= HI)")
        if lo < 1 or hi > MAX_DEGREE:
            raise EvoError(f"{{--degrees}} {text!r}: degrees must be between 1 and {MAX_DEGREE}")
        out.extend(range(lo, hi + 1))
    return sorted(set(out))


__all__ = ["KINDS", "FORMS", "MAX_DEGREE", "RATIONAL_KINDS", "CHECKS", "Approximation", "Baseline", "BaselineError",
           "approximation", "baselines", "checked", "baseline_name", "build_program", "parse_degrees", "split_degree"]
