"""The float32-xla platform (`--semantics xla`): float32 programs as XLA compiles them
under jax.jit (a*b + c contracted into an fma, x / c rewritten, subnormals flushed on CPU),
scored, checked and exported as XLA computes them: a kernel found under XLA's arithmetic
is verified by running XLA over every input, and its native JAX export states that figure."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..backends import run_backend
from ..core.ir import Program
from ..verification.xla import verify_xla_program
from .float32 import FLOAT32


def _evaluate(p: Program, x: np.ndarray, constants: np.ndarray | None = None) -> np.ndarray:
    q = p if constants is None else p.with_constants(np.asarray(constants, np.float64))
    return run_backend(q, x, "xla")


FLOAT32_XLA = replace(
    FLOAT32,
    name="float32-xla",
    summary="float32 programs as XLA compiles them (fma contraction, flushed subnormals), judged in ULPs",
    semantics=("xla",),
    evaluate=_evaluate,
    verify=verify_xla_program,
)
