"""A piecewise-polynomial float64 reference for exhaustive checks, generic for any target.

Pieces follow the float32 bit layout: the float32 values that share sign,
exponent and the top m mantissa bits form one piece, a contiguous run of
2^(23-m) ordinals (the subnormals and +0 count as exponent 0). m is chosen per
piece, from 0 (a whole binade) up to M_MAX, by splitting a piece in two until
its polynomial passes the accuracy check.

On a piece [lo, lo + w) (mirrored for negative x) the reference is, in double,

    u = (x - c) * s                 c the piece centre, s = 2/w a power of two: exact
    v = P(u)                        POLY: Horner with fma, degree d
    v = ((x - x0h) - x0l) * P(u)    FACTORED: f has a zero x0 = x0h + x0l on or near
                                    the piece; x - x0h is exact (both lie on the
                                    piece's float32 grid), so v keeps its relative
                                    accuracy right up to the zero (log2 at 1, erf at 0)

P interpolates f (or f / (x - x0)) at the d + 1 Chebyshev nodes, values by
mpmath at >= 128 bits, coefficients rounded to double. Each piece is then
checked against mpmath at float32 test points (both ends, the Chebyshev extrema
where the interpolation error peaks, the nodes, a few irrational fractions, the
float32 neighbours of x0; mpmath at two precisions that must agree):

    bound     = 1.25 * (the stored polynomial's error in exact arithmetic, worst
                at the test points: smooth, so the margin covers the points between)
              + an a priori bound on the rounding of the double evaluation
    measured  = v as the compiled code computes it (`emit_value`, the very LLVM
                code of the verifier's loop) against mpmath, worst at the test
                points; it must lie within the bound

A piece is kept if bound <= tol, else split (m + 1). A piece that cannot meet
`tol` even at M_MAX (f not smooth, a double zero, a pole, values beyond double
range) is a FALLBACK piece: its inputs are referenced by the target's float64
numpy function, as the numpy verifier does everywhere.

Tables are cached on disk under targets.cache_dir()/"reference", keyed by
expression, ordinal range, degree, tolerance, M_MAX and FORMAT.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import time
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import mpmath
import numpy as np
from llvmlite import ir

from primitives.float32 import to_ordinal
from targets import Target, cache_dir

FORMAT = 1
DEFAULT_DEGREE = 6
TOL = 1e-15            # relative error bound a polynomial piece must meet (<= 1.7e-8 float32 ULP)
M_MAX = 12             # finest pieces: 2^11 float32 inputs
MAX_ATTEMPTS = 40_000  # fits tried per table before the rest falls back (a pathological target)
POLY, FACTORED, FALLBACK = 0, 1, 2
KIND_NAMES = ("poly", "factored", "fallback")
NPARAM = 4             # c, s, x0h, x0l; then the d + 1 coefficients
F32_ULP_PER_REL = 2.0 ** 24  # |v| / ulp32(v) < 2^24: a relative error r is < r * 2^24 float32 ULP

_PREC = 128            # mpmath bits for the fit
_U = 2.0 ** -53        # unit roundoff of double
_GOLDEN = (0.6180339887498949, 0.3819660112501051, 0.1458980337503154, 0.8541019662496846)


# -- the table ---------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class PieceTable:
    """Reference pieces covering an ordinal range, sorted by ordinal."""

    expr: str
    ordinals: tuple[int, int]
    degree: int
    tol: float
    sign: np.ndarray     # int8, +1 or -1
    mag0: np.ndarray     # int64, float32 magnitude bits of the piece's first value
    length: np.ndarray   # int64, magnitudes in the piece (a power of two)
    kind: np.ndarray     # int8, POLY | FACTORED | FALLBACK
    params: np.ndarray   # float64 (pieces, NPARAM + degree + 1): c, s, x0h, x0l, c_0..c_d
    rel_bound: np.ndarray  # float64, certified relative error bound (fallback pieces: nan)
    rel_err: np.ndarray    # float64, worst relative error measured at the test points (fallback: numpy's)
    test_points: int = 0
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.sign.size)

    def ordinal_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """First and last ordinal of each piece (-0.0 is ordinal 0 and belongs to +0's piece)."""
        last = self.mag0 + self.length - 1
        pos = self.sign > 0
        lo = np.where(pos, self.mag0, -last)
        hi = np.where(pos, last, -np.maximum(self.mag0, 1))
        return lo.astype(np.int64), hi.astype(np.int64)

    @property
    def rel_error(self) -> float:
        """Certified relative error bound of the polynomial pieces."""
        m = self.kind != FALLBACK
        return float(self.rel_bound[m].max()) if m.any() else 0.0

    @property
    def measured_rel_error(self) -> float:
        """Worst relative error of the polynomial pieces measured at the test points."""
        m = self.kind != FALLBACK
        return float(self.rel_err[m].max()) if m.any() else 0.0

    @property
    def ulp_error(self) -> float:
        """The certified bound in float32 ULP of the exact value."""
        return self.rel_error * F32_ULP_PER_REL

    @property
    def fallback_pieces(self) -> int:
        return int(np.count_nonzero(self.kind == FALLBACK))

    def fallback_inputs(self) -> int:
        """Inputs of the ordinal range that fall in fallback pieces."""
        lo, hi = self.ordinal_bounds()
        a, b = self.ordinals
        m = self.kind == FALLBACK
        return int(np.sum(np.clip(np.minimum(hi[m], b) - np.maximum(lo[m], a) + 1, 0, None)))

    def describe(self) -> str:
        """One line for results: what the reference is and how accurate it was checked to be."""
        if self.fallback_pieces == self.n:
            return "float64 numpy (error ~1e-9 float32 ULP)"
        text = (f"piecewise float64 polynomials (degree {self.degree}, {self.n} pieces): rel error "
                f"<= {self.rel_error:.2g} (<= {self.ulp_error:.2g} float32 ULP), "
                f"{self.measured_rel_error:.2g} measured against mpmath at {self.test_points} points")
        nf = self.fallback_pieces
        if nf:
            fb = self.rel_err[self.kind == FALLBACK]
            text += (f"; {nf} pieces ({self.fallback_inputs()} inputs) by float64 numpy "
                     f"(measured max rel error {float(np.nanmax(fb)):.2g})")
        return text

    def with_params(self, params: np.ndarray) -> "PieceTable":
        """The same pieces with other parameters (tests: a mutated coefficient)."""
        return PieceTable(self.expr, self.ordinals, self.degree, self.tol, self.sign, self.mag0, self.length,
                          self.kind, np.ascontiguousarray(params, np.float64), self.rel_bound, self.rel_err,
                          self.test_points, self.seconds, self.meta)


# -- LLVM: the reference value, shared by the checker below and by evo.verification.fused --------------

def splat(b: ir.IRBuilder, value: Any, ty: ir.Type) -> Any:
    """`value` (a scalar) broadcast to `ty` (a vector type), or itself for a scalar type."""
    if not isinstance(ty, ir.VectorType) or value.type == ty:
        return value
    if isinstance(value, ir.Constant):
        return ir.Constant(ty, [value.constant] * ty.count)
    one = b.insert_element(ir.Constant(ty, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return b.shuffle_vector(one, ir.Constant(ty, ir.Undefined),
                            ir.Constant(ir.VectorType(ir.IntType(32), ty.count), [0] * ty.count))


def intrinsic(module: ir.Module, name: str, ty: ir.Type, nargs: int) -> ir.Function:
    """An overloaded LLVM intrinsic (llvm.fma, llvm.fabs) on a scalar or vector float type.
    (llvmlite's declare_intrinsic cannot name the vector overloads.)"""
    elem = ty.element if isinstance(ty, ir.VectorType) else ty
    suffix = {"double": "f64", "float": "f32"}[str(elem)]
    if isinstance(ty, ir.VectorType):
        suffix = f"v{ty.count}{suffix}"
    full = f"{name}.{suffix}"
    try:
        return module.get_global(full)
    except KeyError:
        return ir.Function(module, ir.FunctionType(ty, [ty] * nargs), name=full)


def emit_value(b: ir.IRBuilder, xd: Any, row: list[Any], degree: int, kind: int) -> Any:
    """The reference value at xd (double, scalar or vector) from a piece's parameter row
    (scalars c, s, x0h, x0l, c_0..c_d). IEEE operations only, no fast-math flags, so every
    lane computes exactly what the accuracy check measured."""
    ty = xd.type
    c, s, x0h, x0l, *coef = (splat(b, r, ty) for r in row)
    u = b.fmul(b.fsub(xd, c), s)
    fma = intrinsic(b.module, "llvm.fma", ty, 3)
    acc = coef[degree]
    for k in range(degree - 1, -1, -1):
        acc = b.call(fma, [acc, u, coef[k]])
    if kind == FACTORED:
        acc = b.fmul(b.fsub(b.fsub(xd, x0h), x0l), acc)
    return acc


def load_row(b: ir.IRBuilder, params: Any, piece: Any, degree: int) -> list[Any]:
    """The parameter row of piece `piece` (i64) from the params array (double*)."""
    i64 = ir.IntType(64)
    base = b.mul(piece, i64(NPARAM + degree + 1))
    return [b.load(b.gep(params, [b.add(base, i64(k))], inbounds=True)) for k in range(NPARAM + degree + 1)]


_EVAL_T = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                           ctypes.c_void_p, ctypes.c_int64)


@lru_cache(maxsize=16)
def _evaluator(degree: int) -> tuple[Any, Any]:
    """JIT `refeval(const float *x, const i64 *piece, const double *params, const i8 *kind,
    double *out, i64 n)`: the reference at arbitrary inputs (NaN in fallback pieces)."""
    from ..backends import llvm as llvm_backend

    f32, f64, i64, i8 = ir.FloatType(), ir.DoubleType(), ir.IntType(64), ir.IntType(8)
    module = ir.Module(name="evo_reference")
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [f32.as_pointer(), i64.as_pointer(), f64.as_pointer(),
                                                           i8.as_pointer(), f64.as_pointer(), i64]), name="refeval")
    xs, pieces, params, kinds, out, n = fn.args
    entry, head, body, done = (fn.append_basic_block(t) for t in ("entry", "head", "body", "done"))
    b = ir.IRBuilder(entry)
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(i64)
    i.add_incoming(i64(0), entry)
    b.cbranch(b.icmp_signed("<", i, n), body, done)
    b.position_at_end(body)
    xd = b.fpext(b.load(b.gep(xs, [i], inbounds=True)), f64)
    piece = b.load(b.gep(pieces, [i], inbounds=True))
    kind = b.load(b.gep(kinds, [piece], inbounds=True))
    row = load_row(b, params, piece, degree)
    ends = []
    blocks = {}
    for k in (POLY, FACTORED):
        blocks[k] = fn.append_basic_block(KIND_NAMES[k])
    other = fn.append_basic_block("fallback")
    nxt = fn.append_basic_block("next")
    sw = b.switch(kind, other)
    for k, bb in blocks.items():
        sw.add_case(i8(k), bb)
        b.position_at_end(bb)
        ends.append((emit_value(b, xd, row, degree, k), bb))
        b.branch(nxt)
    b.position_at_end(other)
    ends.append((ir.Constant(f64, float("nan")), other))
    b.branch(nxt)
    b.position_at_end(nxt)
    v = b.phi(f64)
    for val, bb in ends:
        v.add_incoming(val, bb)
    b.store(v, b.gep(out, [i], inbounds=True))
    i.add_incoming(b.add(i, i64(1)), nxt)
    b.branch(head)
    b.position_at_end(done)
    b.ret_void()
    with llvm_backend.COMPILE_LOCK:  # LLVM's global state: compile under the backend's lock
        engine = llvm_backend.compile_ir(str(module))
        fn_ptr = _EVAL_T(engine.get_function_address("refeval"))
    return engine, fn_ptr


def evaluate_pieces(x: np.ndarray, piece: np.ndarray, params: np.ndarray, kind: np.ndarray,
                    degree: int) -> np.ndarray:
    """Reference values at float32 inputs x, piece[i] the piece of x[i], computed by the same
    LLVM code as the verifier's loop (NaN where the piece is a fallback piece)."""
    x = np.ascontiguousarray(x, np.float32)
    piece = np.ascontiguousarray(piece, np.int64)
    params = np.ascontiguousarray(params, np.float64)
    kind = np.ascontiguousarray(kind, np.int8)
    assert x.shape == piece.shape and params.shape[1] == NPARAM + degree + 1
    assert piece.size == 0 or (piece.min() >= 0 and piece.max() < kind.size)
    out = np.empty(x.size)
    _, fn = _evaluator(degree)
    fn(x.ctypes.data, piece.ctypes.data, params.ctypes.data, kind.ctypes.data, out.ctypes.data, x.size)
    return out


def table_values(table: PieceTable, x: np.ndarray) -> np.ndarray:
    """The table's reference at float32 inputs inside its pieces (NaN in fallback pieces)."""
    o = to_ordinal(np.asarray(x, np.float32))
    lo, hi = table.ordinal_bounds()
    k = np.searchsorted(lo, o, side="right") - 1
    if np.any(k < 0) or np.any(o > hi[np.clip(k, 0, None)]):
        raise ValueError("an input lies outside the table's pieces")
    return evaluate_pieces(x, k, table.params, table.kind, table.degree)


# -- mpmath --------------------------------------------------------------------------------------

def _mp(f: Callable[[Any], Any], x: Any, prec: int = _PREC) -> Any:
    """f(x) at `prec` bits, or None where it is not a finite real."""
    with mpmath.workprec(prec):
        try:
            v = f(x)
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return None
        if isinstance(v, mpmath.mpc) or not mpmath.isfinite(v):
            return None
        return +v


def _truth(f: Callable[[Any], Any], x: float) -> Any:
    """f(x) checked at two precisions (an expression may cancel): None if they never agree."""
    lo = _mp(f, mpmath.mpf(x), _PREC)
    for prec in (2 * _PREC, 4 * _PREC, 8 * _PREC):
        hi = _mp(f, mpmath.mpf(x), prec)
        if lo is None or hi is None:
            return None
        with mpmath.workprec(prec):
            if abs(hi - lo) <= abs(hi) * mpmath.ldexp(1, -100) or hi == lo:
                return hi
        lo = hi
    return None


def _cheb_to_monomial(a: list[Any]) -> list[Any]:
    """sum a_k T_k(u) as monomial coefficients in u (T_k by the integer recurrence)."""
    t = [[1], [0, 1]]
    while len(t) < len(a):   # T_{k+1} = 2u T_k - T_{k-1}
        nxt = [0] + [2 * c for c in t[-1]]
        for i, c in enumerate(t[-2]):
            nxt[i] -= c
        t.append(nxt)
    out = [mpmath.mpf(0)] * len(a)
    for ak, tk in zip(a, t):
        for i, c in enumerate(tk):
            out[i] += ak * c
    return out


# -- pieces ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Geom:
    sign: int      # +1 / -1
    exp: int       # float32 biased exponent (0: subnormals and zero)
    m: int         # top mantissa bits shared
    k: int         # which piece of the binade

    @property
    def length(self) -> int:
        return 1 << (23 - self.m)

    @property
    def mag0(self) -> int:
        return (self.exp << 23) | (self.k << (23 - self.m))

    @property
    def q(self) -> float:
        """float32 spacing in the binade."""
        return math.ldexp(1.0, max(self.exp, 1) - 150)

    @property
    def lo(self) -> float:
        """|x| of the first value (exact double)."""
        return float(np.uint32(self.mag0).view(np.float32))

    @property
    def w(self) -> float:
        return self.length * self.q

    def children(self) -> tuple["_Geom", "_Geom"]:
        return tuple(_Geom(self.sign, self.exp, self.m + 1, 2 * self.k + j) for j in (0, 1))


def _test_mags(g: _Geom, degree: int, x0h: float | None) -> np.ndarray:
    """float32 magnitudes (bits) where a piece is checked: ends, Chebyshev extrema and nodes,
    irrational fractions, and the neighbours of the zero."""
    n = degree + 1
    th = [math.pi * k / n for k in range(n + 1)] + [math.pi * (k + 0.5) / n for k in range(n)]
    fr = [(1 - math.cos(t)) / 2 for t in th] + list(_GOLDEN)
    last = g.length - 1
    mags = {g.mag0 + min(last, max(0, round(f * last))) for f in fr}
    if x0h is not None:
        k0 = round((abs(x0h) - g.lo) / g.q)
        mags |= {g.mag0 + j for j in range(k0 - 2, k0 + 3) if 0 <= j <= last}
    if g.sign < 0:
        mags.discard(0)  # ordinal 0 is +0.0
    return np.array(sorted(mags), np.int64)


def _bisect_root(f: Callable[[Any], Any], a: Any, b: Any, fa: Any) -> Any:
    """A zero of f in [a, b] where f(a), f(b) have opposite signs, to ~2^-150 of the bracket."""
    with mpmath.workprec(_PREC + 32):
        a, b = mpmath.mpf(a), mpmath.mpf(b)
        for _ in range(_PREC + 24):
            mid = (a + b) / 2
            fm = _mp(f, mid, _PREC + 32)
            if fm is None:
                return None
            if fm == 0:
                return mid
            if (fm > 0) == (fa > 0):
                a, fa = mid, fm
            else:
                b = mid
        return (a + b) / 2


def _find_zero(f: Callable[[Any], Any], g: _Geom) -> Any:
    """A zero of f on or near the piece (within one piece width), or None."""
    s = g.sign
    lo, w = mpmath.mpf(g.lo), mpmath.mpf(g.w)
    pts = [s * (lo - w), s * lo, s * (lo + w), s * (lo + 2 * w)]
    vals = [_mp(f, p) for p in pts]
    for i in (1, 2, 0, 3):       # an exact zero at an end of the piece, then just outside
        if vals[i] is not None and vals[i] == 0:
            return pts[i]
    for i in (1, 0, 2):          # a sign change inside, then just outside
        fa, fb = vals[i], vals[i + 1]
        if fa is not None and fb is not None and (fa > 0) != (fb > 0):
            return _bisect_root(f, pts[i], pts[i + 1], fa)
    return None


def _fit(f: Callable[[Any], Any], g: _Geom, degree: int) -> tuple[int, np.ndarray] | None:
    """(kind, parameter row) of a fit on piece g, or None if f cannot be fitted there."""
    s = g.sign
    half = g.w / 2
    c = s * (g.lo + half)                 # exact: a few bits on the float32 grid
    sc = 1.0 / half                       # a power of two
    kind, x0h, x0l, x0 = POLY, 0.0, 0.0, None
    root = _find_zero(f, g)
    if root is not None:
        x0 = root
        q = mpmath.mpf(g.q)
        with mpmath.workprec(_PREC + 32):
            x0h = float(mpmath.nint(x0 / q) * q)   # on the grid: x - x0h is exact
            if _mp(f, mpmath.mpf(x0h)) == 0:        # the zero is this grid value itself
                x0 = mpmath.mpf(x0h)
            x0l = float(x0 - x0h)
        kind = FACTORED
    n = degree + 1
    vals = []
    with mpmath.workprec(_PREC + 32):
        for j in range(n):
            th = mpmath.pi * (j + mpmath.mpf(0.5)) / n
            xj = c + mpmath.cos(th) * half
            v = _mp(f, xj)
            if v is None:
                return None
            if kind == FACTORED:
                if xj == x0:
                    return None
                v = v / (xj - x0)
            vals.append((th, v))
        a = []
        for k in range(n):   # T_k(u_j) = cos(k theta_j)
            acc = mpmath.fsum(v * mpmath.cos(k * th) for th, v in vals)
            a.append(acc * (1 if k else mpmath.mpf(0.5)) * 2 / n)
        coef = [float(v) for v in _cheb_to_monomial(a)]
    if not all(math.isfinite(v) for v in coef) or coef[0] == 0:
        return None
    if sum(abs(v) for v in coef[1:]) > abs(coef[0]):  # Horner would cancel: its rounding unchecked
        return None
    return kind, np.array([c, sc, x0h, x0l, *coef])


def _eval_bound(coef: np.ndarray, kind: int) -> float:
    """A priori bound on the relative rounding error of the double evaluation for |u| <= 1:
    Horner with fma rounds once per step (e_k <= e_{k+1} + 2^-53 (A_k + e_{k+1}), A_k =
    sum_{j>=k} |c_j| bounds the exact partial sums), |P| >= |c_0| - A_1 (the fit
    guarantees > 0); FACTORED adds the rounding of (x - x0h) - x0l and of the product."""
    a = np.cumsum(np.abs(coef[::-1]))[::-1]   # A_k
    e = 0.0
    for k in range(coef.size - 2, -1, -1):
        e = e + _U * (a[k] + e)
    rel = e / (abs(coef[0]) - a[1]) if coef.size > 1 else _U
    if kind == FACTORED:  # (1 + rel)(1 + U)^2 - 1, expanded (1 + U rounds to 1 in double)
        rel = rel + 2 * _U + 3 * rel * _U + _U * _U
    return float(rel * (1 + 1e-6))   # the bound's own rounding


def _check(f: Callable[[Any], Any], g: _Geom, row: np.ndarray, kind: int, degree: int,
           f64: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[float, float, int]:
    """(certified bound, measured worst, test points) of a piece's relative error.

    measured: v as compiled (or float64 numpy for a FALLBACK piece, given f64) against
    mpmath at the test points. bound (not for FALLBACK: nan): the worst error of the
    fit itself (the stored coefficients in exact arithmetic against mpmath, at the same
    points, with a 25% margin for the points between them) plus the a priori rounding bound.
    inf where mpmath cannot give a value or the compiled value breaks the bound."""
    x0h = row[2] if kind == FACTORED else None
    mags = _test_mags(g, degree, x0h)
    x = mags.astype(np.uint32).view(np.float32)
    if g.sign < 0:
        x = -x
    if kind == FALLBACK:
        with np.errstate(all="ignore"):
            v = f64(x.astype(np.float64)) if f64 is not None else np.full(x.size, np.nan)
    else:
        v = evaluate_pieces(x, np.zeros(x.size, np.int64), row[None, :], np.array([kind], np.int8), degree)
    measured = fit = 0.0
    c, sc, x0h_, x0l, *coef = (mpmath.mpf(float(r)) for r in row)
    for xi, vi in zip(x, v):
        t = _truth(f, float(xi))
        if t is None:
            return math.inf, math.inf, int(x.size)
        with mpmath.workprec(4 * _PREC):
            if kind != FALLBACK:  # the model: exact arithmetic on the stored numbers
                xm = mpmath.mpf(float(xi))
                u = (xm - c) * sc
                model = coef[degree]
                for k in range(degree - 1, -1, -1):
                    model = model * u + coef[k]
                if kind == FACTORED:
                    model *= (xm - x0h_) - x0l
                fit = max(fit, _rel(model, t))
            measured = max(measured, _rel(mpmath.mpf(float(vi)) if math.isfinite(vi) else None, t))
    if kind == FALLBACK:
        return math.nan, measured, int(x.size)
    bound = 1.25 * fit + _eval_bound(np.asarray(row[NPARAM:], np.float64), kind)
    return (bound if measured <= bound else math.inf), measured, int(x.size)


def _rel(v: Any, t: Any) -> float:
    """|v - t| / |t| (0 for an exact zero matched, inf for a missing value or a missed zero)."""
    if v is None:
        return math.inf
    if t == 0:
        return 0.0 if v == 0 else math.inf
    return float(abs(v - t) / abs(t))


def _geoms(a: int, b: int) -> list[tuple[_Geom, int, int]]:
    """Whole-binade pieces (m = 0) covering ordinals [a, b], with the magnitude range needed."""
    out = []
    if a < 0:                                  # negative: magnitudes -min(b, -1) .. -a
        lo_m, hi_m = -min(b, -1), -a
        for e in range(hi_m >> 23, (lo_m >> 23) - 1, -1):   # ordinal order: large magnitudes first
            out.append((_Geom(-1, e, 0, 0), lo_m, hi_m))
    if b >= 0:
        lo_m, hi_m = max(a, 0), b
        for e in range(lo_m >> 23, (hi_m >> 23) + 1):
            out.append((_Geom(1, e, 0, 0), lo_m, hi_m))
    return out


def build_table(target: Target, ordinals: tuple[int, int] | None = None, degree: int = DEFAULT_DEGREE,
                tol: float = TOL, m_max: int = M_MAX) -> PieceTable:
    """The reference table for `target` over an ordinal range (default: its interval);
    cached in memory and on disk."""
    a, b = ordinals if ordinals is not None else target.f32_inputs()
    return _cached(target.expr, int(a), int(b), int(degree), float(tol), int(m_max), target)


def _key(expr: str, a: int, b: int, degree: int, tol: float, m_max: int) -> str:
    text = f"evo-reference|{FORMAT}|{expr}|{a}|{b}|{degree}|{tol!r}|{m_max}|{MAX_ATTEMPTS}|{_PREC}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@lru_cache(maxsize=32)
def _cached(expr: str, a: int, b: int, degree: int, tol: float, m_max: int, target: Target) -> PieceTable:
    path = cache_dir() / "reference" / f"{_key(expr, a, b, degree, tol, m_max)}.npz"
    table = _load(path)
    if table is not None and table.expr == expr and table.ordinals == (a, b):
        return table
    table = _build(target, a, b, degree, tol, m_max)
    _save(path, table)
    return table


def _build(target: Target, a: int, b: int, degree: int, tol: float, m_max: int) -> PieceTable:
    t0 = time.perf_counter()
    f = target.mp
    rows: list[tuple[_Geom, int, np.ndarray, float, float]] = []
    attempts, points = 0, 0
    width = NPARAM + degree + 1
    for top, lo_m, hi_m in _geoms(a, b):
        stack = [top]
        done: list[tuple[_Geom, int, np.ndarray, float, float]] = []
        while stack:
            g = stack.pop()
            if g.mag0 + g.length - 1 < lo_m or g.mag0 > hi_m:
                continue                                # outside the range: not needed
            fit = _fit(f, g, degree) if attempts < MAX_ATTEMPTS else None
            attempts += 1
            if fit is not None:
                bound, err, npts = _check(f, g, fit[1], fit[0], degree)
                points += npts
                if bound <= tol:
                    done.append((g, fit[0], fit[1], bound, err))
                    continue
            if g.m < m_max and attempts < MAX_ATTEMPTS:
                stack.extend(g.children())
                continue
            bound, err, npts = _check(f, g, np.zeros(width), FALLBACK, degree, target.f64)
            points += npts
            done.append((g, FALLBACK, np.full(width, np.nan), bound, err))
        done.sort(key=lambda r: r[0].mag0, reverse=top.sign < 0)   # ordinal order
        rows.extend(done)
    return PieceTable(
        target.expr, (a, b), degree, tol,
        np.array([r[0].sign for r in rows], np.int8), np.array([r[0].mag0 for r in rows], np.int64),
        np.array([r[0].length for r in rows], np.int64), np.array([r[1] for r in rows], np.int8),
        np.array([r[2] for r in rows], np.float64).reshape(len(rows), width),
        np.array([r[3] for r in rows], np.float64), np.array([r[4] for r in rows], np.float64), points,
        time.perf_counter() - t0,
        {"m_max": m_max, "attempts": attempts, "format": FORMAT})


def numpy_table(expr: str, ordinals: tuple[int, int], degree: int = DEFAULT_DEGREE) -> PieceTable:
    """Whole binades covering the ordinals, every one a FALLBACK piece: the target's float64
    numpy function for every input (the numpy verifier's reference, run by the fused loop)."""
    a, b = ordinals
    geoms = [g for g, _, _ in _geoms(a, b)]
    width = NPARAM + degree + 1
    nan = np.full(len(geoms), np.nan)
    return PieceTable(expr, (a, b), degree, TOL, np.array([g.sign for g in geoms], np.int8),
                      np.array([g.mag0 for g in geoms], np.int64), np.array([g.length for g in geoms], np.int64),
                      np.full(len(geoms), FALLBACK, np.int8), np.full((len(geoms), width), np.nan), nan, nan.copy(),
                      meta={"numpy": True})


def check_table(table: PieceTable, target: Target) -> tuple[np.ndarray, np.ndarray]:
    """Re-run the accuracy check of every polynomial piece with the parameters the table
    holds now: (certified bounds, measured worst errors); nan for fallback pieces."""
    bounds, measured = np.full(table.n, np.nan), np.full(table.n, np.nan)
    for i in range(table.n):
        if table.kind[i] == FALLBACK:
            continue
        g = _geom_of(int(table.sign[i]), int(table.mag0[i]), int(table.length[i]))
        bounds[i], measured[i], _ = _check(target.mp, g, table.params[i], int(table.kind[i]), table.degree)
    return bounds, measured


def _geom_of(sign: int, mag0: int, length: int) -> _Geom:
    m = 23 - (length.bit_length() - 1)
    return _Geom(sign, mag0 >> 23, m, (mag0 & ((1 << 23) - 1)) >> (23 - m))


# -- disk cache ------------------------------------------------------------------------------------

_ARRAYS = ("sign", "mag0", "length", "kind", "params", "rel_bound", "rel_err")


def _save(path: Path, t: PieceTable) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        head = {"expr": t.expr, "ordinals": list(t.ordinals), "degree": t.degree, "tol": t.tol,
                "test_points": t.test_points, "seconds": t.seconds, "meta": t.meta, "format": FORMAT}
        np.savez(tmp, head=np.array(json.dumps(head)), **{k: getattr(t, k) for k in _ARRAYS})
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs time


def _load(path: Path) -> PieceTable | None:
    try:
        with np.load(path) as z:
            head = json.loads(str(z["head"]))
            if head.get("format") != FORMAT:
                return None
            arrays = {k: z[k] for k in _ARRAYS}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
        return None  # missing, truncated or corrupt: rebuild
    return PieceTable(head["expr"], tuple(head["ordinals"]), head["degree"], head["tol"],
                      test_points=head["test_points"], seconds=head["seconds"], meta=head["meta"], **arrays)

