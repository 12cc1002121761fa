#!/usr/bin/env python3
"""Inputs for bench/gpu_xla.py: exported JAX modules and the CPU's bit-exact answers.

    .venv/bin/python bench/gpu_prepare.py DIR
    # then, on a machine with a GPU and jax (only jax and numpy are needed there):
    python bench/gpu_xla.py DIR/k_exp2.py k DIR/k_x.npy DIR/k_want.npy 16777216 exp2
    python bench/gpu_xla.py DIR/f_exp.py f DIR/f_x.npy DIR/f_want.npy 16777216 exp

k_exp2: the discovered exp2 kernel of bench/kernels (no wrapper) on 1.5M float32 inputs
spread over its interval, against the interpreter. f_exp: the full-range expf built on the
discovered exp kernel, on 2M random bit patterns (every class of input) and 1M values in
[-90, 90], against the NumPy export (bit-exact with the C export, tests/test_export.py).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # evo, from a checkout

from evo.codegen import export_source  # noqa: E402
from evo.core.interp import evaluate  # noqa: E402
from evo.runs.front import load_front  # noqa: E402
from primitives.float32 import f32_range, from_ordinal  # noqa: E402


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    front = load_front(ROOT / "bench" / "kernels" / "exp2-sym-8ops")
    p = front[0].program
    a, b = f32_range(*front.target.interval)
    x = from_ordinal(np.unique(np.linspace(a, b, 1_500_000).round().astype(np.int64)))
    (out / "k_exp2.py").write_text(export_source(p, front.target, "jax", name="k"))
    np.save(out / "k_x.npy", x)
    np.save(out / "k_want.npy", evaluate(p, x))

    front = load_front(ROOT / "bench" / "kernels" / "exp-7ops")
    p = front[0].program
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.integers(0, 2 ** 32, 2_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32),
                        rng.uniform(-90, 90, 1_000_000).astype(np.float32)])
    (out / "f_exp.py").write_text(export_source(p, front.target, "jax", full_range=True, name="f"))
    numpy_src = out / "f_exp_numpy.py"
    numpy_src.write_text(export_source(p, front.target, "numpy", full_range=True, name="f"))
    spec = importlib.util.spec_from_file_location("f_exp_numpy", numpy_src)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    np.save(out / "f_x.npy", x)
    np.save(out / "f_want.npy", mod.f(x))
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.split("\n\n")[1])
    main(Path(sys.argv[1]))
