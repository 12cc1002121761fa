"""The one program walker. A program runs in a number domain by looking each op up in
that domain's table, keyed by the op table's names (as tinygrad lowers one graph through
per-backend tables): float32 and float64 numpy (evo.core.interp), dual numbers for
fitting's Jacobian (evo.fit.lm), double-double (evo.core.doubledouble), Taylor series,
intervals and mpmath for certification (evo.reals.certify), C and JAX source text
(evo.backends.c, evo.codegen). A domain that lacks a row for an op cannot run programs
holding it; tests check that every domain's table covers its platform's ops.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from .ir import CONST, Program, X

Table = Mapping[str, Callable[..., Any]]


def walk(p: Program, table: Table, x: Any, const: Callable[[int, float], Any],
         name: Callable[[int, Any], Any] | None = None) -> Any:
    """The output of `p` run in a domain: `x` is the input's value, const(slot, value) a
    constant's, table[op](*argument values) an op's. name(slot, value), if given, is what
    later ops see of an op's result (code generators bind each op to a variable there).
    An exception from a table entry carries the slot it was raised at (`walk_slot`)."""
    vals: list[Any] = [None] * len(p.instrs)
    for i, ins in p.live:
        op = ins.op
        if op == X:
            vals[i] = x
        elif op == CONST:
            vals[i] = const(i, ins.value)
        else:
            try:
                v = table[op](*[vals[a] for a in ins.args])
            except Exception as e:
                e.walk_slot = i  # where it failed, for messages ("div at slot 7")
                raise
            vals[i] = v if name is None else name(i, v)
    return vals[p.output]


def missing(table: Table, ops: tuple[str, ...] | list[str]) -> list[str]:
    """The ops of `ops` a domain's table has no row for."""
    return [o for o in ops if o not in table]
