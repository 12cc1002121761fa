#!/usr/bin/env python3
"""Exhaustive verification, old against new, side by side: the numpy path (evo.verification.yardstick.exhaustive
on the program's LLVM kernel, float64 numpy reference, numpy error passes, interpreter
cross-check: what verify_program did before the switch) and evo.verification.fused.fast_verify
(one fused LLVM loop, piecewise-polynomial reference), on every float32 of an interval.

    .venv/bin/python bench/bench_verify.py                  # the four cases below, 3 repeats
    .venv/bin/python bench/bench_verify.py --repeats 1 --cases exp2-01,log2
    .venv/bin/python bench/bench_verify.py --threads 1      # both on one core

Cases (one program each):
  exp2-01    exp2 on [0, 1]        evo.classical.baselines minimax degree 6, fma Horner
  exp2-sym   exp2 on [-0.5, 0.5]   the discovered 6-op kernel, bench/kernels/exp2-sym-6ops
  log2       log2 on [0.75, 1.5]   evo.classical.baselines minimax degree 9 in x - 1 (log2(1) = 0 kept), fma
  erf        erf on [0, 1]         evo.classical.baselines minimax degree 8, fma
Figures: median wall seconds and median process CPU seconds (all threads) over repeats
for each; "new cold" is the first call of the process (driver compile, reference table
from the disk cache or built) and is not in the medians. Both share the machine with
whatever else runs: the load average is printed before and after. The results of the
two are printed side by side (max ULP, argmax, mean, count; the new count is exact where
a float64 reference cannot tell the rounding, so it may differ by those few inputs).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # evo, from a checkout

from evo.backends.llvm import compile_kernel  # noqa: E402
from evo.classical.baselines import approximation, build_program  # noqa: E402
from evo.core.interp import evaluate  # noqa: E402
from evo.core.ir import Program, from_dict  # noqa: E402
from evo.verification.fused import fast_verify  # noqa: E402
from evo.verification.yardstick import VerifyResult, exhaustive  # noqa: E402
from targets import TARGETS, Target  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def kernel(name: str, member: int | None = None) -> Program:
    front = json.loads((ROOT / "bench" / "kernels" / name / "front.json").read_text())
    m = front["members"][0] if member is None else next(x for x in front["members"] if x["id"] == member)
    return from_dict(m["program"])


def minimax(target: Target, degree: int) -> Program:
    return build_program(approximation(target, "minimax", degree), "fma")


def numpy_path(p: Program, target: Target, threads: int | None) -> VerifyResult:
    """The numpy verifier, as verify_program ran it before it switched to fast_verify."""
    return exhaustive(compile_kernel(p), target, check=lambda x: evaluate(p, x), threads=threads)


def cases() -> dict[str, tuple[Target, Program]]:
    exp2_01 = TARGETS["exp2"]
    exp2_sym = TARGETS["exp2"].with_interval(-0.5, 0.5)
    log2 = TARGETS["log2"].with_interval(0.75, 1.5)
    erf = TARGETS["erf"]
    return {"exp2-01": (exp2_01, lambda: minimax(exp2_01, 6)),
            "exp2-sym": (exp2_sym, lambda: kernel("exp2-sym-6ops")),
            "log2": (log2, lambda: minimax(log2, 9)),
            "erf": (erf, lambda: minimax(erf, 8))}


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", default=",".join(cases()))
    ap.add_argument("--threads", type=int, default=None, help="threads for both (default: all cores)")
    args = ap.parse_args()
    table = cases()
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    for n in names:
        if n not in table:
            sys.exit(f"unknown case {n!r} (known: {', '.join(table)})")
    print(f"cores {os.cpu_count()}, threads {args.threads or os.cpu_count()}, repeats {args.repeats}; "
          f"load average (1/5/15 min) before: {load()}", flush=True)
    rows = []
    for name in names:
        target, make = table[name]
        p = make()
        t0 = time.perf_counter()
        new = fast_verify(p, target, threads=args.threads)
        cold = time.perf_counter() - t0
        t_new, t_old, c_new, c_old = [], [], [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            old = numpy_path(p, target, args.threads)
            t_old.append(time.perf_counter() - t0)
            c_old.append(time.process_time() - c0)
            t0, c0 = time.perf_counter(), time.process_time()
            new = fast_verify(p, target, threads=args.threads)
            t_new.append(time.perf_counter() - t0)
            c_new.append(time.process_time() - c0)
        mo, mn = statistics.median(t_old), statistics.median(t_new)
        co, cn = statistics.median(c_old), statistics.median(c_new)
        rows.append((name, target.interval, new.inputs, mo, mn, co, cn))
        print(f"{name:9s} {str(target.interval):12s} {new.inputs:>13,d} inputs   old {mo:7.2f} s   "
              f"new {mn:6.3f} s (cold {cold:.2f} s)   x{mo / mn:5.1f}   CPU s old {co:.2f} new {cn:.3f} "
              f"x{co / cn:5.1f}   load {load()}", flush=True)
        print(f"          max ULP {old.max_ulp:.9f} / {new.max_ulp:.9f} (diff {abs(old.max_ulp - new.max_ulp):.1e}), "
              f"argmax {old.argmax!r} / {new.argmax!r}, mean {old.mean_ulp:.9f} / {new.mean_ulp:.9f}, "
              f"not correctly rounded {old.not_correctly_rounded} / {new.not_correctly_rounded}", flush=True)
        print(f"          new reference: {new.reference}; sample vs numpy {new.reference_check_ulp:.1e} ULP; "
              f"cross-checked {new.cross_checked}; near-midpoint results decided by mpmath "
              f"{new.mpmath_decided} (undecided {new.undecided})", flush=True)
    print(f"load average after: {load()}")
    print("\n| case | interval | inputs | old s | new s | speed-up | old CPU s | new CPU s | CPU ratio |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for name, iv, n, mo, mn, co, cn in rows:
        print(f"| {name} | [{iv[0]:g}, {iv[1]:g}] | {n:,d} | {mo:.2f} | {mn:.3f} | {mo / mn:.1f}x "
              f"| {co:.2f} | {cn:.3f} | {co / cn:.1f}x |")


if __name__ == "__main__":
    main()
