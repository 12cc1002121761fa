"""The one gcc driver (C source -> shared object -> ctypes), and the gcc backend on it.

Every C build of evo goes through `build_so` / `run_gcc`: the gcc backend's kernels and
the C library baselines (evo.backends.timing), C files checked by `evo verify --c`
(evo.verification.native), the tests and bench/bench_export.py. One policy for all:
- the compiler is gcc from PATH; a missing gcc or a rejected source is a GccError
  (an EvoError: one line, gcc's first error; all of gcc's output in .stderr);
- builds go to one work directory per process, removed at exit, each under a fresh
  file name (dlopen hands back the library it already loaded for a path it has seen);
- compile and link are two steps, and the link gets none of the compile flags: gcc
  links crtfastmath.o into anything linked with -ffast-math, whose constructor sets
  FTZ/DAZ for the whole process (numpy included). `load` checks that nothing did.

The gcc backend, a yardstick: a program as a C99 loop over the C lowering
(evo.backends.c), compiled with gcc -O3 -march=native. -ffp-contract=off keeps gcc
from fusing a separate * and + (GNU C's default is "fast"), so the object computes
exactly the program; -fno-math-errno only lets sqrtf vectorise (errno is not part of
a result). The same file holds `bench(x, y, n, reps)` calling the non-inlined kernel
reps times, as the LLVM module does, so both are timed the same way.
"""
from __future__ import annotations

import atexit
import ctypes
import itertools
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..core.ir import Program
from ..errors import EvoError
from .c import c_function
from .common import CompileError, check_lowerable

KERNEL_FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno")
_lock = threading.Lock()
_count = itertools.count()
_VOID_P, _I64 = ctypes.c_void_p, ctypes.c_int64


# -- the driver ------------------------------------------------------------------

class GccError(EvoError):
    """gcc is missing or rejected a source: one line (gcc's first error); .stderr has all of it."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


def gcc_path() -> str | None:
    return shutil.which("gcc")


def _first_error(stderr: str) -> str:
    """The compiler's first error line, on one line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    pick = next((ln for ln in lines if re.search(r"\berror\b", ln)), lines[0] if lines else "unknown error")
    return re.sub(r"\s+", " ", pick)


def run_gcc(args: Sequence[str], what: str = "C source", cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `gcc ARGS`; GccError "WHAT does not compile: <first error>" unless it succeeds."""
    path = gcc_path()
    if path is None:
        raise GccError("gcc not found on PATH (needed to compile C)")
    r = subprocess.run([path, *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise GccError(f"{what} does not compile: {_first_error(r.stderr)}", r.stderr)
    return r


@lru_cache(maxsize=1)
def workdir() -> Path:
    """This process's build directory (removed at exit)."""
    d = Path(tempfile.mkdtemp(prefix="evo-gcc-"))
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


def build_so(source: str | Path, name: str, flags: Sequence[str], libs: Sequence[str] = ("-lm",),
             directory: Path | None = None) -> Path:
    """Compile C `source` (text, or a file compiled where it is) with -std=c99 (unless
    `flags` say otherwise) and FLAGS into a fresh shared object NAME-K.so."""
    d = directory or workdir()
    stem = f"{name}-{next(_count)}"
    if isinstance(source, Path):
        if not source.is_file():
            raise GccError(f"{source}: no such file")
        src, what = source, str(source)
    else:
        src = d / f"{stem}.c"
        src.write_text(source)
        what = str(src)
    obj, so = d / f"{stem}.o", d / f"{stem}.so"
    run_gcc(["-std=c99", *flags, "-fPIC", "-c", "-o", str(obj), str(src)], what)
    run_gcc(["-shared", "-o", str(so), str(obj), *libs], what)
    return so


def load(so: Path, **signatures: Sequence[Any]) -> ctypes.CDLL:
    """The shared object through ctypes; each `name=argtypes` becomes a void function."""
    lib = ctypes.CDLL(str(so))
    if np.float32(2.0 ** -126) * np.float32(0.5) == 0:  # loading it must not switch on FTZ for us all
        raise EvoError(f"loading {so} switched the process to flush subnormals (FTZ)")
    for fname, argtypes in signatures.items():
        fn = getattr(lib, fname)
        fn.restype, fn.argtypes = None, list(argtypes)
    return lib


# -- the gcc backend -------------------------------------------------------------

_LOOP_C = """
__attribute__((noinline))
void kernel(const float *restrict x, float *restrict y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kernel_f(x[i]);
}

void bench(const float *restrict x, float *restrict y, int64_t n, int64_t reps) {
    for (int64_t r = 0; r < reps; r++) kernel(x, y, n);
}
"""


def kernel_source(p: Program) -> str:
    """C99 source of `kernel(const float *x, float *y, int64_t n)` and its `bench` driver."""
    return "#include <math.h>\n#include <stdint.h>\n\n" + c_function(p, "kernel_f", static=True) + _LOOP_C


@dataclass
class GccKernel:
    program: Program
    flags: tuple[str, ...]
    _lib: Any

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        out = np.empty_like(x)
        self._lib.kernel(x.ctypes.data, out.ctypes.data, x.size)
        return out

    def repeat(self, x: np.ndarray, out: np.ndarray, reps: int) -> None:
        assert x.dtype == out.dtype == np.float32 and x.size == out.size
        self._lib.bench(x.ctypes.data, out.ctypes.data, x.size, reps)


def compile_gcc(p: Program, flags: tuple[str, ...] = KERNEL_FLAGS) -> GccKernel:
    """`p` compiled by gcc (cached by program hash and flags)."""
    check_lowerable(p, "gcc", "c")
    return _compile_cached(p.hash(), tuple(flags), p)


def _build(p: Program, name: str, flags: tuple[str, ...]) -> Path:
    try:
        return build_so(kernel_source(p), name, flags)
    except GccError as e:
        raise CompileError("gcc", p, e) from e


@lru_cache(maxsize=64)
def _compile_cached(h: str, flags: tuple[str, ...], p: Program) -> GccKernel:
    with _lock:
        so = _build(p, f"k_{h}", flags)
    return GccKernel(p, flags, load(so, kernel=[_VOID_P, _VOID_P, _I64], bench=[_VOID_P, _VOID_P, _I64, _I64]))


def compile_seconds(p: Program, flags: tuple[str, ...] = KERNEL_FLAGS) -> float:
    """Wall time of one gcc build of `p` (uncached)."""
    t0 = time.perf_counter()
    _build(p, f"t_{p.hash()}", flags)
    return time.perf_counter() - t0
