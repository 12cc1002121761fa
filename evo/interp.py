"""The numpy interpreter: the living definition of program semantics.

float32: IEEE binary32, round-to-nearest-even after every op, subnormals kept,
fma with a single rounding (primitives.fma32). float64: the "reals" mode.
"""
from __future__ import annotations

import numpy as np

from primitives import OPS

from .ir import CONST, X, Program, live_instrs


def evaluate(p: Program, x: np.ndarray, dtype: type = np.float32,
             constants: np.ndarray | None = None) -> np.ndarray:
    """Run `p` on every element of `x`.

    constants: optional replacement constant values, shape (n_const,) or
    (K, n_const) to evaluate K constant sets at once (result shape (K, len(x))).
    """
    x = np.asarray(x, dtype)
    slots = p.const_slots
    if constants is not None:
        constants = np.asarray(constants, dtype)
        batched = constants.ndim == 2
        cvals = {s: (constants[:, j:j + 1] if batched else constants[j]) for j, s in enumerate(slots)}
        shape = (constants.shape[0], x.size) if batched else x.shape
    else:
        cvals = {s: dtype(p.instrs[s].value) for s in slots}
        shape = x.shape
    vals: list = [None] * len(p.instrs)
    with np.errstate(all="ignore"):
        for i, ins in live_instrs(p):
            if ins.op == X:
                vals[i] = x
            elif ins.op == CONST:
                vals[i] = cvals[i]
            else:
                op = OPS[ins.op]
                fn = op.f32 if dtype == np.float32 else op.f64
                vals[i] = fn(*(vals[a] for a in ins.args))
        out = np.asarray(vals[p.output], dtype)
    return np.broadcast_to(out, shape).copy() if out.shape != shape else out
