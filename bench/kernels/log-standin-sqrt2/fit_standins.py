#!/usr/bin/env python3
"""Fit the STAND-IN log2 and log kernels on [sqrt(1/2), sqrt 2] (not discovered by the search).

    .venv/bin/python bench/kernels/log-standin-sqrt2/fit_standins.py      # ~5-10 min on 2 cores

The search (evo search log2 --interval 0.7071068,1.4142136) is meant to find these kernels;
until it does, the full-range log2f / logf exports (evo.codegen.fullrange, LOG_BUDGET) are built
on hand-structured polynomials whose constants evo's own fitter chooses:

    t = x - 1                          exact (Sterbenz: x in [1/2, 2])
    log2:  fma(t, c1, t * q(t))        q: degree 9 in t by fma Horner; c1 near 1/ln2, q(0)
                                       near 1/ln2 - c1 (one more constant: c1 is free)
    log:   fma(t, q(t), t)             q: degree 9; t + t*q rounded once

Constants: a weighted least-squares start, then evo.fit.float32.fit_errors (Levenberg-Marquardt,
Lawson minimax, float32 lattice polish) on a dense training set; then rounds of the float32
polish alone, each on the training set grown by the 400 worst inputs of an exhaustive check
(every float32 of the interval, LLVM build); the best exhaustive max is kept. log2 tries a
few values of c1 (rounding at the ends of the interval, not the approximation, decides which
is best: with c1 = 1/ln2 the float64 approximation error is 0.09 ULP of the 0.89). Writes one-member
fronts (front.json + config.json) to bench/kernels/log2-standin-sqrt2 and
bench/kernels/log-standin-sqrt2, marked "stand_in" in front.json.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from evo.backends.llvm import compile_kernel  # noqa: E402
from evo.codegen.fullrange import SQRT2_INTERVAL  # noqa: E402
from evo.core.interp import evaluate  # noqa: E402
from evo.core.ir import Instr, Program, render  # noqa: E402
from evo.core.scoring import Scorer, error_ulp, stats, ulp32  # noqa: E402
from evo.fit.config import FitConfig  # noqa: E402
from evo.fit.float32 import fit_errors, polish_float32  # noqa: E402
from evo.platforms import FLOAT32  # noqa: E402
from evo.runs.front import load_front  # noqa: E402
from evo.runs.member import Member  # noqa: E402
from evo.runs.store import ERRORS_NOTE, FRONT_FORMAT  # noqa: E402
from evo.verification.fused import verify_program  # noqa: E402
from primitives.float32 import f32_range, from_ordinal  # noqa: E402
from targets import get_target  # noqa: E402

DEGREE = 9
C1_TRIED = (1.3, 1.4, 1 / math.log(2))
ROUNDS = 10
FIT = FitConfig(lm_iters=80, minimax_iters=60, float64_stride=1, polish_rounds=60, polish_points=600,
                polish_confirm=6, polish_steps=(1, 2, 4, 16, 64))
STRUCTURE = {
    "log2": f"t = x - 1 (exact); fma(t, c1, t * q(t)), q of degree {DEGREE} by fma Horner",
    "log": f"t = x - 1 (exact); fma(t, q(t), t), q of degree {DEGREE} by fma Horner",
}
NOTE = ("STAND-IN: a hand-structured polynomial ({structure}) whose constants evo's fitter chose "
        "(bench/kernels/log-standin-sqrt2/fit_standins.py); NOT discovered by the search")


def build(name: str, q: list[float], c1: float | None) -> Program:
    """The stand-in structure with q's coefficients (highest degree first)."""
    ins = [Instr("x")]

    def emit(op: str, *args: int, value: float | None = None) -> int:
        ins.append(Instr(op, args, value))
        return len(ins) - 1

    t = emit("sub", 0, emit("const", value=1.0))
    acc = emit("const", value=float(np.float32(q[0])))
    for c in q[1:]:
        acc = emit("fma", acc, t, emit("const", value=float(np.float32(c))))
    if name == "log2":
        out = emit("fma", t, emit("const", value=float(np.float32(c1))), emit("mul", t, acc))
    else:
        out = emit("fma", t, acc, t)
    return Program(tuple(ins), out)


def start(name: str, c1: float | None) -> list[float]:
    """q by least squares, relative to f, at Chebyshev nodes of t (float64)."""
    lo, hi = SQRT2_INTERVAL
    t = (lo - 1) + (hi - lo) * (np.cos(np.pi * (np.arange(4000) + 0.5) / 4000) + 1) / 2
    f = np.log2(1 + t) if name == "log2" else np.log1p(t)
    g = (f - (c1 if name == "log2" else 1.0) * t) / t
    w = np.abs(t / f)
    c, *_ = np.linalg.lstsq(np.vander(t, DEGREE + 1, increasing=True) * w[:, None], g * w, rcond=None)
    return list(c[::-1])


def training_inputs(a: int, b: int) -> np.ndarray:
    """Evenly spaced values and ordinals, both ends, and the neighbourhood of 1 (t tiny)."""
    lo, hi = SQRT2_INTERVAL
    near1 = np.concatenate([1 + np.arange(1, 400) * 2.0 ** -23, 1 - np.arange(1, 400) * 2.0 ** -24])
    x = np.concatenate([np.linspace(lo, hi, 6000), from_ordinal(np.linspace(a, b, 1500).round().astype(np.int64)),
                        from_ordinal(np.r_[a:a + 50, b - 50:b + 1]), near1, [1.0]]).astype(np.float32)
    x = np.unique(x)
    return x[(x >= np.float32(lo)) & (x <= np.float32(hi))]


def fit_one(name: str, c1: float | None) -> tuple[float, Program, np.ndarray, np.ndarray]:
    """(exhaustive max, program, training inputs, their errors) of the best round."""
    t = get_target(name, SQRT2_INTERVAL)
    a, b = f32_range(*t.interval)
    every = from_ordinal(np.arange(a, b + 1))
    ref = (np.log2 if name == "log2" else np.log)(every.astype(np.float64))
    x = training_inputs(a, b)
    p = build(name, start(name, c1), c1)
    best = None
    for r in range(ROUNDS):
        hi, lo = t.exact(x)
        if r == 0:  # float64 fit (LM, Lawson), then the float32 polish
            p, err = fit_errors(p, x, hi, lo, 1 / ulp32(hi, lo), lambda y, pts: error_ulp(y, hi[pts], lo[pts]),
                                cfg=FIT)
        else:  # the polish goes on from where it stopped, on the grown set
            def errors_at(consts: np.ndarray, pts: np.ndarray) -> np.ndarray:
                return error_ulp(evaluate(p, x[pts], np.float32, consts), hi[pts], lo[pts])

            c = p.constants.astype(np.float32)
            c, err = polish_float32(c, errors_at(c[None, :], np.arange(x.size))[0], errors_at, FIT)
            p = p.with_constants(c.astype(np.float64))
        e = np.abs(compile_kernel(p, np.float32)(every).astype(np.float64) - ref) / ulp32(ref)
        print(f"  {name} c1={c1} round {r}: train {err.max():.4f}, exhaustive {e.max():.4f} "
              f"at {float(every[e.argmax()])!r}", flush=True)
        if best is None or e.max() < best[0]:
            best = (float(e.max()), p, x, err)
        x = np.unique(np.concatenate([x, every[np.argsort(e)[-400:]]]))
    return best


def save(name: str, p: Program, x: np.ndarray, err: np.ndarray, extra: dict, seconds: float) -> Path:
    t = get_target(name, SQRT2_INTERVAL)
    v = verify_program(p, t)
    member = Member(id=1, program=p, cost=float(p.n_ops), train=stats(err, x), mutation="stand-in",
                    validation=Scorer(t, FLOAT32).score(p, "validation"), exhaustive=v.to_dict())
    d = ROOT / "bench" / "kernels" / f"{name}-standin-sqrt2"
    d.mkdir(parents=True, exist_ok=True)
    front = {"format": FRONT_FORMAT, "run": d.name, "target": t.to_dict(), "platform": "float32", "dtype": "float32",
             "metric": "ulp",
             "seed": None, "cost": "ops", "errors": ERRORS_NOTE,
             "stand_in": NOTE.format(structure=STRUCTURE[name]), **extra, "members": [member.to_dict(FLOAT32)]}
    (d / "front.json").write_text(json.dumps(front, indent=1) + "\n")
    # the settings a run's config.json holds, as far as they apply (evo.load_run reads it); the
    # budget is this script's time for both kernels (no search ran)
    cfg = {"target": name, "interval": list(SQRT2_INTERVAL), "dtype": "float32", "metric": "ulp", "seed": 0,
           "budget_seconds": round(seconds, 1),
           "fit": {k: list(v) if isinstance(v, tuple) else v for k, v in FIT.__dict__.items()}}
    (d / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    load_front(d)  # reads back like any run
    print(f"{d.relative_to(ROOT)}: {p.n_ops} ops, exhaustive max {v.max_ulp:.4f} ULP on {v.inputs:,} inputs: "
          f"{render(p)}")
    return d


def main() -> None:
    t0 = time.time()
    results = {c1: fit_one("log2", c1) for c1 in C1_TRIED}
    c1 = min(results, key=lambda c: results[c][0])
    m2, p2, x2, err2 = results[c1]
    m, p, x, err = fit_one("log", None)
    seconds = time.time() - t0
    save("log2", p2, x2, err2, {"c1_tried": {f"{c:.9g}": round(results[c][0], 4) for c in C1_TRIED}}, seconds)
    save("log", p, x, err, {}, seconds)
    print(f"{seconds:.0f} s")


if __name__ == "__main__":
    main()
