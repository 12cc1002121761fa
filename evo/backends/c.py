"""The one C lowering: a program as C statements, from the op table's `c` templates.

Both C products use it: the gcc backend's kernel (evo.backends.gcc) and the C export
(evo.codegen.c), through evo.core.source's `statements` (which the NumPy, JAX and reals
exports share, with their own templates). Each op is one statement, so every operation is
rounded to float32 exactly where the interpreter rounds it. Constants are
written as exact float32 hex literals (`f32_hex`, also used by the full-range
wrappers' constants and the Python exports).
"""
from __future__ import annotations

import numpy as np

from ..core.ir import CONST, Program, live_instrs
from ..core.source import C_FLOAT32, statements


def f32_hex(v: float) -> str:
    """The float32 value of v as a short, exact hex literal (no suffix): 0x1.62e43p-1."""
    mant, _, exp = float(np.float32(v)).hex().partition("p")
    return f"{mant.rstrip('0').rstrip('.')}p{exp}"


def c_float(v: float) -> str:
    """An exact C float literal for the float32 value of v, safe as an operand: 0x1p-1f, (-0x1p-1f)."""
    h = f32_hex(v) + "f"
    return f"({h})" if h.startswith("-") else h


def decimal(v: float) -> str:
    """The shortest decimal that reads back as the float32 value of v (for comments)."""
    return np.format_float_positional(np.float32(v), unique=True, trim="-") if 1e-4 <= abs(v) < 1e7 or v == 0 \
        else np.format_float_scientific(np.float32(v), unique=True, trim="-")


def c_function(p: Program, fn: str, static: bool = False) -> str:
    """`float fn(float x)` computing p, one `const float tK = ...;` statement per op,
    each constant's decimal value in a comment ("static inline" if static)."""
    stmts, out = statements(p, C_FLOAT32, "x", lambda k, v: c_float(v))
    lines = []
    for k, var, expr in stmts:
        consts = [decimal(p.instrs[a].value) for a in p.instrs[k].args if p.instrs[a].op == CONST]
        note = f"  /* {', '.join(consts)} */" if consts else ""
        lines.append(f"    const float {var} = {expr};{note}")
    uses_x = p.output == 0 or any(a == 0 for _, ins in live_instrs(p) for a in ins.args)
    head = f"{'static inline ' if static else ''}float {fn}(float x)"
    body = ([] if uses_x else ["    (void)x;"]) + lines + [f"    return {out};"]
    return head + " {\n" + "\n".join(body) + "\n}\n"
