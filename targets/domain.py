"""Where a target is real and finite: interval arithmetic (mpmath.iv) over the whole interval.

An enclosure of f over [a, b] that is real and bounded proves f finite on every input
there. Where the enclosure is not (a pole, a gap in the domain, or only interval
arithmetic's overestimate), the interval is bisected, depth first: the overestimate
vanishes as the pieces shrink, so a piece still unbounded at a width of 2^-30 of its
magnitude holds a real pole or a point outside the domain, and that is reported.
Functions that mpmath.iv lacks are enclosed through their monotone pieces (their
values at the ends, widened by a few ulps of the working precision).
"""
from __future__ import annotations

from typing import Any, Callable

import mpmath

from .expr import parse
from .limits import check_time

iv = mpmath.iv

_BAD = (ValueError, ZeroDivisionError, ArithmeticError, TypeError, mpmath.libmp.NoConvergence)
MAX_EVALUATIONS = 4000   # enclosures per check: past it the check gives up (and says nothing)


class Unbounded(Exception):
    """The enclosure of f over a piece is complex or unbounded."""


def _ends(v: Any) -> tuple[Any, Any]:
    return tuple(mpmath.mpf(e) for e in v._mpi_)


def _real(v: Any) -> Any:
    """v as a real, bounded interval (a number is a point interval), else Unbounded."""
    if isinstance(v, (complex, mpmath.mpc)) or type(v).__name__ == "ivmpc":
        raise Unbounded
    v = v if type(v).__name__ == "ivmpf" else iv.mpf(v)
    if not all(mpmath.isfinite(e) for e in _ends(v)):
        raise Unbounded
    return v


def _monotone(fn: Callable[[Any], Any], increasing: bool = True) -> Callable[[Any], Any]:
    """An enclosure of a monotone function from its values at the ends (64 bits more, widened)."""

    def enclose(u: Any) -> Any:
        u = _real(u)
        with mpmath.workprec(iv.prec + 64):
            ends = [fn(e) for e in _ends(u)]
        if any(isinstance(e, mpmath.mpc) or not mpmath.isfinite(e) for e in ends):
            raise Unbounded
        lo, hi = ends if increasing else ends[::-1]
        eps = mpmath.mpf(2) ** -(iv.prec - 8)
        return iv.mpf([lo - abs(lo) * eps - eps ** 2, hi + abs(hi) * eps + eps ** 2])

    return enclose


def _through(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda u: fn(_real(u))


def _cosh(u: Any) -> Any:
    u = _real(u)
    return (iv.exp(u) + iv.exp(-u)) / 2


# The target functions on intervals (targets.expr.FUNCTIONS' names).
IV_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    **{n: _through(getattr(iv, n)) for n in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
                                             "sin", "cos", "tan", "gamma", "loggamma")},
    "lgamma": _through(iv.loggamma), "abs": _through(abs), "cosh": _cosh,
    **{n: _monotone(getattr(mpmath, n)) for n in ("cbrt", "asin", "atan", "sinh", "tanh", "asinh", "acosh",
                                                  "atanh", "erf")},
    "acos": _monotone(mpmath.acos, increasing=False), "erfc": _monotone(mpmath.erfc, increasing=False),
}
IV_CONSTANTS: dict[str, Callable[[], Any]] = {"pi": lambda: iv.pi, "e": lambda: iv.e, "ln2": lambda: iv.log(2)}


def enclosure(expr: str) -> Callable[[float, float], Any]:
    """f over [a, b] as an mpmath interval; Unbounded where it is complex or unbounded."""
    code = compile(parse(expr), "<target>", "eval")

    def f(a: float, b: float) -> Any:
        env = dict(IV_FUNCTIONS) | {k: c() for k, c in IV_CONSTANTS.items()} | {"x": iv.mpf([a, b])}
        try:
            return _real(eval(code, {"__builtins__": {}}, env))  # noqa: S307 - a checked expression
        except _BAD:
            raise Unbounded from None

    return f


def find_singularity(expr: str, lo: float, hi: float) -> tuple[float, float] | None:
    """A piece [a, b] of [lo, hi] (2^-30 of its magnitude wide) where `expr` is complex or
    unbounded, or None where interval arithmetic proves it real and finite everywhere (or
    gives up after MAX_EVALUATIONS enclosures). Within a time limit (targets.limits)."""
    f = enclosure(expr)
    stack, evaluations = [(mpmath.mpf(lo), mpmath.mpf(hi))], 0
    while stack and evaluations < MAX_EVALUATIONS:
        a, b = stack.pop()
        evaluations += 1
        check_time(f"x = {float(a):.7g}")
        try:
            f(a, b)
            continue
        except Unbounded:
            pass
        if b - a <= max(abs(a), abs(b), mpmath.mpf(2) ** -126) * mpmath.mpf(2) ** -30:
            return float(a), float(b)
        m = (a + b) / 2
        stack += [(m, b), (a, m)]   # the left piece first
    return None
