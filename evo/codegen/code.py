"""What every export language shares: provenance header, names, the prepared
(pruned, folded) program, and embedding of op-table implementations into
self-contained Python modules. The walk over a program and the float32 literals are
the C lowering's (evo.backends.c)."""
from __future__ import annotations

import ast
import inspect
import keyword
import re
import types
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from primitives import OPS
from targets import Target

from ..core.ir import Program, fold, prune, render
from ..errors import EvoError

_CALL = re.compile(r"^\s*(\w+)\(")


@dataclass(frozen=True)
class Provenance:
    """Where an exported kernel came from and how accurate it is known to be."""

    source: str                   # "run runs/NAME, member ID" or "program file P"
    max_ulp: float | None = None  # on the kernel's interval
    exhaustive: bool = False      # max_ulp is over every float32 of the interval
    inputs: int | None = None     # how many inputs max_ulp was measured on
    run: str | None = None
    member: str | None = None
    seed: int | None = None
    evo_version: str = ""
    computed_by: str = ""         # where max_ulp is not the interpreter's semantics: what computed it (XLA ...)
    accuracy: str = ""            # said instead of the float32 max error (a small output format's figures)


def with_version(prov: Any) -> Any:
    """A provenance naming the evo version that exports it."""
    from dataclasses import replace

    from ..core.version import __version__

    return prov if prov.evo_version else replace(prov, evo_version=__version__)


def check_name(name: str) -> str:
    """A function name valid in C and Python; one-line EvoError otherwise."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or keyword.iskeyword(name) or len(name) > 60:
        raise EvoError(f"{{--name}} {name!r} is not a valid C / Python function name")
    return name


def default_name(target: Target) -> str:
    base = target.name if re.fullmatch(r"[A-Za-z_]\w*", target.name) else "kernel"
    return f"evo_{base}"


def prepared(p: Program) -> Program:
    """Dead code dropped and constant-only subexpressions folded in float32 (what the
    interpreter computes for them), so exported code has only x-dependent ops."""
    return fold(prune(p), np.float32)


def call_names(p: Program) -> dict[str, str]:
    """{C function name used by an op's `c` template: op name}, e.g. {"fmaf": "fma"}."""
    out: dict[str, str] = {}
    for ins in p.instrs:
        if ins.op in OPS:
            m = _CALL.match(OPS[ins.op].c)
            if m:
                out[m.group(1)] = ins.op
    return out


def header_lines(p: Program, target: Target, prov: Provenance, lang: str, name: str,
                 full_range: str | None, notes: list[str], full_range_check: str = "") -> list[str]:
    """The file's header. full_range_check: how the full-range function's error is known
    (default: how to check it, where the file does not say)."""
    lo, hi = target.interval
    if prov.accuracy:
        acc = prov.accuracy
    elif prov.max_ulp is None:
        acc = "max error on the interval: not measured"
    elif prov.exhaustive:
        n = f" ({prov.inputs:,} inputs)" if prov.inputs else ""
        acc = f"max error on the interval: {prov.max_ulp:.4g} ULP, verified exhaustively on every float32 input{n}"
        if prov.computed_by:
            acc += f", as {prov.computed_by} computes it"
    else:
        n = f" on {prov.inputs:,} sample points" if prov.inputs else " on a sample"
        acc = f"max error on the interval: {prov.max_ulp:.4g} ULP, measured{n} (NOT exhaustive; run `evo verify`)"
    lines = [
        f"{name}: float32 {target.name} ({target.expr}), exported by evo {prov.evo_version} as {lang}.",
        f"Kernel: {render(p)}  [{p.n_ops} ops]",
        f"Kernel interval: [{lo!r}, {hi!r}]; {acc}.",
        f"Produced by: {prov.source}" + (f"; seed {prov.seed}" if prov.seed is not None else "") + ".",
    ]
    if full_range:
        lines.append(f"Full range: every float32 input; {full_range}.")
        lines.append(full_range_check or "The full-range error is not certified by this export: "
                     "`evo verify --c FILE.c --symbol NAME --target T --full-range` checks all 2^32 inputs.")
    return lines + notes


# -- embedding op-table implementations into generated Python ---------------------------

def _lambda_source(fn: types.FunctionType) -> str:
    """Source text of a lambda, found in its module's syntax tree by its code."""
    src = inspect.getsource(inspect.getmodule(fn))
    tree = ast.parse(src)
    code = fn.__code__
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda) and node.lineno <= code.co_firstlineno <= (node.end_lineno or node.lineno):
            text = ast.get_source_segment(src, node) or ""
            c = compile(ast.fix_missing_locations(ast.Expression(node)), "<lambda>", "eval").co_consts
            inner = next((k for k in c if isinstance(k, types.CodeType)), None)
            if inner is not None and inner.co_code == code.co_code and inner.co_names == code.co_names \
                    and inner.co_varnames == code.co_varnames:
                return text
    raise EvoError(f"cannot find the source of {fn!r}")


def embed(fn: Callable[..., Any], alias: str, modules: dict[str, str], done: set[str]) -> str:
    """Python source defining `alias` as `fn` with every module-level function and
    constant it uses (recursively), skipping names in `done` (updated). modules:
    {global name: module} the generated file imports under that name."""
    out: list[str] = []

    def names_of(code: types.CodeType) -> set[str]:
        found = set(code.co_names)
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                found |= names_of(c)
        return found

    def visit(f: types.FunctionType) -> str:
        if f.__name__ == "<lambda>":
            text = _lambda_source(f)
        else:
            text = inspect.getsource(f)
            done.add(f.__name__)
        g = f.__globals__
        for n in sorted(names_of(f.__code__)):
            if n in done or n not in g:
                continue
            v = g[n]
            if isinstance(v, types.ModuleType):
                if modules.get(n) != v.__name__:
                    raise EvoError(f"cannot export {f.__name__}: it uses module {n!r}")
            elif isinstance(v, types.FunctionType) and v.__module__ == f.__module__:
                out.append(visit(v))
            elif isinstance(v, (int, float, np.generic)) and not isinstance(v, bool):
                r = repr(v)
                if eval(r, {"np": np}) != v:  # noqa: S307 - our own literal, checked
                    raise EvoError(f"cannot export constant {n} = {r}")
                out.append(f"{n} = {r}\n")
                done.add(n)
        return text

    if isinstance(fn, np.ufunc):
        raise EvoError("ufuncs are referenced, not embedded")
    main = visit(fn)  # type: ignore[arg-type]
    if fn.__name__ == "<lambda>":
        main = f"{alias} = {main}\n"
    elif fn.__name__ != alias:
        main = main + f"\n{alias} = {fn.__name__}\n"
    return "\n\n".join(part.strip("\n") + "\n" for part in out + [main])
