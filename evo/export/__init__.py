"""Export a program as C, JAX or NumPy source, optionally inside a full-range wrapper.

    from evo.export import export_source, Provenance
    text = export_source(program, get_target("exp2"), "c", full_range=True, name="my_exp2f")

The C file defines `float NAME(float x)` and `void NAME_n(const float *x, float *y,
size_t n)`; the Python modules define `NAME(x)` on arrays. Every file starts with
a header: target, interval, max ULP (and whether exhaustive), where the program
came from, and the evo version. evo.export.native compiles and loads C for
`evo verify --c/--lib`.
"""
from __future__ import annotations

from typing import Literal

from targets import Target

from ..errors import EvoError
from ..fullrange import wrapper_for
from ..ir import Program
from .c import c_source
from .code import Provenance, check_name, default_name, prepared
from .python import python_source
from .reals import RealsProvenance, reals_source

Lang = Literal["c", "jax", "numpy"]
LANGS: tuple[str, ...] = ("c", "jax", "numpy")
SUFFIX = {"c": ".c", "jax": ".py", "numpy": ".py"}


def export_source(p: Program, target: Target, lang: str, full_range: bool = False, name: str | None = None,
                  provenance: Provenance | RealsProvenance | None = None) -> str:
    """Source text of `p` (a kernel for `target` on its interval) in `lang`; with a
    RealsProvenance, a reals-mode program as float64 C or JAX (evo.export.reals)."""
    if isinstance(provenance, RealsProvenance):  # a reals-mode program: float64 code (evo.export.reals)
        if full_range:
            raise EvoError("a reals-mode program has no full-range wrapper")
        if not provenance.evo_version:
            from dataclasses import replace

            from .. import __version__

            provenance = replace(provenance, evo_version=__version__)
        return reals_source(p, target, lang, check_name(name or default_name(target)), provenance)
    if lang not in LANGS:
        raise EvoError(f"unknown language {lang!r} (known: {', '.join(LANGS)})")
    fn = check_name(name or default_name(target))
    wrapper = wrapper_for(target) if full_range else None
    prov = provenance or Provenance(source="a program given in Python")
    if not prov.evo_version:
        from .. import __version__
        from dataclasses import replace

        prov = replace(prov, evo_version=__version__)
    q = prepared(p)
    if wrapper and not q.x_dependent()[q.output]:
        # the wrappers rely on the kernel to carry NaN through (no select on the fast path)
        raise EvoError("the kernel does not depend on x: nothing to wrap for the full range")
    if lang == "c":
        return c_source(q, target, fn, prov, wrapper)
    return python_source(q, target, fn, lang, prov, wrapper)


__all__ = ["export_source", "Provenance", "RealsProvenance", "LANGS", "SUFFIX", "default_name"]
