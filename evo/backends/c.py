"""The one C lowering: a program as C statements, from the op table's `c` templates.

Both C products use it: the gcc backend's kernel (evo.backends.gcc) and the C export
(evo.codegen.c); the NumPy and JAX exports and the reals export write programs with the same
`statements`, from their own templates (the `c` templates of the infix ops are valid Python). Each op is one statement, so every
operation is rounded to float32 exactly where the interpreter rounds it. Constants are
written as exact float32 hex literals (`f32_hex`, also used by the full-range
wrappers' constants and the Python exports).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from primitives import OPS

from ..core.ir import CONST, Program, X, live_instrs
from ..core.walk import walk
from .common import LoweringError, op_row

ConstFn = Callable[[int, float], str]


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


# Source-text domains of the program walker: each op's template over its operands' names.
C_FLOAT32 = {name: op.c for name, op in OPS.items()}   # the op table's C column (fmaf, sqrtf); Python's infix too
C_FLOAT64 = C_FLOAT32 | {"fma": "fma({0}, {1}, {2})", "sqrt": "sqrt({0})"}
JAX_FLOAT64 = C_FLOAT32 | {"fma": "({0} * {1} + {2})", "sqrt": "jnp.sqrt({0})"}


def _filled(template: str) -> Callable[..., str]:
    return lambda *operands: template.format(*operands)


def statements(p: Program, templates: dict[str, str], arg: str, const: ConstFn,
               temp: Callable[[int, int], str] = lambda slot, n: f"t{slot}") -> tuple[list[tuple[int, str, str]], str]:
    """One statement per live op, (slot, variable, expression), and the output's operand:
    operands are `arg` for x, const(slot, value) for constants and the variables of
    earlier ops, named temp(slot, statement number) (default tK, K the slot)."""
    stmts: list[tuple[int, str, str]] = []

    def name(slot: int, expr: str) -> str:
        var = temp(slot, len(stmts) + 1)
        stmts.append((slot, var, expr))
        return var

    table = {}
    for _, ins in p.live:
        if ins.op not in (X, CONST) and ins.op not in table:
            tmpl = templates.get(ins.op)
            if tmpl is None:
                op_row(ins.op, "C", "c")  # the op table's own message where the op is unknown
                raise LoweringError(f"op {ins.op!r} has no template in this source language")
            table[ins.op] = _filled(tmpl)
    out = walk(p, table, arg, const, name)
    return stmts, out


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
