#!/usr/bin/env python3
"""Optional GPU check of an exported JAX kernel (needs only jax and numpy on the GPU machine).

    python bench/gpu_xla.py KERNEL.py FN X.npy EXPECTED.npy [N [REF]]

KERNEL.py comes from `evo export ... --lang jax` (bench/gpu_prepare.py writes a set); X.npy / EXPECTED.npy are inputs and
the interpreter's float32 outputs, computed on the CPU machine. Prints one JSON object:
bit-exact mismatches on the device, and ms per call (median of 20) of the kernel and
of jnp.REF (default exp2) on N float32 points in [0, 1] (default 2^24), side by side.
"""
from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np


def timed(f, x, repeats: int = 20) -> float:
    f(x).block_until_ready()  # compile + warm up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(x).block_until_ready()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main(path: str, name: str, x_path: str, want_path: str, n: int = 1 << 24, ref: str = "exp2") -> None:
    spec = importlib.util.spec_from_file_location("kernel", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    f = jax.jit(getattr(mod, name))
    x, want = np.load(x_path), np.load(want_path)
    got = np.asarray(f(jnp.asarray(x)))
    same = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))
    big = jnp.asarray(np.random.default_rng(0).uniform(0, 1, n).astype(np.float32))
    ms_kernel, ms_ref = timed(f, big), timed(jax.jit(getattr(jnp, ref)), big)
    bad = np.flatnonzero(~same)[:3]
    print(json.dumps({"module": path, "device": str(jax.devices()[0]), "jax": jax.__version__,
                      "checked": int(x.size), "mismatches": int((~same).sum()),
                      "first": [[float(x[i]), float(got[i]), float(want[i])] for i in bad],
                      "n": n, "kernel_ms": ms_kernel, f"jnp_{ref}_ms": ms_ref, f"speedup_vs_jnp_{ref}": ms_ref / ms_kernel}))


if __name__ == "__main__":
    main(*sys.argv[1:5], *(int(a) for a in sys.argv[5:6]), *sys.argv[6:7])
