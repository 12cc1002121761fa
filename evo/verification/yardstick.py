"""The numpy yardstick of exhaustive verification: every float32 input of an interval,
chunked over all cores.

A program is checked by the fused LLVM verifier (evo.verification.fused.verify_program).
The numpy path here (`exhaustive`) checks any float32 function (C exports, library
symbols, JAX functions) and is the yardstick the fused one is tested against. Its reference is the target's float64 numpy function (its own error is ~1e-9
float32 ULP, far below what is reported); results say so. A program is run by
its LLVM build for speed, and every chunk is cross-checked bit for bit against
the numpy interpreter (the definition) on a strided sample.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from primitives.float32 import from_ordinal
from targets import Target

from ..core.interp import evaluate
from ..core.ir import Program
from ..core.numbers import ulp32
from ..core.progress import ProgressFn
from ..errors import EvoError
from .result import VerifyResult

Fn32 = Callable[[np.ndarray], np.ndarray]
CHUNK = 1 << 22
CROSS_CHECK_STRIDE = 61  # odd stride: the sample walks through every residue class of x


@dataclass
class _Partial:
    max: float = -1.0
    argmax: float = float("nan")
    total: float = 0.0
    ncr: int = 0
    n: int = 0
    checked: int = 0
    max_normal: float = -1.0        # the max where the correctly rounded result is not subnormal
    argmax_normal: float = float("nan")
    subnormal: int = 0              # inputs whose correctly rounded result is a nonzero subnormal
    flushed: int = 0                # ...and that got 0 (flush to zero)

    def merge(self, o: "_Partial") -> None:
        if o.max > self.max or (np.isnan(self.argmax) and o.n):
            self.max, self.argmax = o.max, o.argmax
        if o.max_normal > self.max_normal:
            self.max_normal, self.argmax_normal = o.max_normal, o.argmax_normal
        self.total += o.total
        self.ncr += o.ncr
        self.n += o.n
        self.checked += o.checked
        self.subnormal += o.subnormal
        self.flushed += o.flushed


BLOCK = 1 << 16  # inputs per numpy pass: the float64 temporaries stay in cache
_MIN_NORMAL = np.float32(2.0 ** -126)
_local = threading.local()


def _workspace() -> dict[str, np.ndarray]:
    """Per-thread buffers: fresh 4M-element temporaries cost more in page faults
    (glibc maps and unmaps big arrays) than the arithmetic itself."""
    ws = getattr(_local, "ws", None)
    if ws is None:
        ws = _local.ws = {"iota": np.arange(BLOCK, dtype=np.uint32), "bits": np.empty(BLOCK, np.uint32),
                          "x64": np.empty(BLOCK), "ulp": np.empty(BLOCK), "err": np.empty(BLOCK),
                          "r32": np.empty(BLOCK, np.float32)}
    return ws


def _inputs(start: int, stop: int, ws: dict[str, np.ndarray]) -> np.ndarray:
    """float32 values of ordinals [start, stop): from bit patterns where the block has
    one sign (ordinal -o is the pattern 0x80000000 + o), else via from_ordinal."""
    n = stop - start
    bits, iota = ws["bits"][:n], ws["iota"][:n]
    if start >= 0:
        np.add(iota, np.uint32(start), out=bits)
    elif stop <= 1:
        np.subtract(np.uint32(0x80000000 - start), iota, out=bits)
    else:
        return from_ordinal(np.arange(start, stop, dtype=np.int64))
    return bits.view(np.float32)


def _error_ulp(y: np.ndarray, ref: np.ndarray, ulp: np.ndarray, err: np.ndarray) -> np.ndarray:
    """scoring.error_ulp against a float64 reference (lo = 0), in the buffers ulp and err
    (ulp(v) = 2^(E-23), E the exponent of |v| but >= -126: ulp(0) = 2^-149)."""
    ulp32(ref, out=ulp)
    with np.errstate(all="ignore"):
        np.copyto(err, y)
        np.subtract(err, ref, out=err)
        np.abs(err, out=err)
        np.divide(err, ulp, out=err)
    bad_y = ~np.isfinite(y)
    if bad_y.any():
        err[bad_y] = np.inf
    return err


def _block(fn: Fn32, reference: Callable[[np.ndarray], np.ndarray], start: int, stop: int,
           check: Fn32 | None) -> _Partial:
    ws = _workspace()
    n = stop - start
    x = _inputs(start, stop, ws)
    y = np.asarray(fn(x), np.float32)
    x64 = ws["x64"][:n]
    with np.errstate(invalid="ignore"):  # signalling NaN inputs
        np.copyto(x64, x)
    ref = reference(x64)
    err = _error_ulp(y, ref, ws["ulp"][:n], ws["err"][:n])
    rounded = ws["r32"][:n]
    with np.errstate(over="ignore", invalid="ignore"):
        np.copyto(rounded, ref, casting="unsafe")
    # Where the reference, rounded to float32, is not finite (outside the domain, or an
    # overflow: exp2(200) is +inf in float32), only an equal result is right (error 0),
    # anything else is the worst score.
    bad_ref = ~np.isfinite(rounded)
    nan_y = np.isnan(y)
    if bad_ref.any():
        same = (y == rounded) | (nan_y & np.isnan(rounded))
        err[bad_ref & same] = 0.0
        err[~np.isfinite(ref) & ~same] = np.inf
    i = int(np.argmax(err))
    differ = y.view(np.uint32) != rounded.view(np.uint32)
    if nan_y.any():
        differ &= ~(nan_y & np.isnan(rounded))
    differ &= ~((y == 0) & (rounded == 0))  # -0 vs +0: same value
    out = _Partial(float(err[i]), float(x[i]), float(np.sum(err)), int(np.count_nonzero(differ)), n)
    sub = (np.abs(rounded) < _MIN_NORMAL) & (rounded != 0)
    if sub.any():  # results that should be subnormal: counted apart (XLA on CPU flushes them)
        out.subnormal, out.flushed = int(np.count_nonzero(sub)), int(np.count_nonzero(sub & (y == 0)))
        if not sub.all():
            normal = np.where(sub, -1.0, err)
            j = int(np.argmax(normal))
            out.max_normal, out.argmax_normal = float(normal[j]), float(x[j])
    else:
        out.max_normal, out.argmax_normal = out.max, out.argmax
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


def _chunk(fn: Fn32, reference: Callable[[np.ndarray], np.ndarray], start: int, stop: int,
           check: Fn32 | None) -> _Partial:
    acc = _Partial()
    for s in range(start, stop, BLOCK):
        acc.merge(_block(fn, reference, s, min(s + BLOCK, stop), check))
    return acc


def exhaustive(fn: Fn32, target: Target, interval: tuple[float, float] | None = None,
               ordinals: tuple[int, int] | None = None, progress: ProgressFn | None = None,
               check: Fn32 | None = None, threads: int | None = None,
               reference: Callable[[np.ndarray], np.ndarray] | None = None, computed_by: str = "") -> VerifyResult:
    """Run `fn` on every float32 in the interval (or ordinal range) and measure its ULP error.
    computed_by: what ran fn, for the result (e.g. XLA, with its version and device)."""
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
                        time.perf_counter() - t0, (lo, hi), cross_checked=acc.checked, computed_by=computed_by,
                        max_ulp_normal=acc.max_normal, argmax_normal=acc.argmax_normal,
                        subnormal_results=acc.subnormal, flushed_to_zero=acc.flushed)


def verify_program_numpy(p: Program, target: Target, interval: tuple[float, float] | None = None,
                         progress: ProgressFn | None = None, threads: int | None = None) -> VerifyResult:
    """The same check by the numpy path (float64 numpy reference), kept as an independent
    yardstick of the fused one (about 15x slower)."""
    from ..backends.llvm import compile_kernel

    kernel = compile_kernel(p, np.float32)
    return exhaustive(kernel, target, interval, progress=progress, check=lambda x: evaluate(p, x, np.float32),
                      threads=threads)
