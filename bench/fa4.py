"""FlashAttention-4's case: exp2 of a float32 in [0, 1), the result stored in bfloat16.

Every one of the 1,065,353,215 float32 inputs of [0, 1) is run (evo's verifier, the
float32-bfloat16 platform: a float64 reference, so a result within ~1e-16 of a bfloat16
midpoint could be misjudged); figures: the max error of the bfloat16 result in bfloat16
ulps (faithful: < 1) and the count of results that are not the correctly rounded value.

Rows: FA4's published polynomial (1, 0.695146, 0.227564, 0.077119; Sollya fpminimax), the
members of the kept front of `evo search exp2 --interval 0,0.99999994 --format
float32-bfloat16` (bench/kernels/exp2-f32-bf16-front), and, at 3 ops, the search's Horner
structure with its constants fitted by evo for the fewest misrounded results (an L1 fit
of the distance in bfloat16 ulps on a sample spread as float32 inputs are: the count of
misrounded results grows with the mean distance over the inputs, not the max). With --full-range, FA4's polynomial with its integer
exponent step (2^x = 2^floor(x) * P(x - floor(x))) on every float32 x in [-126, 0] as well.

    python bench/fa4.py [--full-range]      # ~2 minutes a row on 2 cores
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evo.core.formats import FORMATS  # noqa: E402
from evo.core.interp import evaluate  # noqa: E402
from evo.core.ir import Builder, Program  # noqa: E402
from evo.platforms import get_platform  # noqa: E402
from evo.runs.front import load_front  # noqa: E402
from primitives.float32 import f32_range, from_ordinal  # noqa: E402
from targets import get_target  # noqa: E402

FA4 = (1.0, 0.695146, 0.227564, 0.077119)     # lowest first
FRONT = ROOT / "bench" / "kernels" / "exp2-f32-bf16-front"
INTERVAL = (0.0, 0.99999994)


def horner(coeffs) -> Program:
    b = Builder()
    return b.program(b.horner([float(np.float32(c)) for c in coeffs], 0))


def fewest_misrounded_cubic(n: int = 20000, seed: int = 0) -> Program:
    """A cubic whose constants minimise the mean distance of its result from the exact 2^x
    in bfloat16 ulps (L1, by LP) on n random float32 of [2^-12, 1), drawn as float32 are
    spread (log-uniformly: every binade holds as many; below 2^-12 every result rounds to 1)."""
    from scipy import sparse
    from scipy.optimize import linprog

    x = np.sort(np.exp2(np.random.default_rng(seed).uniform(-12, 0, n))).astype(np.float32).astype(np.float64)
    v = np.exp2(x)
    w = 1.0 / FORMATS["bfloat16"].spacing(v)
    a = np.vander(x, 4, increasing=True) * w[:, None]
    # min sum s_i  with  -s <= a c - v w <= s
    k = a.shape[1]
    res = linprog(np.r_[np.zeros(k), np.ones(n)],
                  A_ub=sparse.bmat([[sparse.csr_matrix(a), -sparse.eye(n)], [sparse.csr_matrix(-a), -sparse.eye(n)]],
                                   format="csr"), b_ub=np.r_[v * w, -v * w],
                  bounds=[(None, None)] * k + [(0, None)] * n, method="highs")
    return horner(res.x[:k])


def row(name: str, p: Program) -> dict:
    t0 = time.perf_counter()
    r = get_platform("float32-bfloat16").verify(p, get_target("exp2", INTERVAL))
    return {"name": name, "ops": p.n_ops, "rounded_max_ulp": r.rounded_max_ulp, "misrounded": r.not_correctly_rounded,
            "inputs": r.inputs, "seconds": time.perf_counter() - t0}


def fa4_full_range(chunk: int = 1 << 16) -> dict:
    """FA4's polynomial with its exponent step on every float32 of [-126, 0]."""
    from evo.verification.formats import _measure_chunk

    f, p = FORMATS["bfloat16"], horner(FA4)
    a, b = f32_range(-126.0, 0.0)
    worst, wrong, n, t0 = 0.0, 0, 0, time.perf_counter()
    for s in range(a, b + 1, chunk):
        x = from_ordinal(np.arange(s, min(s + chunk, b + 1), dtype=np.int64))
        k = np.floor(x)
        y = (evaluate(p, (x - k).astype(np.float32), np.float32) * np.exp2(k)).astype(np.float32)
        _, _, _, w, e = _measure_chunk(f, y, np.exp2(x.astype(np.float64)))
        worst, wrong, n = max(worst, e), wrong + w, n + x.size
    return {"name": "FA4 polynomial, full range [-126, 0] (2^floor(x) * P(x - floor(x)))", "ops": 3,
            "rounded_max_ulp": worst, "misrounded": wrong, "inputs": n, "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full-range", action="store_true")
    args = ap.parse_args()
    rows = [row("FA4 polynomial (Sollya fpminimax)", horner(FA4))]
    if (FRONT / "front.json").exists():
        for m in sorted(load_front(FRONT), key=lambda m: m.cost):
            if 2 <= m.ops <= 4:
                rows.append(row(f"evo search, member {m.id}", m.program))
    rows.append(row("3-op Horner, constants by evo for the fewest misrounded (L1)", fewest_misrounded_cubic()))
    if args.full_range:
        rows.append(fa4_full_range())
    print("| kernel | ops | max error (bf16 ULP) | misrounded | inputs | s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['ops']} | {r['rounded_max_ulp']:.4f} | {r['misrounded']:,} | {r['inputs']:,} | "
              f"{r['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
