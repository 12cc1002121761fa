"""Compiled backends (XLA through jax.jit, LLVM through llvmlite, gcc as a
yardstick), lowered from the op table.

run_backend(p, x, backend) evaluates a program under a backend's actual
semantics, so a search can score what a compiled kernel really computes:

  interp      the numpy interpreter (the definition)
  llvm        the LLVM kernel (bit-exact with interp)
  xla         XLA native mode: what jax.jit computes (fma contraction, FTZ/DAZ,
              x/c -> x*(1/c), x+0 -> x); see evo.backends.findings
  xla-exact   XLA exact mode: bit-exact with interp, slower
  gcc         gcc -O3 -march=native -ffp-contract=off (bit-exact with interp)

Backends load lazily (jax only when an XLA backend is used).
"""
from __future__ import annotations

import numpy as np

from ..errors import EvoError
from ..ir import Program
from .common import CompileError, Finding, LoweringError, structure_key

BACKENDS = ("interp", "llvm", "xla", "xla-exact", "gcc")

__all__ = ["BACKENDS", "run_backend", "probe", "CompileError", "LoweringError", "Finding", "structure_key"]


def run_backend(p: Program, x: np.ndarray, backend: str = "interp") -> np.ndarray:
    """y = p(x) in float32 as `backend` computes it (compiled once, cached by program hash)."""
    x = np.ascontiguousarray(x, np.float32)
    if backend == "interp":
        from ..interp import evaluate

        return evaluate(p, x, np.float32)
    if backend == "llvm":
        from .llvm import compile_kernel

        return compile_kernel(p, np.float32)(x)
    if backend in ("xla", "xla-exact"):
        from .xla import compile_xla

        return compile_xla(p, "native" if backend == "xla" else "exact")(x)
    if backend == "gcc":
        from .gcc import compile_gcc

        return compile_gcc(p)(x)
    raise EvoError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")


def probe(backend: str) -> list[Finding]:
    """What `backend` computes differently from the interpreter on this machine."""
    from .findings import probe_backend

    return probe_backend(backend)
