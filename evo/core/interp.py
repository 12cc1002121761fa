"""The numpy interpreter: the living definition of program semantics.

float32: IEEE binary32, round-to-nearest-even after every op, subnormals kept,
fma with a single rounding (primitives.fma32). float64: what a float64 program
computes (reals mode's float64 code; its real-number function is evo.core.doubledouble's).
"""
from __future__ import annotations

import numpy as np

from primitives import OPS

from .ir import Program
from .walk import walk

# The numpy domains: the op table's float32 and float64 columns, keyed by result dtype.
FLOAT32 = {name: op.f32 for name, op in OPS.items()}
FLOAT64 = {name: op.f64 for name, op in OPS.items()}
TABLES = {np.dtype(np.float32): FLOAT32, np.dtype(np.float64): FLOAT64}


def evaluate(p: Program, x: np.ndarray, dtype: type = np.float32,
             constants: np.ndarray | None = None) -> np.ndarray:
    """Run `p` on every element of `x`.

    constants: optional replacement constant values, shape (n_const,) or
    (K, n_const) to evaluate K constant sets at once (result shape (K, len(x))).
    """
    x = np.asarray(x, dtype)
    if constants is not None:
        constants = np.asarray(constants, dtype)
        batched = constants.ndim == 2
        index = p.const_index
        const = (lambda i, v: constants[:, index[i]:index[i] + 1]) if batched else (lambda i, v: constants[index[i]])
        shape = (constants.shape[0], x.size) if batched else x.shape
    else:
        const = lambda i, v: dtype(v)  # noqa: E731
        shape = x.shape
    with np.errstate(all="ignore"):
        out = np.asarray(walk(p, TABLES[np.dtype(dtype)], x, const), dtype)
    return np.broadcast_to(out, shape).copy() if out.shape != shape else out
