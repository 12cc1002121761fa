"""Certified max relative error of a reals-mode program (`evo verify P.json -t T --reals`).

What is certified: the real-number function the program's ops compute with its
float64 constants (as AutoNumerics-Zero certifies its programs), over every real x of
the closed interval, against the target's exact function. At a point where an
intermediate value is infinite (c / x at x = 0) the value is IEEE's extended one
(c / 0 = +inf, c / inf = 0), which is what the float64 program computes and, for a
removable singularity, the limit. The float64 evaluation of the exported code adds
its own rounding (~1e-16 per op); that is measured on the dense sample and reported
beside the bound, not certified.

How: the relative error is e(x) = D(x) / f(x) with D = P - f. Both P and f are
analytic on each piece X = [m - r, m + r] away from singular points, so on X

    D(m + t) = sum_{k<K} D_k t^k + R t^K,   R in {D's K-th Taylor coefficient at xi, xi in X}

where the D_k are P's and f's Taylor coefficients at the point m, computed with
Taylor-series arithmetic over mpmath's interval arithmetic (`iv`, outward rounding,
128 bits), and R encloses the K-th coefficient over the whole of X (the same series
arithmetic at the interval X). P - f cancels to ~1e-15 in the D_k, which are thin,
so nothing of that cancellation is lost to interval overestimation; only the tiny
R t^K term is taken over X. |D| is then bounded on sub-pieces of t by the mean-value
form of the polynomial (cheap), bisecting until every piece's bound is within
`tolerance` of the dense sample's max; pieces whose R is too big are split and
expanded again. A piece that holds a singular point (the series diverge there) is
bounded by plain extended interval arithmetic, split toward the point until its
bound is small or its width tiny. If the output's enclosure stays unbounded the
program has a pole: certification fails with where, never a made-up bound.

Where f has a zero at an end of the interval (erf at 0, log at 1), D and f are
expanded at that end and both divided by (x - end), which needs P to be exactly 0
there (else the relative error is infinite, and certification says so).

Target functions: exp, exp2, expm1, log, log2, log10, log1p, sqrt, sin, cos, sinh,
cosh, tanh, atan, erf, erfc, with + - * / and integer powers. erf/erfc values at a
point come from mpmath at 64 extra bits, widened by 2^-(prec-8) (not outward-rounded
by mpmath itself); everything else is mpmath `iv`.
"""
from __future__ import annotations

import ast
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import mpmath
import numpy as np
from mpmath import iv

from primitives import OPS
from targets import Target
from targets.expr import parse

from ..core.doubledouble import relative_errors
from ..core.interp import evaluate
from ..core.ir import CONST, Program, X, live_instrs
from ..core.numbers import digits
from ..core.walk import missing, walk
from ..errors import EvoError

PREC = 128
ORDER = 12            # Taylor terms per piece
PIECES = 16           # initial split of the interval
TOLERANCE = 0.05      # aim: bound within 5% of the sampled max (the goal is 10%)
MAX_DEPTH = 90        # halvings of a piece (reaches ~1e-27 of the interval: singular points)
MAX_T_DEPTH = 24      # halvings of t within a piece
T_NODES = 400         # sub-pieces of t tried before the piece itself is split
DEADLINE = 600.0      # seconds: a proof not done by then is given up (certificate says so)
FRONT_DEADLINE = 120.0   # ...per member when a search certifies its front (side by side on all cores)
CERTIFY_BELOW = 1e-3     # a search certifies its front members under this max relative error
SAMPLE = 20_001       # dense sample (double-double) for the sampled max
REFINE = 8            # top sample peaks refined in mpmath


class CertifyError(EvoError):
    """The program or target cannot be certified (unbounded, unsupported function)."""


@dataclass(frozen=True)
class Certificate:
    """A proven upper bound on max |P(x) - f(x)| / |f(x)| over the interval, or why not."""

    ok: bool
    bound: float | None            # certified upper bound (real-number function, float64 constants)
    sampled_max: float             # max over the dense sample, refined at its peaks (mpmath)
    argmax: float                  # where the sampled max is
    interval: tuple[float, float]
    sample_points: int
    pieces: int                    # pieces of the interval the proof used
    seconds: float
    float64_sampled_max: float | None = None   # the float64 evaluation's max on the sample (not certified)
    reason: str = ""               # why not certified, when ok is False
    what: str = ("the real-number function of the program with its float64 constants, every real x "
                 "of the interval (mpmath interval arithmetic, Taylor models)")

    @property
    def digits(self) -> float:
        return digits(self.bound) if self.ok and self.bound is not None else 0.0

    @property
    def tightness(self) -> float | None:
        """bound / sampled max - 1 (the goal: <= 0.10)."""
        if not self.ok or not self.bound or not self.sampled_max:
            return None
        return self.bound / self.sampled_max - 1.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["interval"] = list(self.interval)
        d["digits"] = self.digits
        d["tightness"] = self.tightness
        return d


# -- Taylor series over interval arithmetic -------------------------------------------------

def _iv(v: Any) -> Any:
    return v if type(v).__name__ == "ivmpf" else iv.mpf(v)


def _unbounded(v: Any) -> bool:
    a, b = v._mpi_
    return a in (mpmath.libmp.fninf, mpmath.libmp.fnan) or b in (mpmath.libmp.finf, mpmath.libmp.fnan)


def _contains_zero(v: Any) -> bool:
    return 0 in v


class Divergent(Exception):
    """A series operation divided by an interval holding 0 (a singular point in the piece)."""

    def __init__(self, op: str) -> None:
        super().__init__(op)
        self.op = op


class TS:
    """A truncated Taylor series sum c_k t^k (k < n) with interval coefficients."""

    __slots__ = ("c",)

    def __init__(self, c: list) -> None:
        self.c = c

    @property
    def n(self) -> int:
        return len(self.c)

    @staticmethod
    def const(v: Any, n: int) -> "TS":
        return TS([_iv(v)] + [iv.mpf(0)] * (n - 1))

    def _lift(self, o: Any) -> "TS":
        return o if isinstance(o, TS) else TS.const(o, self.n)

    def __add__(self, o: Any) -> "TS":
        o = self._lift(o)
        return TS([a + b for a, b in zip(self.c, o.c)])

    __radd__ = __add__

    def __neg__(self) -> "TS":
        return TS([-a for a in self.c])

    def __pos__(self) -> "TS":
        return self

    def __sub__(self, o: Any) -> "TS":
        return self + (-self._lift(o))

    def __rsub__(self, o: Any) -> "TS":
        return self._lift(o) - self

    def __mul__(self, o: Any) -> "TS":
        if not isinstance(o, TS):
            o = _iv(o)
            return TS([a * o for a in self.c])
        n = self.n
        return TS([_dot(self.c, o.c, k) for k in range(n)])

    __rmul__ = __mul__

    def __truediv__(self, o: Any) -> "TS":
        o = self._lift(o)
        b0 = o.c[0]
        if _contains_zero(b0):
            raise Divergent("div")
        q: list = []
        for k in range(self.n):
            s = self.c[k]
            for i in range(1, k + 1):
                s = s - o.c[i] * q[k - i]
            q.append(s / b0)
        return TS(q)

    def __rtruediv__(self, o: Any) -> "TS":
        return self._lift(o) / self

    def __pow__(self, e: Any) -> "TS":
        if isinstance(e, int) or (isinstance(e, float) and e.is_integer()):
            e = int(e)
            if e < 0:
                return TS.const(1, self.n) / (self ** -e)
            out, base = TS.const(1, self.n), self
            while e:
                if e & 1:
                    out = out * base
                base = base * base
                e >>= 1
            return out
        return exp(log(self) * e)

    def __rpow__(self, base: Any) -> "TS":  # c ** x
        return exp(self * iv.log(_iv(base)))


def _dot(a: list, b: list, k: int) -> Any:
    s = a[0] * b[k]
    for i in range(1, k + 1):
        s = s + a[i] * b[k - i]
    return s


def _deriv_rec(u: TS, w0: Any, g: TS | None = None) -> TS:
    """w with w' = g u' and w(0) = w0 (g = w itself when None, i.e. w = exp(u)):
    k w_k = sum_{j=1..k} j u_j g_{k-j}."""
    w = [w0]
    gc = w if g is None else g.c
    for k in range(1, u.n):
        s = iv.mpf(0)
        for j in range(1, k + 1):
            s = s + j * u.c[j] * gc[k - j]
        w.append(s / k)
    return TS(w)


def exp(u: Any) -> Any:
    if not isinstance(u, TS):
        return iv.exp(_iv(u))
    return _deriv_rec(u, iv.exp(u.c[0]))


def log(u: Any) -> Any:
    if not isinstance(u, TS):
        return iv.log(_iv(u))
    u0 = u.c[0]
    if not u0 > 0:
        raise CertifyError("log of a value that is not positive on the interval")
    w = [iv.log(u0)]
    for k in range(1, u.n):
        s = u.c[k]
        for j in range(1, k):
            s = s - (iv.mpf(j) / k) * w[j] * u.c[k - j]
        w.append(s / u0)
    return TS(w)


def sqrt(u: Any) -> Any:
    if not isinstance(u, TS):
        return iv.sqrt(_iv(u))
    w = [iv.sqrt(u.c[0])]
    if _contains_zero(w[0]):
        raise Divergent("sqrt")
    for k in range(1, u.n):
        s = u.c[k]
        for j in range(1, k):
            s = s - w[j] * w[k - j]
        w.append(s / (2 * w[0]))
    return TS(w)


def sin_cos(u: TS) -> tuple[TS, TS]:
    s, c = [iv.sin(u.c[0])], [iv.cos(u.c[0])]
    for k in range(1, u.n):
        a, b = iv.mpf(0), iv.mpf(0)
        for j in range(1, k + 1):
            a = a + j * u.c[j] * c[k - j]
            b = b + j * u.c[j] * s[k - j]
        s.append(a / k)
        c.append(-b / k)
    return TS(s), TS(c)


def sin(u: Any) -> Any:
    return sin_cos(u)[0] if isinstance(u, TS) else iv.sin(_iv(u))


def cos(u: Any) -> Any:
    return sin_cos(u)[1] if isinstance(u, TS) else iv.cos(_iv(u))


def _monotone(fn: Callable[[Any], Any], v: Any, increasing: bool = True) -> Any:
    """An enclosure of a monotone mpmath function over the interval v: its values at the
    ends at 64 more bits, widened by 2^-(PREC-8) relative (mpmath's own accuracy there
    is ~2^-(PREC+64))."""
    a, b = (mpmath.mpf(e) for e in v._mpi_)
    with mpmath.workprec(iv.prec + 64):
        fa, fb = fn(a), fn(b)
    lo, hi = (fa, fb) if increasing else (fb, fa)
    eps = mpmath.mpf(2) ** -(iv.prec - 8)
    tiny = mpmath.mpf(2) ** -(2 * iv.prec)

    def widen(v: mpmath.mpf, s: int) -> mpmath.mpf:
        return v if v == 0 else v + s * (abs(v) * eps + tiny)   # exact zeros (erf(0)) stay exact

    return iv.mpf([widen(lo, -1), widen(hi, 1)])


def erf(u: Any) -> Any:
    if not isinstance(u, TS):
        return _monotone(mpmath.erf, _iv(u))
    g = exp(-(u * u)) * (2 / iv.sqrt(iv.pi))
    return _deriv_rec(u, _monotone(mpmath.erf, u.c[0]), g)


def erfc(u: Any) -> Any:
    return 1 - erf(u)


def atan(u: Any) -> Any:
    if not isinstance(u, TS):
        return iv.atan(_iv(u))
    g = TS.const(1, u.n) / (1 + u * u)
    return _deriv_rec(u, iv.atan(u.c[0]), g)


def _ln2() -> Any:
    return iv.log(iv.mpf(2))


TS_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "exp": exp, "exp2": lambda u: exp(u * _ln2()), "expm1": lambda u: exp(u) - 1,
    "log": log, "log2": lambda u: log(u) / _ln2(), "log10": lambda u: log(u) / iv.log(iv.mpf(10)),
    "log1p": lambda u: log(1 + u), "sqrt": sqrt, "sin": sin, "cos": cos,
    "sinh": lambda u: (exp(u) - exp(-u)) / 2, "cosh": lambda u: (exp(u) + exp(-u)) / 2,
    "tanh": lambda u: (exp(u) - exp(-u)) / (exp(u) + exp(-u)), "atan": atan, "erf": erf, "erfc": erfc,
}
TS_CONSTANTS: dict[str, Callable[[], Any]] = {"pi": lambda: iv.pi, "e": lambda: iv.e, "ln2": _ln2}


def target_series(expr: str) -> Callable[[TS], TS]:
    """f as a function of a Taylor series (the target's expression, on TS arithmetic)."""
    tree = parse(expr)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.func.id not in TS_FUNCTIONS:
            raise CertifyError(f"certification does not support {node.func.id}() in the target "
                               f"(supported: {', '.join(TS_FUNCTIONS)})")
    code = compile(tree, "<target>", "eval")

    def f(t: TS) -> TS:
        env = dict(TS_FUNCTIONS) | {k: c() for k, c in TS_CONSTANTS.items()} | {"x": t}
        v = eval(code, {"__builtins__": {}}, env)  # noqa: S307 - a checked expression (targets.expr)
        return v if isinstance(v, TS) else TS.const(v, t.n)

    return f


def _series_div(a: TS, b: TS) -> TS:
    return a / b


# The walker's domains of certification, keyed by the op table's names: Taylor series
# with interval coefficients (the op table's exact meaning works on them for the
# arithmetic ops; sqrt is the series one), plain intervals (order 0, extended: 1/[0, h]
# = [1/h, inf]) and mpmath points with IEEE's rules at a singular point.
SERIES = {name: OPS[name].exact for name in ("add", "sub", "mul", "div", "neg", "fma")} | {"sqrt": lambda a: sqrt(a)}
INTERVAL = {name: OPS[name].exact for name in ("add", "sub", "mul", "div", "neg", "fma")} | {"sqrt": iv.sqrt}


def _mp_div(a: Any, b: Any) -> Any:
    """a / b on mpmath numbers as IEEE computes it at a singular point: c / 0 = +-inf, c / inf = 0."""
    if b == 0:
        return mpmath.inf * mpmath.sign(a) if a != 0 else mpmath.nan
    if mpmath.isinf(b):
        return mpmath.mpf(0) if mpmath.isfinite(a) else mpmath.nan
    return a / b


MPMATH = {name: OPS[name].exact for name in OPS} | {"div": _mp_div}


def program_series(p: Program) -> Callable[[TS], TS]:
    """The program as a function of a Taylor series (float64 constants, exact)."""
    bad = missing(SERIES, [ins.op for _, ins in live_instrs(p) if ins.op not in (X, CONST)])
    if bad:
        raise CertifyError(f"certification does not support op {bad[0]!r}")

    def f(t: TS) -> TS:
        try:
            return walk(p, SERIES, t, lambda i, v: TS.const(iv.mpf(v), t.n))
        except Divergent as e:
            raise Divergent(f"{e.op} at slot {e.walk_slot}") from None

    return f


def _plain(p: Program, xv: Any) -> tuple[Any, str]:
    """Order-0 extended interval evaluation of the program over xv (1/[0, h] = [1/h, inf]);
    and the first division by an interval holding 0, if any."""
    where: list[str] = []   # "div", then (named after the op) "at slot i": the first such division

    def div(a: Any, b: Any) -> Any:
        if _contains_zero(b) and not where:
            where.append("div")
        return a / b

    def name(i: int, v: Any) -> Any:
        if len(where) == 1:
            where.append(f"at slot {i}")
        return v

    y = walk(p, INTERVAL | {"div": div}, xv, lambda i, v: iv.mpf(v), name)
    return y, " ".join(where)


# -- bounds on pieces ------------------------------------------------------------------------

def _mag(v: Any) -> mpmath.mpf:
    """max |v| over the interval v (inf if unbounded)."""
    a, b = (mpmath.mpf(e) for e in v._mpi_)
    if mpmath.isnan(a) or mpmath.isnan(b):
        return mpmath.inf
    return max(abs(a), abs(b))


def _mig(v: Any) -> mpmath.mpf:
    """min |v| over the interval v (0 if it holds 0)."""
    a, b = (mpmath.mpf(e) for e in v._mpi_)
    if mpmath.isnan(a) or mpmath.isnan(b) or (a <= 0 <= b):
        return mpmath.mpf(0)
    return min(abs(a), abs(b))


def _horner(c: list, t: Any) -> Any:
    acc = c[-1]
    for v in reversed(c[:-1]):
        acc = acc * t + v
    return acc


@dataclass
class _Piece:
    a: mpmath.mpf
    b: mpmath.mpf
    depth: int = 0


@dataclass
class _Proof:
    goal: mpmath.mpf
    bound: mpmath.mpf = field(default_factory=lambda: mpmath.mpf(0))
    pieces: int = 0
    estimate: mpmath.mpf = field(default_factory=lambda: mpmath.mpf(0))   # largest point estimate seen
    estimate_at: mpmath.mpf = field(default_factory=lambda: mpmath.mpf(0))


def _bound_poly(dc: list, dr: Any, fc: list, fr: Any, t0: mpmath.mpf, t1: mpmath.mpf, proof: _Proof,
                base: mpmath.mpf, sign: int) -> mpmath.mpf | None:
    """Bound |D| / |F| for t in [t0, t1], D(t) = sum dc_k t^k + dr t^K (F alike), by the
    mean-value form on halvings of [t0, t1]; returns the largest piece bound (None: too
    many halvings needed, split the piece)."""
    K = len(dc)
    ddc = [dc[k] * k for k in range(1, K)] or [iv.mpf(0)]
    worst = mpmath.mpf(0)
    stack = [(t0, t1, 0)]
    nodes = 0
    while stack:
        nodes += 1
        if nodes > T_NODES:
            return None  # the polynomial is too wiggly on this piece: split the piece instead
        u0, u1, depth = stack.pop()
        T = iv.mpf([u0, u1])
        tm = iv.mpf((u0 + u1) / 2)
        rem_d = dr * T ** K
        dval = _horner(dc, tm) + _horner(ddc, T) * (T - tm) + rem_d
        fval = _horner(fc, T) + fr * T ** K
        den = _mig(fval)
        if den == 0:
            return mpmath.inf
        b = _mag(dval) / den
        fm = _mig(_horner(fc, tm))
        est = _mag(_horner(dc, tm)) / fm if fm > 0 else mpmath.mpf(0)   # the value at tm, near enough
        if est > proof.estimate:
            proof.estimate, proof.estimate_at = est, base + sign * (u0 + u1) / 2
            proof.goal = max(proof.goal, est * (1 + TOLERANCE))
        if b <= proof.goal or depth >= MAX_T_DEPTH:
            worst = max(worst, b)
            continue
        mid = (u0 + u1) / 2
        stack += [(u0, mid, depth + 1), (mid, u1, depth + 1)]
    return worst


def _series_at(P: Callable, F: Callable, point: Any, n: int) -> tuple[list, list]:
    t = TS([point, iv.mpf(1)] + [iv.mpf(0)] * (n - 2))
    return P(t).c, F(t).c


def _prove_piece(p: Program, P: Callable, F: Callable, fplain: Callable, piece: _Piece, proof: _Proof,
                 zero_end: mpmath.mpf | None) -> list[_Piece]:
    """Bound the relative error on one piece (proof.bound grows); the pieces still to do."""
    a, b = piece.a, piece.b
    K = ORDER
    try:
        if zero_end is not None and (zero_end == a or zero_end == b):
            # f(end) = 0: expand at the end and divide D and f by (x - end).
            sign = 1 if zero_end == a else -1
            pc, fc = _series_at(P, F, iv.mpf(zero_end), K + 1)
            if sign < 0:  # t = end - x: flip odd coefficients
                pc = [c * (-1) ** k for k, c in enumerate(pc)]
                fc = [c * (-1) ** k for k, c in enumerate(fc)]
            if _mag(pc[0]) != 0:
                raise CertifyError(f"unbounded: f({float(zero_end)!r}) = 0 but the program is not exactly 0 there "
                                   "(the relative error is infinite)")
            px, fx = _series_at(P, F, iv.mpf([a, b]), K + 1)
            dc = [pc[k] - fc[k] for k in range(1, K)]
            dr = (px[K] - fx[K]) * (1 if sign > 0 or K % 2 == 0 else -1)
            fcs = fc[1:K]
            fr = fx[K] * (1 if sign > 0 or K % 2 == 0 else -1)
            w = b - a
            if _mag(dr) * w ** (K - 1) > proof.goal * TOLERANCE * 0.5 * _mig(fcs[0]) and piece.depth < MAX_DEPTH:
                return _halves(piece)
            bnd = _bound_poly(dc, dr, fcs, fr, mpmath.mpf(0), w, proof, zero_end, sign)
        else:
            m = (a + b) / 2
            r = (b - a) / 2
            pc, fc = _series_at(P, F, iv.mpf(m), K)
            px, fx = _series_at(P, F, iv.mpf([a, b]), K + 1)
            dc = [pc[k] - fc[k] for k in range(K)]
            dr, fr = px[K] - fx[K], fx[K]
            fmin = _mig(fc[0])
            if fmin == 0:
                raise CertifyError(f"the target is 0 inside the interval near x = {float(m)!r}: "
                                   "relative error certification needs its zeros at an end of the interval")
            if (_mag(dr) * r ** K > proof.goal * TOLERANCE * 0.5 * fmin or _mag(fr) * r ** K > fmin / 64) \
                    and piece.depth < MAX_DEPTH:
                return _halves(piece)
            bnd = _bound_poly(dc, dr, fc, fr, -r, r, proof, m, 1)
    except Divergent as e:
        return _singular(p, fplain, piece, proof, e.op)
    if bnd is None:
        if piece.depth >= MAX_DEPTH:
            raise CertifyError(f"no bound near x = {float((a + b) / 2)!r}: the program's values vary too fast there "
                               "(a pole of an intermediate value nearby, even if the output stays finite?)")
        return _halves(piece)
    proof.bound = max(proof.bound, bnd)
    proof.pieces += 1
    return []


def _affine_poles(p: Program) -> list[mpmath.mpf]:
    """Exact zeros of divisors of the form x + c, x - c, c - x (c a float64 constant):
    c / (0.477 - x) is infinite at x = 0.477 exactly, where the program may still be
    finite (IEEE: c / inf = 0 downstream). A piece is split exactly there, so that on
    each side the divisor's interval is one-signed, [0, d], and extended interval
    arithmetic (c / [0, d] = [c/d, inf]) bounds the program on both sides."""
    out = []
    for _, ins in live_instrs(p):
        if ins.op != "div":
            continue
        d = p.instrs[ins.args[1]]
        if d.op not in ("add", "sub") or len(d.args) != 2:
            continue
        a, b = (p.instrs[k] for k in d.args)
        if a.op == X and b.op == CONST:
            out.append(mpmath.mpf(b.value) * (1 if d.op == "sub" else -1))
        elif a.op == CONST and b.op == X:
            out.append(mpmath.mpf(a.value) * (1 if d.op == "sub" else -1))
    return out


def _singular(p: Program, fplain: Callable, piece: _Piece, proof: _Proof, op: str) -> list[_Piece]:
    """A piece where the series diverge (it holds a singular point): split exactly at a
    divisor's zero inside it; else plain extended interval arithmetic, split until small
    enough or unbounded at the finest width."""
    for q in _affine_poles(p):
        if piece.a < q < piece.b:
            return [_Piece(piece.a, q, piece.depth + 1), _Piece(q, piece.b, piece.depth + 1)]
    X = iv.mpf([piece.a, piece.b])
    y, where = _plain(p, X)
    fx = fplain(X)
    d = y - fx
    den = _mig(fx)
    bnd = _mag(d) / den if den > 0 else mpmath.inf
    if bnd <= proof.goal:
        proof.bound = max(proof.bound, bnd)
        proof.pieces += 1
        return []
    if piece.depth >= MAX_DEPTH or piece.b - piece.a <= mpmath.mpf(2) ** -1070:
        near = float((piece.a + piece.b) / 2)
        if not mpmath.isfinite(bnd) or _unbounded(y):
            raise CertifyError(f"unbounded: division by an interval containing 0 near x = {near!r} "
                               f"({where or op}; the program has a pole there)")
        proof.bound = max(proof.bound, bnd)   # valid, if loose
        proof.pieces += 1
        return []
    return _halves(piece)


def _halves(piece: _Piece) -> list[_Piece]:
    m = (piece.a + piece.b) / 2
    return [_Piece(piece.a, m, piece.depth + 1), _Piece(m, piece.b, piece.depth + 1)]


# -- the sampled max ---------------------------------------------------------------------------

def _mp_error(p: Program, f: Callable, x: mpmath.mpf) -> mpmath.mpf:
    """|P(x) - f(x)| / |f(x)| at one point, in mpmath (IEEE's inf rules at singular points)."""
    y, v = walk(p, MPMATH, x, lambda i, c: mpmath.mpf(c)), f(x)
    if v == 0:
        return mpmath.mpf(0) if y == 0 else mpmath.inf
    return abs(y - v) / abs(v) if mpmath.isfinite(y) else mpmath.inf


def sampled_max(p: Program, target: Target, n: int = SAMPLE) -> tuple[float, float, float | None, int]:
    """(max relative error, where, float64 evaluation's max, points) on a dense sample:
    n evenly spaced points (double-double), the top peaks refined by golden section in mpmath."""
    lo, hi = target.interval
    x = np.linspace(lo, hi, n)
    th, tl = target.exact(x)
    err = relative_errors(p, x, th, tl)
    with np.errstate(all="ignore"):
        y64 = evaluate(p, x, np.float64)
        e64 = np.abs((y64 - th) - tl) / np.abs(th)
    f64max = float(np.max(np.where(np.isfinite(e64), e64, np.inf))) if np.all(th != 0) else None
    f = target.mp
    with mpmath.workprec(PREC):
        best, at = mpmath.mpf(0), mpmath.mpf(lo)
        for i in np.argsort(np.where(np.isfinite(err), err, np.inf))[::-1][:REFINE]:
            a, b = x[max(i - 1, 0)], x[min(i + 1, n - 1)]
            u, v = mpmath.mpf(a), mpmath.mpf(b)
            g = (mpmath.sqrt(5) - 1) / 2
            c1, c2 = v - g * (v - u), u + g * (v - u)
            e1, e2 = _mp_error(p, f, c1), _mp_error(p, f, c2)
            for _ in range(40):
                if e1 >= e2:
                    v, c2, e2 = c2, c1, e1
                    c1 = v - g * (v - u)
                    e1 = _mp_error(p, f, c1)
                else:
                    u, c1, e1 = c1, c2, e2
                    c2 = u + g * (v - u)
                    e2 = _mp_error(p, f, c2)
            for xc, ec in ((c1, e1), (c2, e2), (mpmath.mpf(x[i]), _mp_error(p, f, mpmath.mpf(x[i])))):
                if ec > best:
                    best, at = ec, xc
        return float(best), float(at), f64max, n + 40 * REFINE


# -- the certificate -----------------------------------------------------------------------------

def certify(p: Program, target: Target, tolerance: float = TOLERANCE, order: int = ORDER,
            progress: Callable[[int, int], None] | None = None, deadline: float = DEADLINE) -> Certificate:
    """Prove an upper bound on the max relative error of `p` (a reals-mode program) on
    the target's interval. Never raises for a program that cannot be certified: the
    certificate says why (ok False)."""
    global ORDER, TOLERANCE
    t0 = time.monotonic()
    lo, hi = target.interval
    smax, sat, f64max, npts = sampled_max(p, target)
    old = (ORDER, TOLERANCE, iv.prec)
    ORDER, TOLERANCE, iv.prec = order, tolerance, PREC
    try:
        if not math.isfinite(smax):
            raise CertifyError(f"unbounded: the program's error is infinite at x = {sat!r} (a pole, or a "
                               "value with no real meaning there)")
        P, F = program_series(p), target_series(target.expr)

        def fplain(v: Any) -> Any:
            return F(TS([v])).c[0]

        a, b = mpmath.mpf(lo), mpmath.mpf(hi)
        zero_end = None
        for end in (a, b):
            if _mag(fplain(iv.mpf(end))) == 0:
                zero_end = end
        proof = _Proof(goal=mpmath.mpf(smax) * (1 + tolerance))
        todo = [_Piece(a + (b - a) * k / PIECES, a + (b - a) * (k + 1) / PIECES) for k in range(PIECES)]
        done = 0
        while todo:
            if time.monotonic() - t0 > deadline:
                raise CertifyError(f"gave up after {deadline:g} s ({proof.pieces} pieces bounded, "
                                   f"{len(todo)} to go): the program is too hard to bound at this tolerance")
            piece = todo.pop()
            todo += _prove_piece(p, P, F, fplain, piece, proof, zero_end)
            done += 1
            if progress:
                progress(done, done + len(todo))
        bound = float(proof.bound)
        bound = math.nextafter(bound, math.inf) if math.isfinite(bound) else bound
        if not math.isfinite(bound):
            raise CertifyError("unbounded: the interval evaluation diverges")
        if proof.estimate > smax:  # the proof met a larger error than the sample: measure it there
            with mpmath.workprec(PREC):
                e = float(_mp_error(p, target.mp, proof.estimate_at))
            if e > smax:
                smax, sat = e, float(proof.estimate_at)
        return Certificate(True, bound, smax, sat, (lo, hi), npts, proof.pieces, time.monotonic() - t0, f64max)
    except CertifyError as e:
        return Certificate(False, None, smax, sat, (lo, hi), npts, 0, time.monotonic() - t0, f64max, reason=str(e))
    finally:
        ORDER, TOLERANCE, iv.prec = old


def certify_member(p: Program, target: Target) -> Certificate:
    """The certificate a search's end gives a front member (FRONT_DEADLINE; picklable)."""
    return certify(p, target, deadline=FRONT_DEADLINE)


__all__ = ["Certificate", "CertifyError", "certify", "certify_member", "sampled_max", "CERTIFY_BELOW"]
