"""Programs as source text: the program walker's source domains (one template per op,
over its operands' names) and `statements`, which writes one statement per op. The C
lowering (evo.backends.c), the C, NumPy and JAX exports (evo.codegen) and the reals export
write programs with it."""
from __future__ import annotations

from typing import Callable

from primitives import OPS

from ..errors import EvoError
from .ir import CONST, Program, X
from .walk import walk

ConstFn = Callable[[int, float], str]


class SourceError(EvoError):
    """An op a source language has no template for."""


# Source-text domains of the program walker: each op's template over its operands' names.
C_FLOAT32 = {name: op.c for name, op in OPS.items()}   # the op table's C column (fmaf, sqrtf); Python's infix too
C_FLOAT64 = C_FLOAT32 | {"fma": "fma({0}, {1}, {2})", "sqrt": "sqrt({0})"}
JAX_FLOAT64 = C_FLOAT32 | {"fma": "({0} * {1} + {2})", "sqrt": "jnp.sqrt({0})"}
# Native float32 JAX: a*b + c, which XLA contracts into one fused multiply-add on CPU and GPU.
JAX_FLOAT32 = JAX_FLOAT64


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
                raise SourceError(f"op {ins.op!r} has no template in this source language")
            table[ins.op] = _filled(tmpl)
    out = walk(p, table, arg, const, name)
    return stmts, out
