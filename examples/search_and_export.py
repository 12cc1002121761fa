"""evo from Python: search, read the front, verify a member, export it as C.

    python examples/search_and_export.py                 # 2 minutes, all cores
    python examples/search_and_export.py --budget 20s --workers 0 --out /tmp/runs

The same steps work in a notebook cell by cell; `run.front.plot()` returns a
matplotlib Figure, which a notebook shows.
"""
from __future__ import annotations

import argparse

import evo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="2m", help="wall-clock budget, e.g. 90s, 2m")
    ap.add_argument("--workers", type=int, default=None, help="Ray workers (default: all cores; 0: this process)")
    ap.add_argument("--out", default="runs", help="parent folder of the run")
    args = ap.parse_args()

    # 1. Search 2^x on [0, 1] from f(x) = x. The run lands in OUT/example-exp2/ (its name).
    run = evo.search("exp2", budget=args.budget, seed=1, workers=args.workers, out=args.out, name="example-exp2",
                     progress=False)
    print(run)

    # 2. The front: each member's error is labelled by where it was measured
    #    (exhaustive = every float32 of [0, 1]; validation / train = samples).
    print(run.front.table())

    # 3. The cheapest member verified under 1 ULP, else the most accurate one there is.
    best = run.front.best(max_ulp=1.0) or min(run.front, key=lambda m: m.error)
    print(f"chosen: #{best.id}, {best.ops} ops, max error {best.error:.4g} ULP ({best.error_on})")

    # 4. Check it on every float32 of the interval (about 2 s on 2 cores), unless done.
    if best.exhaustive is None:
        v = evo.verify(best)
        print(f"verified: max {v.max_ulp:.4g} ULP at x = {v.argmax!r} over {v.inputs:,} inputs")

    # 5. C source with a header stating its accuracy; also lang="jax" or "numpy".
    print(evo.export(best, lang="c", name="my_exp2f"))

    # 6. The plot of the front against the classical baselines.
    run.front.plot().savefig(f"{run.path}/front-example.png", dpi=100)


if __name__ == "__main__":
    main()
