"""Export a program as C, JAX or NumPy source, optionally inside a full-range wrapper.

    from evo.codegen import export_source, Provenance
    text = export_source(program, get_target("exp2"), "c", full_range=True, name="my_exp2f")

The C file defines `float NAME(float x)` and `void NAME_n(const float *x, float *y,
size_t n)`; the Python modules define `NAME(x)` on arrays (JAX: native float32 code by
default, the float64 emulation with exact=True). Every file starts with
a header: target, interval, max ULP (and whether exhaustive), where the program
came from, and the evo version. A reals-mode program is written as float64 code by
evo.codegen.reals.
"""
from __future__ import annotations

from typing import Literal

from targets import Target

from ..core.ir import Program
from ..core.progress import ProgressFn
from ..errors import EvoError
from .c import c_source
from .code import Provenance, check_name, default_name, prepared, with_version
from .fullrange import wrapper_for
from .jax_native import native_body, native_source, public_function
from .python import python_source
from .xla_check import describe, measure

Lang = Literal["c", "jax", "numpy"]
LANGS: tuple[str, ...] = ("c", "jax", "numpy")
SUFFIX = {"c": ".c", "jax": ".py", "numpy": ".py"}


def export_source(p: Program, target: Target, lang: str, full_range: bool = False, name: str | None = None,
                  provenance: Provenance | None = None, exact: bool = False, xla_check: bool = True,
                  progress: ProgressFn | None = None, xla_result: dict | None = None) -> str:
    """Source text of the float32 program `p` (a kernel for `target` on its interval) in `lang`.
    JAX: native float32 code (evo.codegen.jax_native), its error measured by running XLA over
    every input unless xla_check is False (xla_result: that measurement, already made of this
    very code: native_code_key says which); exact=True: the float64 emulation, bit-exact with
    the interpreter (evo.codegen.python)."""
    if lang not in LANGS:
        raise EvoError(f"unknown language {lang!r} (known: {', '.join(LANGS)})")
    fn = check_name(name or default_name(target))
    wrapper = wrapper_for(target) if full_range else None
    prov = with_version(provenance or Provenance(source="a program given in Python"))
    q = prepared(p)
    if wrapper and not q.x_dependent()[q.output]:
        # the wrappers rely on the kernel to carry NaN through (no select on the fast path)
        raise EvoError("the kernel does not depend on x: nothing to wrap for the full range")
    if lang == "c":
        return c_source(q, target, fn, prov, wrapper)
    if lang == "jax" and not exact:
        body = native_code(q, target, fn, wrapper)
        measured = xla_result or (measure(body, fn, target, wrapper is not None, progress) if xla_check else None)
        lines = describe(measured, wrapper is not None)
        if measured and not wrapper and prov.exhaustive and prov.max_ulp is not None and not prov.computed_by \
                and abs(float(measured["max_ulp"]) - prov.max_ulp) > 1e-9:
            lines.append(f"XLA computes this program differently from the interpreter: {float(measured['max_ulp']):.4g} "
                         f"ULP under XLA against {prov.max_ulp:.4g} verified on the interpreter's semantics; the "
                         "XLA figure is what this code gives.")
        return native_source(q, target, fn, prov, wrapper, lines)
    return python_source(q, target, fn, lang, prov, wrapper)


def native_code(q: Program, target: Target, fn: str, wrapper) -> str:
    """The code of a native JAX export that runs (no header, no docstring figures)."""
    return native_body(q, target, wrapper) + "\n\n" + public_function(fn, target, wrapper is not None, "")


def native_code_key(p: Program, target: Target, full_range: bool, name: str | None = None) -> str:
    """A hash of the code a native JAX export of `p` runs: what an XLA measurement is of."""
    import hashlib

    fn = check_name(name or default_name(target))
    code = native_code(prepared(p), target, fn, wrapper_for(target) if full_range else None)
    return hashlib.sha256(code.encode()).hexdigest()[:16]


__all__ = ["export_source", "Provenance", "LANGS", "SUFFIX", "default_name"]
