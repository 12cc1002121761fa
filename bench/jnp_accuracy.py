#!/usr/bin/env python3
"""Max error of jnp's built-ins and of evo.lib.jax under jax.jit, on random float32 bit
patterns (SAMPLED, not exhaustive), counting only results that are normal (XLA on CPU
flushes subnormals), against float64 numpy.

Usage: python bench/jnp_accuracy.py [--n 20000000] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # evo, from a checkout

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import evo.lib.jax as ej  # noqa: E402
from evo.core.numbers import ulp32  # noqa: E402

FUNCS = {"exp2": (jnp.exp2, np.exp2), "exp": (jnp.exp, np.exp), "log2": (jnp.log2, np.log2), "log": (jnp.log, np.log)}


def max_ulp(fn, ref, x: np.ndarray, normal_inputs: bool = False) -> tuple[float, float]:
    y = np.asarray(jax.jit(fn)(x), np.float64)
    with np.errstate(all="ignore"):
        v = ref(x.astype(np.float64))
        r = v.astype(np.float32)
        ok = np.isfinite(r) & (np.abs(r) >= 2.0 ** -126)
        if normal_inputs:  # XLA reads a subnormal input as 0 (jnp.log gives -inf there)
            ok &= (np.abs(x) >= 2.0 ** -126) | (x == 0)
        err = np.abs(y[ok] - v[ok]) / ulp32(v[ok])
    i = int(np.argmax(err))
    return float(err[i]), float(x[ok][i])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    x = np.random.default_rng(a.seed).integers(0, 2 ** 32, a.n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    print(f"{a.n:,} random float32 bit patterns (SAMPLED), normal results only, jax {jax.__version__} "
          f"on {jax.default_backend()}")
    for name, (theirs, ref) in FUNCS.items():
        e1, x1 = max_ulp(theirs, ref, x)
        e0, _ = max_ulp(theirs, ref, x, normal_inputs=True)
        e2, x2 = max_ulp(getattr(ej, name), ref, x)
        print(f"{name:<5} jnp {e1:9.4g} ULP (x = {x1!r:<22}; {e0:.4g} on normal inputs)  "
              f"evo.lib.jax {e2:7.4g} ULP (x = {x2!r})")


if __name__ == "__main__":
    main()
