"""Independent reference helpers for the tests (mpmath and plain integer arithmetic).

Nothing here imports the code under test except the IR constructors and the gcc
driver (a build tool: what the C computes is the C library's and gcc's): these are
the yardsticks the foundation code is measured against, so they are written
differently from it on purpose (mpmath instead of float64 tricks).
"""
from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import mpmath
import numpy as np

from evo.backends.gcc import build_so, gcc_path
from evo.core.ir import Instr, Program

MIN_E = -126   # float32 exponent of the smallest normal
MANT = 23      # float32 stored mantissa bits


def mp_ulp32(v: mpmath.mpf) -> mpmath.mpf:
    """ulp(v) = 2^(E-23), 2^E <= |v| < 2^(E+1), E >= -126 (README, "Definitions"), in mpmath."""
    if v == 0:
        return mpmath.ldexp(1, MIN_E - MANT)
    _, e = mpmath.frexp(v)           # v = m * 2^e, 0.5 <= |m| < 1
    return mpmath.ldexp(1, max(int(e) - 1, MIN_E) - MANT)


def mp_round_f32(v: mpmath.mpf) -> float:
    """v rounded to the nearest float32 (ties to even), subnormals and overflow included."""
    if mpmath.isnan(v):
        return float("nan")
    if mpmath.isinf(v):
        return float(v)
    q = mp_ulp32(v)
    r = mpmath.nint(v / q) * q           # mpmath.nint: round half to even
    if abs(r) >= mpmath.ldexp(1, 128):
        return float("inf") if r > 0 else float("-inf")
    out = float(r)
    assert float(np.float32(out)) == out
    return out


def mp_ulp_error(y: float, v: mpmath.mpf) -> float:
    """|y - v| / ulp(v) computed entirely in mpmath (inf for a non-finite y)."""
    if not np.isfinite(y):
        return float("inf")
    return float(abs(mpmath.mpf(float(y)) - v) / mp_ulp32(v))


def f32_grid(lo: float, hi: float) -> np.ndarray:
    """Every float32 in [lo, hi] for 0 <= lo < hi, by walking bit patterns (positive floats only)."""
    assert 0 <= lo < hi
    a = np.float32(lo)
    if float(a) < lo:
        a = np.nextafter(a, np.float32(np.inf))
    b = np.float32(hi)
    if float(b) > hi:
        b = np.nextafter(b, np.float32(-np.inf))
    ia, ib = int(a.view(np.uint32)), int(b.view(np.uint32))
    return np.arange(ia, ib + 1, dtype=np.uint32).view(np.float32)


def horner(coeffs: list[float], use_fma: bool = True) -> Program:
    """p(x) = c0 + c1 x + ... + cn x^n as a Program in Horner form (fma or mul + add)."""
    instrs = [Instr("x")]
    acc = None
    for c in reversed(coeffs):
        instrs.append(Instr("const", (), float(np.float32(c))))
        k = len(instrs) - 1
        if acc is None:
            acc = k
            continue
        if use_fma:
            instrs.append(Instr("fma", (acc, 0, k)))
        else:
            instrs.append(Instr("mul", (acc, 0)))
            instrs.append(Instr("add", (len(instrs) - 1, k)))
        acc = len(instrs) - 1
    return Program(tuple(instrs), acc)


def lsq_exp2_coeffs(degree: int) -> list[float]:
    """Least-squares (relative) polynomial fit of 2^x on [0, 1] at Chebyshev nodes, float32 coefficients."""
    t = np.cos(np.pi * (np.arange(4000) + 0.5) / 4000)
    x = (t + 1) / 2
    y = np.exp2(x)
    V = np.vander(x, degree + 1, increasing=True) / y[:, None]
    c, *_ = np.linalg.lstsq(V, np.ones_like(x), rcond=None)
    return [float(np.float32(v)) for v in c]


C_HELPER = r"""
#include <math.h>
void vfmaf(const float *a, const float *b, const float *c, float *out, long n) {
    for (long i = 0; i < n; i++) out[i] = fmaf(a[i], b[i], c[i]);
}
"""


def compile_c(source: str, directory: Path, name: str) -> ctypes.CDLL | None:
    """Build `source` into a shared object in `directory` with gcc (strict IEEE: no fast-math,
    no contraction, no builtins, so fmaf is the C library's). None if there is no gcc."""
    if gcc_path() is None:
        return None
    so = build_so(source, name, ("-O2", "-fno-builtin", "-ffp-contract=off", "-fno-fast-math"), directory=directory)
    return ctypes.CDLL(str(so))


def f32_ptr(a: np.ndarray) -> ctypes.c_void_p:
    assert a.dtype == np.float32 and a.flags.c_contiguous
    return ctypes.c_void_p(a.ctypes.data)


def same_f32(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: identical bit patterns, or both NaN (NaN payloads are not specified)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return (a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b))


def assert_user_error(r: subprocess.CompletedProcess, message: str) -> None:
    """A user mistake: exit code 2, exactly one line `evo: error: MESSAGE`, no traceback."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stderr == f"evo: error: {message}\n", r.stderr   # exactly one line
    assert r.stdout == ""


# -- building searches the way evo.api does (the target resolved once, handed down) -----------

def spec_for(config):
    """The EvalSpec of a config, its target resolved here."""
    from evo.evolution.worker import EvalSpec
    from targets import get_target

    return EvalSpec.of(config, get_target(config.target, config.interval))


def local_search(config, store=None, on_progress=None, evaluator=None):
    """A Search of `config` evaluating in this process (or on `evaluator`)."""
    from evo.evolution.evaluators import LocalEvaluator
    from evo.evolution.loop import Search

    spec = spec_for(config)
    return Search(config, spec.target, evaluator or LocalEvaluator(spec), store, on_progress)
