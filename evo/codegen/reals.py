"""Export of a reals-mode program: C (`double FN(double x)`) and JAX (float64).

A reals program is a real-number function with float64 constants (evo.platforms.reals); its
certified figure is a bound on the max relative error of that real function
(evo.reals.certify). The exported code computes it in float64, which adds its own rounding
(~1e-16 relative per op, amplified by squarings): the header states the certified
bound, the float64 code's measured error, and what each means. Constants are written
exactly (C99 hex floats; Python float.fromhex).
"""
from __future__ import annotations

from dataclasses import dataclass

from primitives import OPS
from targets import Target

from ..core.ir import Program, prune, render
from ..core.numbers import digits
from ..core.source import C_FLOAT64, JAX_FLOAT64, SourceError, statements
from ..errors import EvoError
from .c import CXX_CLOSE, CXX_OPEN
from .code import check_name, default_name, with_version

LANGS = ("c", "jax")


@dataclass(frozen=True)
class RealsProvenance:
    """What the header says: where the program came from, its certified bound (or why not)."""

    source: str
    certified_max_rel: float | None = None   # proven bound, real-number function
    sampled_max_rel: float | None = None     # max on a dense sample (real-number function)
    float64_max_rel: float | None = None     # the float64 evaluation's max on that sample
    not_certified: str = ""                   # why there is no bound, if there is none
    evo_version: str = ""


def _header(p: Program, target: Target, prov: RealsProvenance, name: str, lang: str) -> list[str]:
    lo, hi = target.interval
    if prov.certified_max_rel is not None:
        acc = (f"max relative error <= {prov.certified_max_rel:.6g} ({digits(prov.certified_max_rel):.2f} "
               "significant digits), CERTIFIED for the real-number function of this program (its float64 "
               "constants, exact arithmetic) on every real x of the interval (evo verify --reals: "
               "interval arithmetic)")
    else:
        acc = "max relative error: NOT certified" + (f" ({prov.not_certified})" if prov.not_certified else "")
    lines = [
        f"{name}: {target.name} ({target.expr}) on [{lo!r}, {hi!r}], reals mode, exported by evo "
        f"{prov.evo_version} as {lang} (float64).",
        f"Program: {render(p)}  [{p.n_ops} ops]",
        f"Accuracy: {acc}.",
    ]
    if prov.sampled_max_rel is not None:
        lines.append(f"Sampled: max relative error {prov.sampled_max_rel:.6g} (real-number function, dense sample).")
    if prov.float64_max_rel is not None:
        lines.append(f"This float64 code adds its rounding: measured max relative error {prov.float64_max_rel:.6g} "
                     "on the same sample (not certified).")
    lines.append(f"Produced by: {prov.source}.")
    return lines


def _statements(p: Program, templates: dict[str, str], const) -> tuple[list[tuple[str, str]], str]:
    """(variable, expression) per live op (t1, t2, ...), and the output's operand."""
    try:
        stmts, out = statements(p, templates, "x", lambda k, v: const(v), temp=lambda slot, n: f"t{n}")
    except SourceError:
        bad = next(ins.op for _, ins in p.live if ins.op in OPS and ins.op not in templates)
        raise EvoError(f"cannot export op {bad!r} in reals mode") from None
    return [(var, expr) for _, var, expr in stmts], out


def _c_const(v: float) -> str:
    return f"{float(v).hex()} /* {float(v)!r} */"


def c_source(p: Program, target: Target, name: str, prov: RealsProvenance) -> str:
    stmts, out = _statements(p, C_FLOAT64, _c_const)
    head = _header(p, target, prov, name, "C99") + [
        "Compile without -ffast-math; a separate * and + must stay apart (no fma contraction):",
        "the pragmas below see to that for gcc and clang. Link with -lm if fma or sqrt appear.",
    ]
    body = "\n".join(f"    const double {n} = {e};" for n, e in stmts)
    return (
        "/*\n" + "\n".join(f" * {ln}" for ln in head) + "\n */\n"
        "#include <math.h>\n#include <stddef.h>\n\n" + CXX_OPEN + "\n"
        "#if defined(__clang__)\n#pragma STDC FP_CONTRACT OFF\n#elif defined(__GNUC__)\n"
        "#pragma GCC push_options\n#pragma GCC optimize(\"fp-contract=off\")\n#endif\n\n"
        f"double {name}(double x)\n{{\n{body}\n    return {out};\n}}\n\n"
        f"void {name}_n(const double *x, double *y, size_t n)\n{{\n"
        f"    for (size_t i = 0; i < n; i++)\n        y[i] = {name}(x[i]);\n}}\n\n"
        "#if defined(__GNUC__) && !defined(__clang__)\n#pragma GCC pop_options\n#endif\n\n" + CXX_CLOSE
    )


def jax_source(p: Program, target: Target, name: str, prov: RealsProvenance) -> str:
    stmts, out = _statements(p, JAX_FLOAT64, lambda v: f"float.fromhex({float(v).hex()!r})")
    head = _header(p, target, prov, name, "JAX") + [
        "float64 needs jax's x64 mode: the function turns it on while it traces.",
        "XLA may fuse a*b + c into an fma and rewrite x / c as x * (1 / c): the float64 result may",
        "differ from the C export's by rounding (~1e-16 relative); the certified bound is unchanged.",
    ]
    body = "\n".join(f"        {n} = {e}" for n, e in stmts)
    return (
        '"""\n' + "\n".join(head) + '\n"""\n'
        "import jax\nimport jax.numpy as jnp\n\n\n"
        f"def {name}(x):\n"
        f"    with jax.enable_x64(True):\n"
        f"        x = jnp.asarray(x, jnp.float64)\n{body}\n"
        f"        return jnp.asarray({out}, jnp.float64)\n"
    )


def measured_provenance(p: Program, target: Target, source: str,
                        certified_max_rel: float | None = None) -> RealsProvenance:
    """The header's figures: the given certified bound (a front member's), else a fresh
    certificate (evo.reals.certify); sampled and float64 maxima from the dense sample."""
    from ..reals.certify import certify, sampled_max

    why = ""
    if certified_max_rel is None:
        c = certify(p, target)
        certified_max_rel, why = (c.bound, "") if c.ok else (None, c.reason)
        smax, f64 = c.sampled_max, c.float64_sampled_max
    else:
        smax, _, f64, _ = sampled_max(p, target)
    return RealsProvenance(source, certified_max_rel, smax, f64, why)


def export_reals(p: Program, target: Target, lang: str, full_range: bool = False, name: str | None = None,
                 provenance: RealsProvenance | None = None, exact: bool = False, xla_check: bool = True,
                 progress=None) -> str:
    """C or JAX source of the reals-mode program `p` (pruned), with its accuracy header
    (the reals platform's export; no full-range wrapper: the program is a real function).
    exact, xla_check, progress: the float32 export's JAX options, which float64 code has no use for."""
    if full_range:
        raise EvoError("a reals-mode program has no full-range wrapper")
    prov = with_version(provenance or measured_provenance(p, target, "a program given in Python"))
    return reals_source(p, target, lang, check_name(name or default_name(target)), prov)


def reals_source(p: Program, target: Target, lang: str, name: str, prov: RealsProvenance) -> str:
    """C or JAX source of the reals-mode program `p` (pruned), with its accuracy header."""
    if lang not in LANGS:
        raise EvoError(f"reals mode exports {', '.join(LANGS)}, not {lang!r}")
    q = prune(p)
    if not q.x_dependent()[q.output]:
        raise EvoError("the program does not depend on x")
    return (c_source if lang == "c" else jax_source)(q, target, name, prov)


__all__ = ["RealsProvenance", "export_reals", "measured_provenance", "reals_source", "LANGS"]
