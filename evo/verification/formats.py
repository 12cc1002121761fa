"""Exhaustive checks of a float32 program whose result is rounded once to a small format
(bfloat16, float16; evo.core.formats): every input of the interval, the inputs being the
format's own values (at most 65,536: mpmath decides every correctly rounded value) or every
float32 (FlashAttention's case, float32 in and bfloat16 out: the float64 reference decides).

Per input it measures the float32 result's distance from the correctly rounded value c in
the format's spacing (under 0.5: it rounds to c; what a search ranks by, `max_ulp`), the
error of the rounded result itself in the format's ulps (`rounded_max_ulp`: faithful under
1), and counts the inputs whose rounded result is not c (`not_correctly_rounded`)."""
from __future__ import annotations

import ctypes
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from primitives.float32 import from_ordinal
from targets import Target

from ..core.formats import FORMATS, Format
from ..core.interp import evaluate
from ..core.ir import Program
from ..core.numbers import json_float
from ..core.progress import ProgressFn
from .result import VerifyResult

CHUNK = 1 << 16     # in cache: 10x faster a pass than 2^22 here


@dataclass(frozen=True)
class FormatVerifyResult(VerifyResult):
    """VerifyResult in a small output format: max_ulp is the largest distance of a float32
    result from its correctly rounded value (format ulps; < 0.5 for each correct rounding)."""

    output_format: str = ""
    rounded_max_ulp: float = 0.0       # the error of the rounded results (format ulps)
    worst: tuple[tuple[float, float], ...] = ()   # (x, distance): the largest, in distinct places

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["rounded_max_ulp"] = json_float(self.rounded_max_ulp)
        d["worst"] = [[x, json_float(e)] for x, e in self.worst]
        return d


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equal values (+0 == -0), or both NaN."""
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _worst(dist: np.ndarray, x: np.ndarray, k: int = 4) -> tuple[tuple[float, float], ...]:
    order = np.argsort(-np.where(np.isfinite(dist), dist, np.finfo(np.float64).max), kind="stable")[:64]
    out: list[tuple[float, float]] = []
    for i in order:
        if all(abs(float(x[i]) - o) > 1e-3 * max(abs(o), 1e-30) for o, _ in out):
            out.append((float(x[i]), float(dist[i])))
        if len(out) == k:
            break
    return tuple(out)


def _measure(f: Format, y: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distance from the correctly rounded value, rounded error, misrounded) per input."""
    c = f.correctly_rounded(hi, lo)
    err, wrong = _rounded_errors(f, f.round(y).astype(np.float64), c, hi, lo)
    return f.cr_distance(y, c), err, wrong


def _rounded_errors(f: Format, rounded: np.ndarray, c: np.ndarray, hi: np.ndarray,
                    lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(error in the format's ulps, misrounded) of results already in the format, against
    the exact hi + lo and its correctly rounded c."""
    wrong = ~_same(rounded, c)
    err = f.ulp_error(rounded, hi, lo)
    # where the exact value is beyond the format (inf), only inf is right
    err = np.where(np.isfinite(c), err, np.where(wrong, np.inf, 0.0))
    return np.where(np.isnan(c) & np.isnan(rounded), 0.0, err), wrong


# The per-input rules of `_measure` in one C loop (the numpy form costs ~90 ns an input
# here, this one a few): the same bit arithmetic as evo.core.formats, checked against it.
_MEASURE_C = """\
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>
static int64_t bits_of(double a) { int64_t b; memcpy(&b, &a, 8); return b; }
static double of_bits(int64_t b) { double a; memcpy(&a, &b, 8); return a; }
static double spacing(double a, int bits, int emin, int emax) {
    int e; a = fabs(a);
    if (!isfinite(a)) e = emax;
    else { e = (int)((bits_of(a) >> 52) & 0x7FF) - 1023; if (e < emin) e = emin; }
    return of_bits((int64_t)(e - bits + 1023) << 52);
}
/* evo.core.formats.Format.correctly_rounded(hi, 0) */
static double cr(double hi, int bits, int emin, int emax, double max_finite) {
    if (isnan(hi)) return hi;
    double a = fabs(hi), r;
    double tiny = of_bits((int64_t)(emin - bits + 1023) << 52);
    if (a < of_bits((int64_t)(emin + 1023) << 52)) {
        double q = floor(a / tiny), d = a - (q * tiny + tiny / 2);
        r = (d > 0 || (d == 0 && fmod(q, 2) == 1)) ? (q + 1) * tiny : q * tiny;
    } else {
        int sh = 52 - bits;
        int64_t b = bits_of(a), rem = b & ((1LL << sh) - 1), q = b >> sh, half = 1LL << (sh - 1);
        int up = rem > half || (rem == half && (q & 1));
        r = of_bits((q + up) << sh);
    }
    double bound = max_finite + spacing(max_finite, bits, emin, emax) / 2;
    if (a >= bound) r = INFINITY;
    return copysign(r, hi);
}
/* out: [max dist, argmax, sum dist, misrounded, max rounded error] */
void evo_measure(const float *y, const double *ref, size_t n, int bits, int emin, int emax,
                 double max_finite, double *out) {
    double dmax = -1, dsum = 0, emax_seen = 0, wrong = 0, arg = 0;
    double min_normal = of_bits((int64_t)(emin + 1023) << 52);
    for (size_t i = 0; i < n; i++) {
        double v = ref[i], c = cr(v, bits, emin, emax, max_finite), yi = y[i];
        double r = cr(yi, bits, emin, emax, max_finite);
        int same = (r == c) || (isnan(r) && isnan(c));
        double d, e;
        if (isfinite(c)) {
            double up = spacing(c, bits, emin, emax), ac = fabs(c), down = up;
            if (ac > min_normal && (bits_of(ac) & ((1LL << 52) - 1)) == 0) down = up / 2;
            double above = c > 0 ? up : down, below = c > 0 ? down : up;
            d = !isfinite(yi) ? INFINITY : (yi >= c ? (yi - c) / above : (c - yi) / below);
            e = isfinite(r) ? fabs(r - v) / spacing(v, bits, emin, emax) : INFINITY;
        } else if (isnan(c)) {
            d = isnan(yi) ? 0 : INFINITY;
            e = isnan(r) ? 0 : INFINITY;
        } else {
            d = same ? 0 : INFINITY;
            e = same ? 0 : INFINITY;
        }
        if (d > dmax) { dmax = d; arg = (double)i; }
        dsum += d;
        if (e > emax_seen) emax_seen = e;
        wrong += !same;
    }
    out[0] = dmax; out[1] = arg; out[2] = dsum; out[3] = wrong; out[4] = emax_seen;
}
"""


@lru_cache(maxsize=1)
def _native_measure() -> Callable | None:
    """The C loop, or None where there is no gcc (then numpy measures)."""
    from ..backends.gcc import build_so, gcc_path, load

    if gcc_path() is None:
        return None
    so = build_so(_MEASURE_C, "evo_measure", ("-O2", "-fno-fast-math"))
    lib = load(so, evo_measure=[ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                                ctypes.c_int, ctypes.c_double, ctypes.c_void_p])
    return lib.evo_measure


def _measure_chunk(f: Format, y: np.ndarray, ref: np.ndarray) -> tuple[float, int, float, int, float]:
    """(max distance, its index, sum of distances, misrounded, max rounded error) of one chunk."""
    fn = _native_measure()
    if fn is not None:
        out = np.zeros(5)
        y, ref = np.ascontiguousarray(y, np.float32), np.ascontiguousarray(ref, np.float64)
        fn(y.ctypes.data, ref.ctypes.data, y.size, f.bits, f.emin, f.emax, f.max_finite, out.ctypes.data)
        return float(out[0]), int(out[1]), float(out[2]), int(out[3]), float(out[4])
    d, e, w = _measure(f, y, ref, np.zeros_like(ref))
    i = int(np.argmax(d))
    return float(d[i]), i, float(np.sum(d)), int(w.sum()), float(e.max())


def verify_format(p: Program, target: Target, interval: tuple[float, float] | None = None,
                  progress: ProgressFn | None = None, threads: int | None = None, *,
                  output_format: str, input_format: str = "") -> FormatVerifyResult:
    """Every input of the interval: the format's values (input_format), else every float32."""
    t = target.with_interval(*interval) if interval else target
    f = FORMATS[output_format]
    t0 = time.perf_counter()
    if input_format:
        x = FORMATS[input_format].values(*t.interval)
        hi, lo = t.exact(x)
        dist, err, wrong = _measure(f, evaluate(p, x, np.float32), hi, lo)
        n, reference = x.size, "mpmath (exact: every correctly rounded value decided)"
        parts = [(dist, err, wrong, x)]
        if progress:
            progress(n, n)
    else:
        from ..backends.llvm import compile_kernel

        kernel = compile_kernel(p, np.float32)
        a, b = t.f32_inputs()

        def chunk(s: int) -> tuple:
            x = from_ordinal(np.arange(s, min(s + CHUNK, b + 1), dtype=np.int64))
            with np.errstate(all="ignore"):
                ref = t.f64(x.astype(np.float64))
            d, i, dsum, w, e = _measure_chunk(f, kernel(x), ref)
            return np.array([d]), np.array([e]), np.array([w]), x[[i]], dsum, x.size

        parts, n, total = [], 0, 0.0
        with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:   # numpy and C release the GIL
            for d, e, w, xi, dsum, size in pool.map(chunk, range(a, b + 1, CHUNK)):
                parts.append((d, e, w, xi))
                n, total = n + size, total + dsum
                if progress and (len(parts) % 64 == 0 or n == b - a + 1):
                    progress(n, b - a + 1)
        reference = "float64 numpy (a result within ~1e-16 of a rounding midpoint could be misjudged)"
    dist = np.concatenate([q[0] for q in parts])
    err = np.concatenate([q[1] for q in parts])
    xs = np.concatenate([q[3] for q in parts])
    ncr = int(sum(int(np.sum(q[2])) for q in parts))
    i = int(np.argmax(dist))
    mean = (float(np.mean(dist)) if input_format else total / max(n, 1)) if np.isfinite(dist).all() else float("inf")
    return FormatVerifyResult(float(dist[i]), mean, float(xs[i]), ncr, n, time.perf_counter() - t0,
                              tuple(t.interval), reference=reference, output_format=output_format,
                              rounded_max_ulp=float(np.max(err)), worst=_worst(dist, xs))


# f(-inf), f(+inf), f(+-0) of the functions with a full-range small-format form
# (evo.codegen.small_native); None: as mpmath says
_SPECIAL = {"exp2": (0.0, math.inf, None), "exp": (0.0, math.inf, None),
            "log2": (math.nan, math.inf, -math.inf), "log": (math.nan, math.inf, -math.inf),
            "sigmoid": (0.0, 1.0, None), "tanh": (-1.0, 1.0, None)}


@dataclass(frozen=True)
class SmallCheck:
    """A full-range small-format function on every input of its format (all 65,536 bit
    patterns): how many results are not the correctly rounded value."""

    function: str
    format: str
    inputs: int                   # 65,536
    misrounded: int               # results that are not the correctly rounded value (NaN: NaN)
    max_ulp: float                # the largest error, in the format's ulps (inf: a non-finite result where one is finite)
    subnormal_results: int        # inputs whose correctly rounded result is subnormal (checked like the rest)
    worst: tuple[tuple[float, float, float], ...] = ()   # (x, got, correctly rounded) of some misrounded
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"function": self.function, "format": self.format, "inputs": self.inputs,
                "misrounded": self.misrounded, "max_ulp": json_float(self.max_ulp),
                "subnormal_results": self.subnormal_results, "worst": [list(w) for w in self.worst],
                "seconds": self.seconds}


def correctly_rounded_everywhere(target: Target, fmt: Format) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every bit pattern of the format as float32 x, and for each the exact f(x) (hi, lo) and
    its correctly rounded value in the format (mpmath, cached; the limits at +-inf; NaN at NaN)."""
    x = fmt.every_value()
    fin = np.isfinite(x)
    hi, lo = np.full(x.size, np.nan), np.zeros(x.size)
    with np.errstate(all="ignore"):
        hi[fin], lo[fin] = target.exact(x[fin])
    at_minus, at_plus, at_zero = _SPECIAL[target.full_range or target.name]
    hi[x == -np.inf], hi[x == np.inf] = at_minus, at_plus
    if at_zero is not None:
        hi[x == 0], lo[x == 0] = at_zero, 0.0
    return x, hi, lo, fmt.correctly_rounded(hi, lo)


def check_small_function(fn: Callable[[np.ndarray], Any], target: Target, fmt: Format) -> SmallCheck:
    """fn (an array of the format -> an array of the format) on all 65,536 inputs."""
    t0 = time.perf_counter()
    x, hi, lo, c = correctly_rounded_everywhere(target, fmt)
    bits = np.arange(1 << 16, dtype=np.uint16)
    with np.errstate(invalid="ignore"):     # NaN patterns
        got = np.asarray(fn(bits.view(fmt.numpy_dtype))).astype(np.float32).astype(np.float64)
    err, wrong = _rounded_errors(fmt, got, c, hi, lo)
    idx = np.flatnonzero(wrong)[:8]
    sub = int(np.sum((np.abs(c) < fmt.min_normal) & (c != 0)))
    return SmallCheck(target.full_range or target.name, fmt.name, x.size, int(wrong.sum()), float(np.max(err)), sub,
                      tuple((float(x[i]), float(got[i]), float(c[i])) for i in idx), time.perf_counter() - t0)
