"""Error of a program against a target: ULP (float32), fixed ULP, or relative (float64).

ULP error (as defined in the design notes): err = |y - v| / ulp(v), ulp(v) = 2^(E-23) with
2^E <= |v| < 2^(E+1), E >= -126. v is the exact value (double-double here).
NaN or inf where v is finite scores inf: the worst score.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

from primitives.float32 import f32_range, from_ordinal
from targets import Target

from .interp import evaluate
from .ir import Program

Metric = Literal["ulp", "fixed", "relative"]


def ulp32(hi: np.ndarray, lo: np.ndarray | float = 0.0) -> np.ndarray:
    """float32 ulp of the exact value hi + lo (|lo| <= ulp(hi)/2 in float64)."""
    hi = np.asarray(hi, np.float64)
    _, e = np.frexp(hi)
    # frexp(0) gives exponent 0; an exact zero takes the subnormal floor like any tiny value.
    E = np.where(hi == 0, -126, e.astype(np.int64) - 1)
    # hi may be a power of two just above the true value: then |v| < 2^E.
    at_pow2 = (np.abs(hi) == np.ldexp(1.0, E)) & (np.sign(lo) == -np.sign(hi)) & (lo != 0)
    E = np.maximum(E - at_pow2, -126)
    return np.ldexp(1.0, E - 23)


def error_ulp(y: np.ndarray, hi: np.ndarray, lo: np.ndarray | float = 0.0, fixed_ulp: float | None = None) -> np.ndarray:
    """Per-point error in float32 ULPs (of the exact value, or a fixed ulp)."""
    y64 = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        d = np.abs((y64 - hi) - lo)
        u = fixed_ulp if fixed_ulp is not None else ulp32(hi, lo)
        err = d / u
    return np.where(np.isfinite(y64), err, np.inf)


def error_relative(y: np.ndarray, hi: np.ndarray, lo: np.ndarray | float = 0.0) -> np.ndarray:
    """Per-point relative error |y - v| / |v| (float64 'reals' mode)."""
    y64 = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        err = np.abs((y64 - hi) - lo) / np.abs(hi)
        err = np.where(hi == 0, np.where(y64 == 0, 0.0, np.inf), err)
    return np.where(np.isfinite(y64), err, np.inf)


@dataclass(frozen=True)
class ErrorStats:
    max: float       # max error (ULP, or relative in float64 mode)
    mean: float
    argmax: float    # the input where the max is reached
    n: int           # number of inputs

    def to_dict(self, unit: str = "ulp") -> dict:
        return {f"max_{unit}": json_float(self.max), f"mean_{unit}": json_float(self.mean),
                "argmax": float(self.argmax) if np.isfinite(self.argmax) else None, "inputs": self.n}


def json_float(v: float) -> float | str:
    """inf is not JSON: write it as the string "inf"."""
    return v if np.isfinite(v) else "inf"


def merged(a: ErrorStats, b: ErrorStats) -> ErrorStats:
    """The statistics of two disjoint point sets taken together."""
    if not b.n:
        return a
    top = b if b.max > a.max else a
    n = a.n + b.n
    mean = (a.mean * a.n + b.mean * b.n) / n if n else 0.0
    return ErrorStats(top.max, mean, top.argmax, n)


def stats(err: np.ndarray, x: np.ndarray) -> ErrorStats:
    if not err.size:
        return ErrorStats(0.0, 0.0, float("nan"), 0)
    i = int(np.argmax(err))
    mean = float(np.mean(err)) if np.all(np.isfinite(err)) else float("inf")
    return ErrorStats(float(err[i]), mean, float(x[i]), int(err.size))


@dataclass(frozen=True)
class PointSet:
    x: np.ndarray   # inputs (float32, or float64 in float64 mode)
    hi: np.ndarray  # exact values, double-double
    lo: np.ndarray

    def subset(self, index: np.ndarray) -> "PointSet":
        return PointSet(self.x[index], self.hi[index], self.lo[index])


def training_inputs(target: Target, n: int = 1024, n_ordinal: int = 256, dtype: type = np.float32) -> np.ndarray:
    """Dense evenly spaced points with both endpoints, plus points evenly spaced in
    float32 ordinal (they reach the tiny magnitudes that most float32 inputs have)."""
    lo, hi = target.interval
    a, b = f32_range(lo, hi)
    even = np.linspace(lo, hi, n).astype(dtype)
    ords = from_ordinal(np.linspace(a, b, n_ordinal).round().astype(np.int64)).astype(dtype)
    x = np.unique(np.concatenate([even, ords, from_ordinal([a, b]).astype(dtype), SPECIAL_INPUTS.astype(dtype)]))
    return x[(x >= lo) & (x <= hi)]


# Inputs where programs like c / x or x - x break: always trained on when inside the interval.
SPECIAL_INPUTS = np.array([0.0, 1e-45, -1e-45, 2.0 ** -126, -(2.0 ** -126), 1.0, -1.0], np.float32)


def validation_inputs(target: Target, seed: int = 1, n: int = 16384, dtype: type = np.float32) -> np.ndarray:
    """Random points fixed by seed: half uniform in value, half uniform in float32 ordinal."""
    rng = np.random.default_rng(seed)
    lo, hi = target.interval
    a, b = f32_range(lo, hi)
    uni = rng.uniform(lo, hi, n // 2).astype(dtype)
    ords = from_ordinal(rng.integers(a, b + 1, n - n // 2)).astype(dtype)
    x = np.unique(np.concatenate([uni, ords]))
    return x[(x >= lo) & (x <= hi)]


@dataclass(frozen=True)
class Scorer:
    """Scores programs for one target on fixed training and validation sets."""

    target: Target
    dtype: str = "float32"
    metric: Metric = "ulp"
    fixed_ref: float = 1.5        # 'fixed' metric: errors in ulp(fixed_ref)
    seed: int = 1
    n_train: int = 1024
    n_validation: int = 16384
    semantics: str = "interp"     # score as this backend computes (evo.backends.BACKENDS)

    def __post_init__(self) -> None:
        if self.dtype == "float64" and self.metric == "ulp":
            object.__setattr__(self, "metric", "relative")

    @property
    def np_dtype(self) -> type:
        return np.float32 if self.dtype == "float32" else np.float64

    @property
    def unit(self) -> str:
        return "rel" if self.metric == "relative" else "ulp"

    def _points(self, x: np.ndarray) -> PointSet:
        hi, lo = self.target.exact(x)
        return PointSet(x, hi, lo)

    @cached_property
    def train(self) -> PointSet:
        return self._points(training_inputs(self.target, self.n_train, self.n_train // 4, self.np_dtype))

    @cached_property
    def validation(self) -> PointSet:
        return self._points(validation_inputs(self.target, self.seed, self.n_validation, self.np_dtype))

    def weights(self, pts: PointSet) -> np.ndarray:
        """1 / (the error unit at each point): residuals times these are errors (for fitting)."""
        if self.metric == "relative":
            return 1.0 / np.abs(pts.hi)
        if self.metric == "fixed":
            return np.full(pts.x.size, 1.0 / float(ulp32(np.float64(self.fixed_ref))))
        return 1.0 / ulp32(pts.hi, pts.lo)

    def errors(self, y: np.ndarray, pts: PointSet) -> np.ndarray:
        if self.metric == "relative":
            return error_relative(y, pts.hi, pts.lo)
        fixed = float(ulp32(np.float64(self.fixed_ref))) if self.metric == "fixed" else None
        return error_ulp(y, pts.hi, pts.lo, fixed)

    def score(self, p: Program, on: Literal["train", "validation"] | PointSet = "validation") -> ErrorStats:
        """Error statistics of `p` on the training or validation set (or given points);
        never raises on a valid program."""
        pts = on if isinstance(on, PointSet) else self.train if on == "train" else self.validation
        return stats(self.point_errors(p, pts), pts.x)

    def point_errors(self, p: Program, pts: PointSet) -> np.ndarray:
        """Per-point errors of `p` on `pts`, computed as `semantics` computes."""
        if self.dtype == "float64" and self.metric == "relative":
            from .reals import relative_errors  # reals mode: the real-number function (double-double)

            return relative_errors(p, pts.x, pts.hi, pts.lo)
        if self.semantics == "interp" or self.dtype != "float32":
            y = evaluate(p, pts.x, self.np_dtype)
        else:
            from .backends import run_backend

            y = run_backend(p, pts.x, self.semantics)
        return self.errors(y, pts)

    def __reduce__(self) -> tuple:
        return (Scorer, (self.target, self.dtype, self.metric, self.fixed_ref, self.seed, self.n_train,
                         self.n_validation, self.semantics))
