"""Exhaustive verification: every float32 input of an interval, chunked over all cores.

The reference is the target's float64 numpy function (its own error is ~1e-9
float32 ULP, far below what is reported); results say so. A program is run by
its LLVM build for speed, and every chunk is cross-checked bit for bit against
the numpy interpreter (the definition) on a strided sample.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from primitives.float32 import from_ordinal
from targets import Target

from .errors import EvoError
from .interp import evaluate
from .ir import Program
from .progress import ProgressFn
from .scoring import error_ulp, json_float

Fn32 = Callable[[np.ndarray], np.ndarray]
CHUNK = 1 << 22
CROSS_CHECK_STRIDE = 61  # odd stride: the sample walks through every residue class of x


@dataclass(frozen=True)
class VerifyResult:
    max_ulp: float
    mean_ulp: float
    argmax: float
    not_correctly_rounded: int
    inputs: int
    seconds: float
    interval: tuple[float, float]
    reference: str = "float64 numpy (error ~1e-9 float32 ULP)"
    exhaustive: bool = True
    cross_checked: int = 0  # inputs also run through the interpreter, bit-exact

    def to_dict(self) -> dict:
        d = asdict(self)
        d["max_ulp"], d["mean_ulp"] = json_float(self.max_ulp), json_float(self.mean_ulp)
        d["interval"] = list(self.interval)
        return d


@dataclass
class _Partial:
    max: float = -1.0
    argmax: float = float("nan")
    total: float = 0.0
    ncr: int = 0
    n: int = 0
    checked: int = 0

    def merge(self, o: "_Partial") -> None:
        if o.max > self.max or (np.isnan(self.argmax) and o.n):
            self.max, self.argmax = o.max, o.argmax
        self.total += o.total
        self.ncr += o.ncr
        self.n += o.n
        self.checked += o.checked


def _chunk(fn: Fn32, reference: Callable[[np.ndarray], np.ndarray], start: int, stop: int,
           check: Fn32 | None) -> _Partial:
    x = from_ordinal(np.arange(start, stop, dtype=np.int64))
    y = fn(x)
    ref = reference(x.astype(np.float64))
    err = error_ulp(y, ref)
    # Where the reference itself is not finite (outside the domain), only an equal result is right.
    bad_ref = ~np.isfinite(ref)
    if bad_ref.any():
        same = (y.astype(np.float64) == ref) | (np.isnan(y) & np.isnan(ref))
        err = np.where(bad_ref, np.where(same, 0.0, np.inf), err)
    i = int(np.argmax(err))
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = ref.astype(np.float32)
    ncr = int(np.count_nonzero((y != rounded) & ~(np.isnan(y) & np.isnan(rounded))))
    out = _Partial(float(err[i]), float(x[i]), float(np.sum(err)), ncr, int(x.size))
    if check is not None:
        xs = x[::CROSS_CHECK_STRIDE]
        want = check(xs)
        got = y[::CROSS_CHECK_STRIDE]
        diff = want.view(np.uint32) != got.view(np.uint32)
        if diff.any():
            j = int(np.argmax(diff))
            raise EvoError(f"backend disagrees with the interpreter at x = {float(xs[j])!r}: "
                           f"{float(got[j])!r} vs {float(want[j])!r}")
        out.checked = int(xs.size)
    return out


def exhaustive(fn: Fn32, target: Target, interval: tuple[float, float] | None = None,
               ordinals: tuple[int, int] | None = None, progress: ProgressFn | None = None,
               check: Fn32 | None = None, threads: int | None = None,
               reference: Callable[[np.ndarray], np.ndarray] | None = None) -> VerifyResult:
    """Run `fn` on every float32 in the interval (or ordinal range) and measure its ULP error."""
    t = target.with_interval(*interval) if interval else target
    a, b = ordinals if ordinals else t.f32_inputs()
    ref = reference or t.f64
    total = b - a + 1
    starts = range(a, b + 1, CHUNK)
    acc = _Partial()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
        futures = [pool.submit(_chunk, fn, ref, s, min(s + CHUNK, b + 1), check) for s in starts]
        for fut in futures:
            acc.merge(fut.result())
            if progress:
                progress(acc.n, total)
    lo, hi = float(from_ordinal(a)), float(from_ordinal(b))
    return VerifyResult(acc.max, acc.total / max(acc.n, 1), acc.argmax, acc.ncr, acc.n,
                        time.perf_counter() - t0, (lo, hi), cross_checked=acc.checked)


def verify_program(p: Program, target: Target, interval: tuple[float, float] | None = None,
                   progress: ProgressFn | None = None) -> VerifyResult:
    """Exhaustive check of a float32 program: LLVM build, cross-checked against the interpreter."""
    from .backends.llvm import compile_kernel

    kernel = compile_kernel(p, np.float32)
    return exhaustive(kernel, target, interval, progress=progress, check=lambda x: evaluate(p, x, np.float32))
