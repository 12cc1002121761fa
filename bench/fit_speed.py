"""The fitter's speed and quality, the numpy path (FitConfig(native=False)) against the
compiled one (evo.fit.native), side by side in one process.

    python bench/fit_speed.py                 # fit ms/child and quality on the saved children
    python bench/fit_speed.py --search 3000   # plus evaluations/s of an in-process exp2 search
    python bench/fit_speed.py --noise-floor   # plus the numpy path against itself, sums reordered
    python bench/fit_speed.py --save bench/fit_children.json   # re-record the children

The children (bench/fit_children.json) are real ones: every 40th child of
`evo search exp2 --evals 6000 --workers 0 --deterministic --verify-below 0` (numpy fitter) as it was sent
to be fitted (its inherited constants), with the training set it was fitted on. Quality:
each child's fitted max error (ULP, training set) by both paths; the compiled one must
agree within 0.01 ULP at the median and never be worse by more than 0.05 ULP (tests/test_fit.py
checks a subset).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evo.core.ir import Program, from_dict  # noqa: E402
from evo.core.scoring import PointSet, Scorer  # noqa: E402
from evo.fit.config import FitConfig  # noqa: E402
from evo.fit.float32 import fit_float32  # noqa: E402
from evo.fit.native import native  # noqa: E402
from evo.platforms import FLOAT32  # noqa: E402
from targets import get_target  # noqa: E402

CHILDREN = ROOT / "bench" / "fit_children.json"
NUMPY, COMPILED = FitConfig(native=False), FitConfig()


def _columns(pts: PointSet) -> dict:
    return {"x": pts.x.view(np.uint32).tolist(), "hi": pts.hi.tolist(), "lo": pts.lo.tolist()}


def _points(c: dict, before: PointSet | None = None) -> PointSet:
    """A saved point set (after `before`'s points: a training set's grown points follow its fixed ones)."""
    x, hi, lo = np.array(c["x"], np.uint32).view(np.float32), np.array(c["hi"]), np.array(c["lo"])
    if before is not None:
        x, hi, lo = np.r_[before.x, x], np.r_[before.hi, hi], np.r_[before.lo, lo]
    return PointSet(x, hi, lo)


def save(path: Path, evals: int = 6000, every: int = 40) -> None:
    """Run the exp2 search in-process (on the numpy fitter: the code before the compiled one)
    and keep every `every`-th child with its training set."""
    from evo.api import make_evaluator
    from evo.evolution.config import SearchConfig
    from evo.evolution.evaluators import LocalEvaluator
    from evo.evolution.loop import Search
    from evo.runs.store import RunStore

    config = SearchConfig(target="exp2", max_evals=evals, workers=0, deterministic=True, verify_below=0.0, fit=NUMPY)
    target = get_target("exp2")
    kept: list[dict] = []
    grown: dict[int, dict] = {}

    class Recording(LocalEvaluator):
        def submit(self, tasks):  # type: ignore[no-untyped-def]
            for t in tasks:
                if t.id % every == 0 and from_dict(t.program).const_slots:
                    version, pts, _ = self.worker.training(t.training)
                    fixed = self.worker.scorer.train.x.size  # the grown points follow the fixed ones
                    grown.setdefault(version, _columns(pts.subset(np.arange(fixed, pts.x.size))))
                    kept.append({"id": t.id, "program": t.program, "training": version})
            super().submit(tasks)

    base = make_evaluator(config, target)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore.create(Path(tmp) / "run", config)
        Search(config, target, Recording(base.spec, config.batch_size), store).run(lambda _: False)
        store.close()
    path.write_text(json.dumps({"target": "exp2", "source": f"exp2 --evals {evals} --deterministic, every "
                                f"{every}th child, numpy fitter", "fixed": _columns(Scorer(target, FLOAT32).train),
                                "grown": {str(k): v for k, v in grown.items()}, "children": kept}))
    print(f"saved {len(kept)} children to {path}")


def load(path: Path = CHILDREN) -> tuple[Scorer, list[tuple[Program, PointSet, np.ndarray]]]:
    """The scorer and the children: (program, training set, its weights), as a worker holds them."""
    d = json.loads(path.read_text())
    scorer = Scorer(get_target(d["target"]), FLOAT32)
    fixed = _points(d["fixed"])
    sets = {k: _points(v, fixed) for k, v in d["grown"].items()}
    weights = {k: scorer.weights(pts) for k, pts in sets.items()}
    return scorer, [(from_dict(c["program"]), sets[str(c["training"])], weights[str(c["training"])])
                    for c in d["children"]]


def fit_all(scorer: Scorer, children: list[tuple[Program, PointSet, np.ndarray]],
            cfg: FitConfig) -> tuple[float, np.ndarray]:
    """(seconds, max error per child) of fitting every child."""
    errs = []
    t0 = time.perf_counter()
    for p, pts, w in children:
        _, err = fit_float32(p, pts, w, lambda y, i, pts=pts: scorer.errors(y, pts.subset(i)), cfg)
        errs.append(err.max())
    return time.perf_counter() - t0, np.array(errs)


def quality(before: np.ndarray, after: np.ndarray) -> dict:
    """How the compiled fit's max errors compare with the numpy path's (ULP; + = worse)."""
    fin = np.isfinite(before) & np.isfinite(after)
    diff = after[fin] - before[fin]
    return {"children": int(before.size), "both_finite": int(fin.sum()),
            "finite_mismatch": int((np.isfinite(before) != np.isfinite(after)).sum()),
            "median_diff": float(np.median(diff)), "median_abs_diff": float(np.median(np.abs(diff))),
            "worst_diff": float(diff.max()), "best_diff": float(diff.min()),
            "worse_by_over_0.05": int((diff > 0.05).sum()),
            # the children that matter to a front: within the polish's reach
            "below_64ulp": int((before[fin] < 64).sum()),
            "worst_diff_below_64ulp": float(diff[before[fin] < 64].max(initial=0.0)),
            "mean_diff_below_64ulp": float(diff[before[fin] < 64].mean()) if (before[fin] < 64).any() else 0.0}


def reordered_numpy(scorer: Scorer, children: list) -> np.ndarray:
    """Max error per child by the numpy path with the float64 stages' points in reverse order:
    only its sums' rounding changes (the numpy path's own noise floor, for the quality figures)."""
    import evo.fit.float32 as f32
    from evo.fit import lm

    def reversed_points(p, x, v, w, cfg, free=None, native_tape=None):  # type: ignore[no-untyped-def]
        return lm.fit_float64(p, x[::-1].copy(), v[::-1].copy(), w[::-1].copy(), cfg, free, native_tape)

    f32.fit_float64 = reversed_points
    try:
        return fit_all(scorer, children, NUMPY)[1]
    finally:
        f32.fit_float64 = lm.fit_float64


def search_rate(evals: int, cfg: FitConfig) -> dict:
    """Evaluations/s and fit ms/child of the in-process exp2 search (evolution only)."""
    from evo.api import make_evaluator
    from evo.evolution.config import SearchConfig
    from evo.evolution.loop import Search
    from evo.runs.store import RunStore

    config = SearchConfig(target="exp2", max_evals=evals, workers=0, deterministic=True, verify_below=0.0, fit=cfg)
    target = get_target("exp2")
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore.create(Path(tmp) / "run", config)
        s = Search(config, target, make_evaluator(config, target), store)
        t0 = time.perf_counter()
        s.run(lambda _: False)
        wall = time.perf_counter() - t0
        store.close()
    st = s.stats
    return {"evals_per_s": st.evals / wall, "eval_ms_per_child": 1e3 * st.eval_seconds / st.evals,
            "fit_ms_per_child": 1e3 * st.fit_seconds / st.evals, "front": [round(m.error, 4) for m in s.front]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", type=Path, help="record the children to this file and stop")
    ap.add_argument("--repeats", type=int, default=5, help="timing repeats (medians reported)")
    ap.add_argument("--search", type=int, default=0, help="also time an exp2 search of this many evaluations")
    ap.add_argument("--noise-floor", action="store_true",
                    help="also compare the numpy path with itself, its float64 sums in another order")
    a = ap.parse_args()
    if a.save:
        save(a.save)
        return
    if native() is None:
        sys.exit("the compiled fitter failed to build")
    scorer, children = load()
    t_np, t_c = [], []
    for _ in range(a.repeats):  # interleaved, so drift hits both
        s, e_np = fit_all(scorer, children, NUMPY)
        t_np.append(s)
        s, e_c = fit_all(scorer, children, COMPILED)
        t_c.append(s)
    n = len(children)
    ms_np, ms_c = 1e3 * statistics.median(t_np) / n, 1e3 * statistics.median(t_c) / n
    print(f"saved children: {n} ({CHILDREN.name}); medians of {a.repeats} interleaved repeats")
    print(f"fit ms/child  numpy {ms_np:.3f}  compiled {ms_c:.3f}  ratio {ms_np / ms_c:.2f}x")
    print("quality (compiled - numpy, max ULP on the training set):", json.dumps(quality(e_np, e_c)))
    if a.noise_floor:
        print("noise floor (numpy, points reversed - numpy):", json.dumps(quality(e_np, reordered_numpy(scorer, children))))
    if a.search:
        rates = {"numpy": [], "compiled": []}
        for _ in range(max(1, a.repeats // 2)):
            rates["numpy"].append(search_rate(a.search, NUMPY))
            rates["compiled"].append(search_rate(a.search, COMPILED))
        med = {k: {f: statistics.median(r[f] for r in v) for f in ("evals_per_s", "eval_ms_per_child",
                                                                     "fit_ms_per_child")} for k, v in rates.items()}
        print(f"exp2 search, {a.search} evals, in-process, evolution only (medians of {len(rates['numpy'])}):")
        for k, v in med.items():
            print(f"  {k:9s} {v['evals_per_s']:7.1f} evals/s  eval {v['eval_ms_per_child']:.3f} ms/child  "
                  f"fit {v['fit_ms_per_child']:.3f} ms/child")
        print(f"  ratio     evals/s {med['compiled']['evals_per_s'] / med['numpy']['evals_per_s']:.2f}x  "
              f"eval {med['numpy']['eval_ms_per_child'] / med['compiled']['eval_ms_per_child']:.2f}x  "
              f"fit {med['numpy']['fit_ms_per_child'] / med['compiled']['fit_ms_per_child']:.2f}x")


if __name__ == "__main__":
    main()
