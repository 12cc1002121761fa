"""gcc as a yardstick: a program as a C99 loop (from the op table's C templates),
compiled with gcc -O3 -march=native into a shared object and called through ctypes.

-ffp-contract=off keeps gcc from fusing a separate * and + (GNU C's default is
"fast"), so the object computes exactly the program; -fno-math-errno only lets
sqrtf vectorise (errno is not part of a result). The same file holds
`bench(x, y, n, reps)` calling the non-inlined kernel reps times, as the LLVM
module does, so both are timed the same way. Also used for the C library
baselines (evo.backends.timing).
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EvoError
from ..ir import CONST, X, Program, live_instrs
from .common import CompileError, check_lowerable, op_row

KERNEL_FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno")
_lock = threading.Lock()
_VOID_P, _I64 = ctypes.c_void_p, ctypes.c_int64

_BENCH_C = """
void bench(const float *restrict x, float *restrict y, int64_t n, int64_t reps) {
    for (int64_t r = 0; r < reps; r++) kernel(x, y, n);
}
"""


def gcc_path() -> str | None:
    return shutil.which("gcc")


def c_literal(v: float) -> str:
    """An exact C float literal for the float32 value of v (hex float)."""
    h = float(np.float32(v)).hex()
    return f"({h}f)" if h.startswith("-") else f"{h}f"


def c_source(p: Program) -> str:
    """C99 source of `kernel(const float *x, float *y, int64_t n)` and its `bench` driver."""
    lines = []
    for k, ins in live_instrs(p):
        if ins.op == X:
            expr = "x[i]"
        elif ins.op == CONST:
            expr = c_literal(ins.value)
        else:
            expr = op_row(ins.op, "gcc", "c").format(*(f"v{a}" for a in ins.args))
        lines.append(f"        const float v{k} = {expr};")
    body = "\n".join(lines)
    return (f"#include <math.h>\n#include <stdint.h>\n\n"
            f"__attribute__((noinline))\n"
            f"void kernel(const float *restrict x, float *restrict y, int64_t n) {{\n"
            f"    for (int64_t i = 0; i < n; i++) {{\n{body}\n        y[i] = v{p.output};\n    }}\n}}\n"
            + _BENCH_C)


@lru_cache(maxsize=1)
def _workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="evo-gcc-"))


def build_so(source: str, name: str, flags: tuple[str, ...], libs: tuple[str, ...] = ("-lm",)) -> Path:
    """Compile C `source` into a shared object; CalledProcessError carries gcc's message."""
    gcc = gcc_path()
    if gcc is None:
        raise EvoError("gcc not found on PATH (needed for the gcc comparison and C library baselines)")
    d = _workdir()
    src, obj, so = d / f"{name}.c", d / f"{name}.o", d / f"{name}.so"
    src.write_text(source)
    subprocess.run([gcc, "-std=c99", *flags, "-fPIC", "-c", "-o", str(obj), str(src)],
                   check=True, capture_output=True, text=True)
    # Link without the compile flags: gcc links crtfastmath.o into anything linked with
    # -ffast-math, whose constructor sets FTZ/DAZ for the whole process (numpy included).
    subprocess.run([gcc, "-shared", "-o", str(so), str(obj), *libs], check=True, capture_output=True, text=True)
    return so


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


@lru_cache(maxsize=64)
def _compile_cached(h: str, flags: tuple[str, ...], p: Program) -> GccKernel:
    source = c_source(p)
    with _lock:
        try:
            so = build_so(source, f"k_{h}_{abs(hash(flags)) % 10**8}", flags)
        except subprocess.CalledProcessError as e:
            raise CompileError("gcc", p, RuntimeError(e.stderr or str(e))) from e
    lib = ctypes.CDLL(str(so))
    lib.kernel.restype = lib.bench.restype = None
    lib.kernel.argtypes = [_VOID_P, _VOID_P, _I64]
    lib.bench.argtypes = [_VOID_P, _VOID_P, _I64, _I64]
    return GccKernel(p, flags, lib)


def compile_seconds(p: Program, flags: tuple[str, ...] = KERNEL_FLAGS) -> float:
    """Wall time of one gcc build of `p` (uncached)."""
    t0 = time.perf_counter()
    try:
        build_so(c_source(p), f"t_{p.hash()}", flags)
    except subprocess.CalledProcessError as e:
        raise CompileError("gcc", p, RuntimeError(e.stderr or str(e))) from e
    return time.perf_counter() - t0
