"""The library's catalog (evo/lib/kernels.json): one entry per function, with its kernel
and what was measured of it, and the writers of the C and JAX forms from it."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from targets import Target, target_from_dict

from ..codegen import Provenance, export_source
from ..core.ir import Program, from_dict, render
from ..errors import EvoError

CATALOG = Path(__file__).with_name("kernels.json")


@dataclass(frozen=True)
class LibFunction:
    name: str                 # exp2, exp, log2, log
    target: Target            # the kernel's target and interval
    program: Program          # the kernel
    kernel: str               # where it is kept (bench/kernels/NAME, member ID)
    found_by: str             # the search command that found it
    kernel_max_ulp: float     # over every float32 of the kernel's interval (interpreter semantics)
    c: dict = field(default_factory=dict)     # the full-range C function over all 2^32 inputs (VerifyResult)
    xla: dict = field(default_factory=dict)   # the native JAX function under XLA over all 2^32 inputs
    xla_code: str = ""        # evo.codegen.native_code_key of the code `xla` is of

    @property
    def c_name(self) -> str:
        return f"evo_{self.name}f"

    def provenance(self) -> Provenance:
        return Provenance(source=f"{self.kernel}, found by `{self.found_by}`", max_ulp=self.kernel_max_ulp,
                          exhaustive=True)

    def to_dict(self) -> dict:
        from ..core.ir import to_dict

        return {"name": self.name, "target": self.target.to_dict(), "program": to_dict(self.program),
                "expression": render(self.program), "kernel": self.kernel, "found_by": self.found_by,
                "kernel_max_ulp": self.kernel_max_ulp, "c": self.c, "xla": self.xla, "xla_code": self.xla_code}

    @staticmethod
    def from_dict(d: dict) -> "LibFunction":
        return LibFunction(d["name"], target_from_dict(d["target"]), from_dict(d["program"]), d["kernel"],
                           d["found_by"], float(d["kernel_max_ulp"]), d.get("c") or {}, d.get("xla") or {},
                           d.get("xla_code", ""))


def catalog(path: Path = CATALOG) -> list[LibFunction]:
    try:
        return [LibFunction.from_dict(d) for d in json.loads(path.read_text())["functions"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EvoError(f"{path}: not a library catalog ({type(e).__name__})") from None


def pick(functions: list[LibFunction], names: str | None) -> list[LibFunction]:
    """The catalog's functions named in a comma list (all for None); one-line error otherwise."""
    if not names:
        return functions
    known = {f.name: f for f in functions}
    out = []
    for n in (s.strip() for s in names.split(",") if s.strip()):
        if n not in known:
            raise EvoError(f"the library has no {n!r} (it has {', '.join(known)})")
        out.append(known[n])
    return out


def _c_figure(f: LibFunction) -> str:
    c = f.c
    if not c:
        return "full-range error: not measured"
    return (f"max error {float(c['max_ulp']):.4g} ULP over all {c['inputs']:,} float32 inputs "
            f"(exhaustive, evo verify --c ... --full-range)")


def c_library(functions: list[LibFunction], stem: str = "evo_math") -> dict[str, str]:
    """{file name: text}: STEM.h (the prototypes, each with its figure; C and C++) and STEM.c."""
    from ..core.version import __version__

    guard = stem.upper().replace("-", "_") + "_H"
    head = [f"/* {stem}.h: float32 functions built from kernels discovered by evo {__version__}.",
            " * Each is verified on every float32 input (all 2^32, NaNs, infinities and -0 included).",
            " * FN(x): one value; FN_n(x, y, n): y[i] = FN(x[i]), vectorised (gcc -O3 -march=native).", " */",
            f"#ifndef {guard}", f"#define {guard}", "", "#include <stddef.h>", "",
            "#ifdef __cplusplus", 'extern "C" {', "#endif", ""]
    for f in functions:
        head += [f"/* {f.c_name}: {f.target.expr.replace('(x)', '')}(x) on every float32 input; {_c_figure(f)}.",
                 f"   Kernel ({f.program.n_ops} ops, {f.kernel}): {render(f.program)} */",
                 f"float {f.c_name}(float x);", f"void {f.c_name}_n(const float *x, float *y, size_t n);", ""]
    head += ["#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {guard} */", ""]
    body = [f"/* {stem}.c: see {stem}.h. Compile without -ffast-math; link with -lm. */",
            f'#include "{stem}.h"', ""]
    for f in functions:
        body.append(export_source(f.program, f.target, "c", full_range=True, name=f.c_name,
                                  provenance=f.provenance()))
    return {f"{stem}.h": "\n".join(head), f"{stem}.c": "\n".join(body)}


def jax_module(f: LibFunction) -> str:
    """The native JAX module of one function, its figure under XLA in its header (the catalog's
    measurement, when it is of this very code; else not measured)."""
    from ..codegen import native_code_key

    measured = f.xla if f.xla and f.xla_code == native_code_key(f.program, f.target, True, f.name) else None
    return export_source(f.program, f.target, "jax", full_range=True, name=f.name, provenance=f.provenance(),
                         xla_check=False, xla_result=measured)


def jax_package(functions: list[LibFunction]) -> dict[str, str]:
    """{file name: text}: one native module per function and an __init__ naming them."""
    files = {f"_{f.name}.py": jax_module(f) for f in functions}
    lines = ['"""Native JAX functions built from kernels evo discovered (generated by bench/build_lib.py:',
             "do not edit). Each is float32 code for any JAX backend, differentiable (jax.custom_jvp), with",
             "its error over all 2^32 float32 inputs as XLA computes it in its docstring.", "", "    import evo.lib.jax as ej",
             "    y = ej.exp(x)        # like jnp.exp, under jax.jit, vmap and grad", '"""']
    lines += [f"from ._{f.name} import {f.name}" for f in functions]
    lines += ["", f"__all__ = {[f.name for f in functions]!r}", ""]
    files["__init__.py"] = "\n".join(lines)
    return files
