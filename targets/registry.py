"""Functions to approximate: a registry of named targets plus custom expressions."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Callable

import mpmath
import numpy as np

from primitives.float32 import f32_range

from .domain import find_singularity
from .errors import TargetError
from .expr import ExprError, compile_mp, compile_np, parse
from .limits import DOMAIN_SECONDS, check_time, seconds, time_limit
from .truth import cached_exact_values


@dataclass(frozen=True)
class Target:
    name: str
    expr: str                       # mpmath expression in x
    interval: tuple[float, float]   # closed; float32 inputs inside it are scored
    description: str = ""
    full_range: str | None = None   # name of the full-range wrapper, if one exists

    @cached_property
    def mp(self) -> Callable[[Any], Any]:
        return compile_mp(self.expr)

    @cached_property
    def f64(self) -> Callable[[np.ndarray], np.ndarray]:
        return compile_np(self.expr)

    def exact(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Double-double ground truth at the exact inputs (mpmath, >= 100 bits, cached)."""
        return cached_exact_values(self.expr, self.mp, np.asarray(x))

    def with_interval(self, lo: float, hi: float) -> "Target":
        t = replace(self, interval=check_interval(self.expr, lo, hi))
        return t

    def f32_inputs(self) -> tuple[int, int]:
        """Ordinal range of every float32 in the interval."""
        return f32_range(*self.interval)

    def __reduce__(self) -> tuple:
        # The compiled evaluators are not picklable (Ray, process pools): rebuild them.
        return (Target, (self.name, self.expr, self.interval, self.description, self.full_range))

    def to_dict(self) -> dict:
        return {"name": self.name, "expr": self.expr, "interval": list(self.interval)}


def check_interval(expr: str, lo: float, hi: float) -> tuple[float, float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise TargetError(f"interval [{lo}, {hi}] must be finite")
    if lo >= hi:
        raise TargetError(f"interval [{lo}, {hi}] is empty or reversed")
    a, b = f32_range(lo, hi)
    if a > b:
        raise TargetError(f"interval [{lo}, {hi}] holds no float32 value")
    with time_limit(seconds(DOMAIN_SECONDS), f"checking {expr} on [{lo}, {hi}]"):
        _check_samples(expr, lo, hi)
        piece = find_singularity(expr, lo, hi)
    if piece is not None:
        raise TargetError(f"interval [{lo}, {hi}] is outside the domain of {expr}: {_singularity(expr, *piece)} "
                          "(found by interval arithmetic)")
    return (float(lo), float(hi))


def _check_samples(expr: str, lo: float, hi: float) -> None:
    """17 evenly spaced float32 inputs, the ends included (names the first bad one)."""
    f = compile_mp(expr)
    with mpmath.workprec(64):
        for t in np.linspace(lo, hi, 17):
            check_time(f"x = {float(np.float32(t))}")
            if not _real_finite(f, float(np.float32(t))):
                raise TargetError(f"interval [{lo}, {hi}] is outside the domain of {expr} (at x = {float(np.float32(t))})")


def _real_finite(f: Callable[[Any], Any], x: float) -> bool:
    try:
        v = f(mpmath.mpf(x))
        return not isinstance(v, mpmath.mpc) and bool(mpmath.isfinite(v))
    except (ValueError, ZeroDivisionError, OverflowError):
        return False


def _singularity(expr: str, a: float, b: float) -> str:
    """What lies in the tiny piece [a, b]: "a pole near x = 0.40625" (real, unbounded) or
    "not real near x = -1" (complex there)."""
    m = 0.0 if max(abs(a), abs(b)) < 2.0 ** -120 else (a + b) / 2
    f = compile_mp(expr)
    with mpmath.workprec(64):
        real = all(_real(f, x) for x in (a, m, b))
    return f"{'a pole' if real else 'not real'} near x = {m:.7g}"


def _real(f: Callable[[Any], Any], x: float) -> bool:
    try:
        return not isinstance(f(mpmath.mpf(x)), mpmath.mpc)
    except ZeroDivisionError:
        return True   # the pole itself
    except (ValueError, OverflowError):
        return False


_LN2_HALF = float(np.float32(math.log(2) / 2))

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("exp2", "exp2(x)", (0.0, 1.0), "2^x on [0, 1]", full_range="exp2"),
        Target("exp", "exp(x)", (-_LN2_HALF, _LN2_HALF), "e^x on [-ln2/2, ln2/2]", full_range="exp"),
        Target("log2", "log2(x)", (1.0, 2.0), "log2(x) on [1, 2]", full_range="log2"),
        Target("log", "log(x)", (0.5, 1.0), "natural log on [0.5, 1]", full_range="log"),
        Target("erf", "erf(x)", (0.0, 1.0), "error function on [0, 1]"),
        Target("sigmoid", "1/(1+exp(-x))", (0.0, 4.0), "the logistic function on [0, 4]"),
        Target("tanh", "tanh(x)", (0.0, 1.0), "hyperbolic tangent on [0, 1]"),
    )
}


def parse_interval(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise TargetError(f"interval {text!r} must be two numbers A,B") from None


def get_target(name_or_expr: str, interval: tuple[float, float] | str | None = None) -> Target:
    """A registered target by name, or a custom one from an expression in x (needs an interval)."""
    if not isinstance(name_or_expr, str):
        raise TargetError(f"target must be a name ({', '.join(TARGETS)}) or an expression in x, "
                          f"got {type(name_or_expr).__name__} {name_or_expr!r:.40}")
    if isinstance(interval, str):
        interval = parse_interval(interval)
    if interval is not None and not _two_numbers(interval):
        raise TargetError(f"interval must be two numbers (lo, hi) or a string 'A,B', got {interval!r:.40}")
    if name_or_expr in TARGETS:
        t = TARGETS[name_or_expr]
        return t.with_interval(*interval) if interval else t
    try:
        parse(name_or_expr)
    except ExprError as e:
        if name_or_expr.isidentifier():
            raise TargetError(f"unknown target {name_or_expr!r} (known: {', '.join(TARGETS)}; "
                              f"or an expression in x with {{--interval}} A,B)") from None
        raise TargetError(str(e)) from None
    if interval is None:
        raise TargetError(f"custom target {name_or_expr!r} needs an interval ({{--interval}} A,B)")
    lo, hi = check_interval(name_or_expr, *interval)
    return Target(name_or_expr, name_or_expr, (lo, hi), "custom")


def _two_numbers(v: Any) -> bool:
    return isinstance(v, (tuple, list)) and len(v) == 2 and \
        all(isinstance(a, (int, float, np.floating, np.integer)) and not isinstance(a, bool) for a in v)


def target_from_dict(d: dict) -> Target:
    name, expr, (lo, hi) = d["name"], d["expr"], d["interval"]
    base = TARGETS.get(name)
    if base is not None and base.expr == expr:
        return base.with_interval(lo, hi) if (lo, hi) != base.interval else base
    return Target(name, expr, (float(lo), float(hi)), "custom")
