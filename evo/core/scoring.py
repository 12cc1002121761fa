"""Error of a program against a target: ULP (float32), fixed ULP, or relative (reals).

ULP error (as defined in the design notes): err = |y - v| / ulp(v), ulp(v) = 2^(E-23) with
2^E <= |v| < 2^(E+1), E >= -126. v is the exact value (double-double here).
NaN or inf where v is finite scores inf: the worst score.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Literal

import numpy as np

from primitives.float32 import f32_range, from_ordinal
from targets import Target

from .ir import Program
from .formats import FORMATS, Format
from .numbers import json_float, ulp32
from .platform import Platform


def error_ulp(y: np.ndarray, hi: np.ndarray, lo: np.ndarray | float = 0.0, fixed_ulp: float | None = None) -> np.ndarray:
    """Per-point error in float32 ULPs (of the exact value, or a fixed ulp)."""
    y64 = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        d = np.abs((y64 - hi) - lo)
        u = fixed_ulp if fixed_ulp is not None else ulp32(hi, lo)
        err = d / u
    return np.where(np.isfinite(y64), err, np.inf)


def error_relative(y: np.ndarray, hi: np.ndarray, lo: np.ndarray | float = 0.0) -> np.ndarray:
    """Per-point relative error |y - v| / |v|; y a float array, or a double-double pair
    (yh, yl): the real-number value of a reals-mode program (evo.core.doubledouble)."""
    if isinstance(y, tuple):  # a NaN anywhere (inf - inf) scores inf too
        yh, yl = y
        with np.errstate(all="ignore"):
            err = np.abs((yh - hi) + (yl - lo)) / np.abs(hi)
            err = np.where(hi == 0, np.where((yh == 0) & (yl == 0), 0.0, np.inf), err)
        return np.where(np.isfinite(yh) & ~np.isnan(err), err, np.inf)
    y64 = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        err = np.abs((y64 - hi) - lo) / np.abs(hi)
        err = np.where(hi == 0, np.where(y64 == 0, 0.0, np.inf), err)
    return np.where(np.isfinite(y64), err, np.inf)


@dataclass(frozen=True)
class ErrorStats:
    max: float       # max error (in the metric's unit: ULP, or relative)
    mean: float
    argmax: float    # the input where the max is reached
    n: int           # number of inputs

    def to_dict(self, unit: str = "ulp") -> dict:
        return {f"max_{unit}": json_float(self.max), f"mean_{unit}": json_float(self.mean),
                "argmax": float(self.argmax) if np.isfinite(self.argmax) else None, "inputs": self.n}


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
    x: np.ndarray   # inputs (the platform's dtype)
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
class Metric:
    """How an output's error is measured: per-point errors, and the fitting weights (one
    over the error's unit at each point: residuals times them are errors)."""

    name: str
    unit: str     # the key suffix of records: max_ulp, max_rel
    errors: Callable[[Any, PointSet, "Scorer"], np.ndarray]   # (outputs, points, scorer)
    weights: Callable[[PointSet, "Scorer"], np.ndarray]       # (points, scorer)


def _fixed_ulp(fixed_ref: float) -> float:
    return float(ulp32(np.float64(fixed_ref)))


def _format(s: "Scorer") -> Format:
    return FORMATS[s.platform.output_format]


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("ulp", "ulp", lambda y, pts, s: error_ulp(y, pts.hi, pts.lo), lambda pts, s: 1.0 / ulp32(pts.hi, pts.lo)),
    # AutoNumerics-Zero's: errors in ulp(fixed_ref), e.g. ulp(1.5) for exp2 on [0, 1]
    Metric("fixed", "ulp", lambda y, pts, s: error_ulp(y, pts.hi, pts.lo, _fixed_ulp(s.fixed_ref)),
           lambda pts, s: np.full(pts.x.size, 1.0 / _fixed_ulp(s.fixed_ref))),
    Metric("relative", "rel", lambda y, pts, s: error_relative(y, pts.hi, pts.lo),
           lambda pts, s: 1.0 / np.abs(pts.hi)),
    # A small output format (evo.core.formats): pts.hi holds the correctly rounded value c;
    # the error is the float32 result's distance from it in the format's spacing (< 0.5: rounds to c)
    Metric("cr", "ulp", lambda y, pts, s: _format(s).cr_distance(y, pts.hi),
           lambda pts, s: 1.0 / np.minimum(*_format(s).gaps(np.where(np.isfinite(pts.hi), pts.hi, 0.0)))),
)}


HARD = 0.3       # small formats: inputs whose exact value is this near a rounding boundary...
N_HARD = 2048    # ...are trained on, the hardest this many at most


@dataclass(frozen=True)
class Scorer:
    """Scores programs for one target on fixed training and validation sets, as its
    platform computes and judges them (a backend's arithmetic instead, where `run` is given)."""

    target: Target
    platform: Platform
    metric: str = ""              # one of the platform's metrics ("": its default)
    fixed_ref: float = 1.5        # 'fixed' metric: errors in ulp(fixed_ref)
    seed: int = 1
    n_train: int = 1024
    n_validation: int = 16384
    # outputs of a program as a backend computes them (evo.backends.run_backend); None: the platform's evaluator
    run: Callable[[Program, np.ndarray], np.ndarray] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.metric:
            object.__setattr__(self, "metric", self.platform.metrics[0])

    @property
    def np_dtype(self) -> type:
        return self.platform.dtype

    @property
    def unit(self) -> str:
        return METRICS[self.metric].unit

    def points(self, x: np.ndarray) -> PointSet:
        """x with what results there are judged against: the exact values (double-double), or
        with a small output format the correctly rounded ones."""
        hi, lo = self.target.exact(x)
        if self.platform.output_format:
            hi, lo = FORMATS[self.platform.output_format].correctly_rounded(hi, lo), np.zeros_like(lo)
        return PointSet(x, hi, lo)

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        """Candidate inputs as the platform's inputs: a small input format's values."""
        if not self.platform.input_format:
            return x
        lo, hi = self.target.interval
        v = np.unique(FORMATS[self.platform.input_format].round(x))
        return v[np.isfinite(v) & (v >= lo) & (v <= hi)]

    @cached_property
    def train(self) -> PointSet:
        """Evenly spaced points (and in float32 ordinal); with a small input format, also the
        inputs whose exact values lie nearest to a rounding boundary (the ones that decide
        correct rounding)."""
        x = self._inputs(training_inputs(self.target, self.n_train, self.n_train // 4, self.np_dtype))
        if self.platform.input_format:
            x = np.union1d(x, self._hard_inputs())
        return self.points(x)

    def _hard_inputs(self) -> np.ndarray:
        """The format's inputs of the interval with hardness above HARD (at most N_HARD, the hardest)."""
        x = FORMATS[self.platform.input_format].values(*self.target.interval)
        h = FORMATS[self.platform.output_format].hardness(*self.target.exact(x))
        keep = np.flatnonzero(h > HARD)
        return x[keep[np.argsort(-h[keep], kind="stable")[:N_HARD]]]

    @cached_property
    def validation(self) -> PointSet:
        """A fixed random sample; with a small input format, every input of the interval."""
        if self.platform.input_format:
            return self.points(FORMATS[self.platform.input_format].values(*self.target.interval))
        return self.points(validation_inputs(self.target, self.seed, self.n_validation, self.np_dtype))

    def weights(self, pts: PointSet) -> np.ndarray:
        """1 / (the error unit at each point): residuals times these are errors (for fitting)."""
        return METRICS[self.metric].weights(pts, self)

    def errors(self, y: Any, pts: PointSet) -> np.ndarray:
        """Per-point errors of outputs y (what the platform's evaluator returns) at pts."""
        return METRICS[self.metric].errors(y, pts, self)

    def score(self, p: Program, on: Literal["train", "validation"] | PointSet = "validation") -> ErrorStats:
        """Error statistics of `p` on the training or validation set (or given points);
        never raises on a valid program."""
        pts = on if isinstance(on, PointSet) else self.train if on == "train" else self.validation
        return stats(self.point_errors(p, pts), pts.x)

    def outputs(self, p: Program, x: np.ndarray) -> Any:
        """What `p` computes at x: the platform's evaluator, or the backend's `run`."""
        return self.run(p, x) if self.run is not None else self.platform.evaluate(p, x)

    def point_errors(self, p: Program, pts: PointSet) -> np.ndarray:
        """Per-point errors of `p` on `pts`."""
        return self.errors(self.outputs(p, pts.x), pts)

    def __reduce__(self) -> tuple:
        # the cached point sets are rebuilt where it lands (from the ground-truth cache)
        return (Scorer, (self.target, self.platform, self.metric, self.fixed_ref, self.seed, self.n_train,
                         self.n_validation, self.run))
