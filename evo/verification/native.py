"""Native float32 functions for verification: a C file compiled with gcc (through the
one gcc driver, evo.backends.gcc), or a symbol of a shared library (e.g. the system
libm's expf), called on numpy arrays.

A scalar `float f(float)` is called from a small C loop (compiled once per
process) through its address, so a whole chunk costs one ctypes call and the
GIL is released meanwhile: threads run in parallel.
"""
from __future__ import annotations

import ctypes
import threading
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from ..backends.gcc import build_so, load
from ..errors import EvoError

COMPILE_FLAGS = ("-O3", "-march=native", "-std=c99")

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


@lru_cache(maxsize=1)
def _mapper() -> ctypes.CDLL:
    with _lock:
        so = build_so(_MAP_C, "evo_map", ("-O2",))
    return load(so, evo_map=[ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t])


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

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        y = np.empty_like(x)
        self._inline(x.ctypes.data, y.ctypes.data, x.size)
        return y


def load_c(path: str | Path, symbol: str, flags: tuple[str, ...] = COMPILE_FLAGS) -> NativeFunction:
    """Compile C file `path` (gcc -O3 -march=native -std=c99 by default) and load
    `symbol`, a `float symbol(float)`, with an inlined array loop around it."""
    path = Path(path)
    so = build_so(path, path.stem, flags)
    NativeFunction(load(so), symbol, str(path))  # the symbol exists (else one-line error)
    shim = _INLINE_MAP.format(path=str(path.resolve()).replace("\\", "\\\\"), symbol=symbol)
    try:
        so2 = build_so(shim, f"{path.stem}-{symbol}-map", flags)
    except EvoError:  # e.g. `symbol` is not `float(float)`: call it through its address instead
        return NativeFunction(load(so), symbol, str(path))
    return InlinedFunction(load(so2, evo_map_inline=[ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]),
                           symbol, str(path))


def load_library(library: str, symbol: str) -> NativeFunction:
    """`symbol` of a shared library given by name (libm.so.6) or path."""
    try:
        lib = ctypes.CDLL(library)
    except OSError as e:
        raise EvoError(f"cannot load library {library!r}: {str(e).splitlines()[0]}") from None
    return NativeFunction(lib, symbol, library)
