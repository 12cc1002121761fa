"""Ground truth: the exact function value at exact inputs, by mpmath, cached on disk.

Values are stored as double-double (hi + lo): about 106 bits, so ULP errors of
float32 results are exact to ~1e-16 relative, and correct rounding can be told.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from typing import Any, Callable

import mpmath
import numpy as np

from .limits import check_time

PRECISION_BITS = 128


def cache_dir() -> Path:
    """$EVO_CACHE_DIR, else $XDG_CACHE_HOME/evo, else ~/.cache/evo."""
    if os.environ.get("EVO_CACHE_DIR"):
        return Path(os.environ["EVO_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "evo"


def exact_values(f: Callable[[Any], Any], x: np.ndarray, bits: int = PRECISION_BITS) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo) float64 arrays with hi + lo = f(x) to ~106 bits. Non-real or non-finite -> nan."""
    hi = np.empty(x.size)
    lo = np.empty(x.size)
    with mpmath.workprec(bits):
        for i, xi in enumerate(np.asarray(x, np.float64).ravel()):
            if i % 64 == 0:
                check_time(f"x = {float(xi)!r}")
            try:
                v = f(mpmath.mpf(float(xi)))
            except (ValueError, ZeroDivisionError, OverflowError):
                v = mpmath.nan
            if isinstance(v, mpmath.mpc) or not mpmath.isfinite(v):
                hi[i] = lo[i] = np.nan
                continue
            h = float(v)
            hi[i] = h
            lo[i] = float(v - h) if np.isfinite(h) else 0.0
    return hi.reshape(x.shape), lo.reshape(x.shape)


def cached_exact_values(key: str, f: Callable[[Any], Any], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """exact_values, memoised on disk by (expression key, precision, the input bytes)."""
    h = hashlib.sha256(f"{key}|{PRECISION_BITS}|{x.dtype.str}".encode() + np.ascontiguousarray(x).tobytes()).hexdigest()[:24]
    path = cache_dir() / "truth" / f"{h}.npz"
    try:
        with np.load(path) as z:
            return z["hi"], z["lo"]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        pass  # missing, truncated or corrupt: recompute and rewrite
    hi, lo = exact_values(f, x)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, hi=hi, lo=lo)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs time
    return hi, lo
