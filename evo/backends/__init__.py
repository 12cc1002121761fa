"""Compiled backends (XLA through jax.jit, LLVM through llvmlite, gcc as a
yardstick), lowered from the op table.

run_backend(p, x, backend) evaluates a program under a backend's actual
semantics, so a search can score what a compiled kernel really computes. The
backends are the rows of evo.backends.registry (interp, llvm, xla, xla-exact,
gcc): how each compiles, is timed, and whether it is bit-exact with the
interpreter. They load lazily (jax only when an XLA backend is used).
"""
from __future__ import annotations

import numpy as np

from ..core.ir import Program
from .common import CompileError, Finding, LoweringError, structure_key
from .registry import BACKENDS, REGISTRY, Backend, get_backend

__all__ = ["BACKENDS", "REGISTRY", "Backend", "get_backend", "run_backend", "probe", "CompileError",
           "LoweringError", "Finding", "structure_key"]


def run_backend(p: Program, x: np.ndarray, backend: str = "interp") -> np.ndarray:
    """y = p(x) in float32 as `backend` computes it (compiled once, cached by program hash)."""
    return get_backend(backend).compile(p)(np.ascontiguousarray(x, np.float32))


def probe(backend: str) -> list[Finding]:
    """What `backend` computes differently from the interpreter on this machine."""
    from .findings import probe_backend

    return probe_backend(backend)
