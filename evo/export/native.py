"""Native float32 functions for verification: a C file compiled with gcc, or a symbol
of a shared library (e.g. the system libm's expf), called on numpy arrays.

A scalar `float f(float)` is called from a small C loop (compiled once per
process) through its address, so a whole chunk costs one ctypes call and the
GIL is released meanwhile: threads run in parallel.
"""
from __future__ import annotations

import ctypes
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import EvoError

COMPILE_FLAGS = ("-O3", "-march=native", "-std=c99", "-fPIC", "-shared")

_MAP_C = """\
#include <stddef.h>
typedef float (*evo_f32_fn)(float);
void evo_map(evo_f32_fn f, const float *x, float *y, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) y[i] = f(x[i]);
}
"""
_lock = threading.Lock()
Fn32 = Callable[[np.ndarray], np.ndarray]


def gcc() -> str:
    path = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("gcc")
    if path is None:
        raise EvoError("gcc not found on PATH (needed to compile C)")
    return path


@lru_cache(maxsize=1)
def _workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="evo-native-"))


_count = itertools.count()


def _unique(stem: str, suffix: str) -> Path:
    """A fresh file name: dlopen returns an already loaded library for a path it has seen."""
    return _workdir() / f"{stem}-{next(_count)}{suffix}"


def _first_error(stderr: str) -> str:
    """The compiler's first error line, on one line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    pick = next((ln for ln in lines if re.search(r"\berror\b", ln)), lines[0] if lines else "unknown error")
    return re.sub(r"\s+", " ", pick)


def compile_shared(source: Path, flags: tuple[str, ...] = COMPILE_FLAGS, out: Path | None = None) -> Path:
    """gcc `source` into a shared object; EvoError with the compiler's first error."""
    if not source.is_file():
        raise EvoError(f"{source}: no such file")
    out = out or _unique(source.stem, ".so")
    r = subprocess.run([gcc(), *flags, "-o", str(out), str(source), "-lm"], capture_output=True, text=True)
    if r.returncode != 0:
        raise EvoError(f"{source} does not compile: {_first_error(r.stderr)}")
    return out


@lru_cache(maxsize=1)
def _mapper() -> ctypes.CDLL:
    with _lock:
        src = _workdir() / "evo_map.c"
        src.write_text(_MAP_C)
        so = compile_shared(src, ("-O2", "-std=c99", "-fPIC", "-shared"))
    lib = ctypes.CDLL(str(so))
    lib.evo_map.restype = None
    lib.evo_map.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    return lib


class NativeFunction:
    """A float32 -> float32 C function, callable on numpy arrays."""

    def __init__(self, lib: ctypes.CDLL, symbol: str, where: str) -> None:
        try:
            fptr = getattr(lib, symbol)
        except AttributeError:
            raise EvoError(f"symbol {symbol!r} not found in {where}") from None
        self.lib, self.symbol, self.where = lib, symbol, where
        self.address = ctypes.cast(fptr, ctypes.c_void_p).value
        self._map = _mapper().evo_map

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        y = np.empty_like(x)
        self._map(self.address, x.ctypes.data, y.ctypes.data, x.size)
        return y


_INLINE_MAP = """\
#include "{path}"
void evo_map_inline(const float *x, float *y, size_t n) {{
    size_t i;
    for (i = 0; i < n; i++) y[i] = {symbol}(x[i]);
}}
"""


class InlinedFunction(NativeFunction):
    """`symbol` of a C file, called from a loop compiled into the same unit (inlined and
    vectorised like the user's own loops would be, and no call per element)."""

    def __init__(self, lib: ctypes.CDLL, symbol: str, where: str) -> None:
        super().__init__(lib, symbol, where)
        self._inline = lib.evo_map_inline
        self._inline.restype = None
        self._inline.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        y = np.empty_like(x)
        self._inline(x.ctypes.data, y.ctypes.data, x.size)
        return y


def load_c(path: str | Path, symbol: str, flags: tuple[str, ...] = COMPILE_FLAGS) -> NativeFunction:
    """Compile C file `path` (gcc -O3 -march=native -std=c99 by default) and load
    `symbol`, a `float symbol(float)`, with an inlined array loop around it."""
    path = Path(path)
    so = compile_shared(path, flags)
    NativeFunction(ctypes.CDLL(str(so)), symbol, str(path))  # the symbol exists (else one-line error)
    shim = _unique(f"{path.stem}-{symbol}-map", ".c")
    shim.write_text(_INLINE_MAP.format(path=str(path.resolve()).replace("\\", "\\\\"), symbol=symbol))
    try:
        so2 = compile_shared(shim, flags)
    except EvoError:  # e.g. `symbol` is not `float(float)`: call it through its address instead
        return NativeFunction(ctypes.CDLL(str(so)), symbol, str(path))
    return InlinedFunction(ctypes.CDLL(str(so2)), symbol, str(path))


def load_library(library: str, symbol: str) -> NativeFunction:
    """`symbol` of a shared library given by name (libm.so.6) or path."""
    try:
        lib = ctypes.CDLL(library)
    except OSError as e:
        raise EvoError(f"cannot load library {library!r}: {str(e).splitlines()[0]}") from None
    return NativeFunction(lib, symbol, library)
