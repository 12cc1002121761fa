"""Export a program as C, JAX or NumPy source, optionally inside a full-range wrapper.

    from evo.codegen import export_source, Provenance
    text = export_source(program, get_target("exp2"), "c", full_range=True, name="my_exp2f")

The C file defines `float NAME(float x)` and `void NAME_n(const float *x, float *y,
size_t n)`; the Python modules define `NAME(x)` on arrays. Every file starts with
a header: target, interval, max ULP (and whether exhaustive), where the program
came from, and the evo version. A reals-mode program is written as float64 code by
evo.codegen.reals.
"""
from __future__ import annotations

from typing import Literal

from targets import Target

from ..core.ir import Program
from ..errors import EvoError
from .c import c_source
from .code import Provenance, check_name, default_name, prepared, with_version
from .fullrange import wrapper_for
from .python import python_source

Lang = Literal["c", "jax", "numpy"]
LANGS: tuple[str, ...] = ("c", "jax", "numpy")
SUFFIX = {"c": ".c", "jax": ".py", "numpy": ".py"}


def export_source(p: Program, target: Target, lang: str, full_range: bool = False, name: str | None = None,
                  provenance: Provenance | None = None) -> str:
    """Source text of the float32 program `p` (a kernel for `target` on its interval) in `lang`."""
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
    return python_source(q, target, fn, lang, prov, wrapper)


__all__ = ["export_source", "Provenance", "LANGS", "SUFFIX", "default_name"]
