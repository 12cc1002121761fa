#!/usr/bin/env python3
"""Build evo's ready library (evo/lib/kernels.json and the evo.lib.jax package) from the
discovered kernels kept in bench/kernels/, measuring each full-range function on all 2^32
float32 inputs twice: its C export (gcc, the interpreter's semantics) and its native JAX
export as XLA computes it (jax.jit on this machine's device). Takes some minutes.

Usage: python bench/build_lib.py [--funcs exp2,exp]   (from a checkout)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # evo, from a checkout

from evo import api  # noqa: E402
from evo.codegen import native_code, native_code_key  # noqa: E402
from evo.codegen.code import prepared  # noqa: E402
from evo.codegen.fullrange import wrapper_for  # noqa: E402
from evo.codegen.xla_check import measure  # noqa: E402
from evo.core.progress import progress_bar  # noqa: E402
from evo.lib.catalog import CATALOG, LibFunction, jax_package  # noqa: E402
from evo.runs.front import load_front  # noqa: E402

# The kernels behind each function (bench/kernels/README.md says who found them).
SOURCES = {"exp2": ("exp2-sym-6ops", 714), "exp": ("exp-7ops", 2158),
           "log2": ("log2-sqrt2-11ops-fma", 4200), "log": ("log-sqrt2-12ops-fma", 5948)}


def found_by(name: str) -> str:
    """The command in bench/kernels/README.md's row for kernel `name`."""
    for line in (ROOT / "bench/kernels/README.md").read_text().splitlines():
        if line.startswith(f"| `{name}` |"):
            return line.split("|")[2].strip().strip("`").split("`")[0]
    return "(see bench/kernels/README.md)"


def build(name: str, kernel: str, member: int) -> LibFunction:
    front = load_front(ROOT / "bench/kernels" / kernel)
    m = front.member(member)
    t = front.target
    t0 = time.time()
    with progress_bar(f"{name}: the C export on all 2^32 inputs", 2 ** 32) as update:
        c = api.verify(m.program, t, full_range=True, progress=update).to_dict()
    code = native_code(prepared(m.program), t, name, wrapper_for(t))
    with progress_bar(f"{name}: the native JAX export under XLA on all 2^32 inputs", 2 ** 32) as update:
        xla = measure(code, name, t, True, update)
    print(f"{name}: C {float(c['max_ulp']):.4f} ULP, XLA {float(xla['max_ulp']):.4f} ULP "
          f"({float(xla.get('max_ulp_normal', xla['max_ulp'])):.4f} on normal results), {time.time() - t0:.0f} s",
          flush=True)
    return LibFunction(name, t, m.program, f"bench/kernels/{kernel}, member {member}", found_by(kernel),
                       float(m.exhaustive_max), c, xla, native_code_key(m.program, t, True, name))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--funcs", default=",".join(SOURCES))
    args = ap.parse_args()
    old = {d["name"]: d for d in json.loads(CATALOG.read_text())["functions"]} if CATALOG.exists() else {}
    for name in args.funcs.split(","):
        old[name] = build(name, *SOURCES[name]).to_dict()
    functions = [LibFunction.from_dict(old[n]) for n in SOURCES if n in old]
    CATALOG.write_text(json.dumps({"format": "evo-lib/1", "built_by": "python bench/build_lib.py",
                                   "functions": [f.to_dict() for f in functions]}, indent=1) + "\n")
    pkg = ROOT / "evo/lib/jax"
    pkg.mkdir(exist_ok=True)
    for fname, text in jax_package(functions).items():
        (pkg / fname).write_text(text)
    print(f"wrote {CATALOG.relative_to(ROOT)} and {pkg.relative_to(ROOT)}/ ({', '.join(f.name for f in functions)})")


if __name__ == "__main__":
    main()
