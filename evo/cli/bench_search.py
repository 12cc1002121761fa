"""evo bench search: how reliably, and how fast, searches from f(x) = x reach a goal.

For each of N seeds, a real search (the same as `evo search`) runs until a front
member is verified on every float32 of the interval with max error under the goal
(and at most --max-ops ops), or until the time limit. Reported per target: the
success rate and the median time to the first such verified member, where a seed
that failed counts as a failure (slower than any success), never dropped. Failed
seeds show the best verified error per op count they reached.
Also --throughput: evaluations/s with and without constant fitting.
"""
from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import click

from ..evolution.config import SearchConfig
from ..evolution.loop import Search
from ..fit.float32 import FitConfig
from ._common import print_json

NO_FIT = FitConfig(lm_iters=0, minimax_iters=0, polish_rounds=0)


def goal_reached(goal: float, max_ops: int | None):
    """until(search): a member verified under `goal` with at most `max_ops` ops."""
    def until(s: Search) -> bool:
        return any(_under(c, goal, max_ops) for c in s.state.checked)
    return until


def _under(c: dict, goal: float, max_ops: int | None) -> bool:
    return float(c["max_ulp"]) < goal and (max_ops is None or c["ops"] <= max_ops)


def best_verified(checked: list[dict]) -> dict[int, float]:
    """The lowest exhaustive max error per op count."""
    best: dict[int, float] = {}
    for c in checked:
        best[c["ops"]] = min(best.get(c["ops"], float("inf")), float(c["max_ulp"]))
    return dict(sorted(best.items()))


def one_seed(target: str, interval: str | None, seed: int, limit: float, goal: float, max_ops: int | None,
             workers: int | None, options: dict, out: Path) -> dict:
    """One search until the goal or the limit; what it reached, and when."""
    from ..api import run_search
    from ..runs.store import RunStore

    config = SearchConfig(target=target, interval=_interval(interval), budget_seconds=limit, seed=seed,
                          workers=workers, verify_below=max(2.0, 2 * goal), **options)
    store = RunStore.create(out / f"seed{seed}", config)
    t0 = time.monotonic()
    run = run_search(store, config, progress=False, until=goal_reached(goal, max_ops), finish=False)
    checked = run.front.meta.get("checked") or []
    hits = [c for c in checked if _under(c, goal, max_ops)]
    first = min(hits, key=lambda c: c["elapsed"]) if hits else None
    return {"seed": seed, "reached": first is not None, "seconds": first["elapsed"] if first else None,
            "evals": first["evals"] if first else run.stats.evals, "member": first,
            "best_verified_per_ops": best_verified(checked), "wall_seconds": time.monotonic() - t0,
            "run": str(run.path)}


def _interval(text: str | None) -> tuple[float, float] | None:
    from targets import parse_interval

    return parse_interval(text) if text else None


def summary(runs: list[dict]) -> dict:
    """Success rate and median time to the goal; a failed seed is slower than any success."""
    times = [r["seconds"] if r["reached"] else float("inf") for r in runs]
    med = statistics.median(times) if times else float("inf")
    return {"seeds": len(runs), "successes": sum(r["reached"] for r in runs),
            "median_seconds": None if med == float("inf") else med}


def throughput(n_tasks: int, repeats: int) -> dict:
    """Evaluations/s with and without fitting on the children of a short exp2 search."""
    from targets import get_target

    from ..evolution.evaluators import LocalEvaluator
    from ..evolution.worker import EvalSpec, Worker

    cfg = SearchConfig(target="exp2", max_evals=n_tasks, seed=123, islands=1, verify_below=0)
    t = get_target(cfg.target)
    s = Search(cfg, t, LocalEvaluator(EvalSpec.of(cfg, t)))
    tasks: list = []
    original = s.evaluator.submit
    s.evaluator.submit = lambda batch: (tasks.extend(batch), original(batch))[1]  # record what is evaluated
    s.run()
    out = {"workload": f"{len(tasks)} children of a short exp2 search", "repeats": repeats}
    for label, fit in (("with_fitting", cfg.fit), ("without_fitting", NO_FIT)):
        w = Worker(replace(EvalSpec.of(cfg, t), fit=fit))
        rates, shares = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            results = w.evaluate_batch(tasks)
            rates.append(len(tasks) / (time.perf_counter() - t0))
            shares.append(sum(r.fit_seconds for r in results) / max(sum(r.seconds for r in results), 1e-12))
        out[f"evals_per_s_{label}"] = statistics.median(rates)
        if label == "with_fitting":
            out["fitting_share"] = statistics.median(shares)
    return out


def _options(pairs: tuple[str, ...]) -> dict:
    """--set key=value pairs as SearchConfig fields (values parsed as JSON where they parse)."""
    out = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep:
            from ..errors import EvoError

            raise EvoError(f"--set {p!r}: expected KEY=VALUE, e.g. islands=1")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


@click.command()
@click.argument("target", default="exp2")
@click.option("--interval", metavar="A,B", help="Interval (default: the target's own).")
@click.option("--seeds", type=int, default=5, show_default=True, help="Searches, seeds 0..N-1.")
@click.option("--first-seed", type=int, default=0, show_default=True)
@click.option("--limit", type=float, default=600.0, show_default=True, help="Seconds allowed per search.")
@click.option("--goal", type=float, default=1.0, show_default=True, help="Verified max ULP to reach.")
@click.option("--max-ops", type=int, default=None, help="...with at most this many ops.")
@click.option("--workers", type=int, default=None, help="Ray workers per search (default: all cores; 0 in-process).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Search settings, e.g. --set islands=1.")
@click.option("--out", type=click.Path(file_okay=False), help="Keep the runs here (default: a temporary folder).")
@click.option("--throughput", "only_throughput", is_flag=True, help="Only evaluations/s with and without fitting.")
@click.option("--json", "as_json", is_flag=True)
def search(target: str, interval: str | None, seeds: int, first_seed: int, limit: float, goal: float,
           max_ops: int | None, workers: int | None, sets: tuple[str, ...], out: str | None,
           only_throughput: bool, as_json: bool) -> None:
    """Success rate and median time from f(x) = x to a member verified under --goal, over --seeds seeds."""
    if only_throughput:
        r = throughput(200, 3)
        if as_json:
            print_json(r)
        else:
            click.echo(f"throughput  {r['evals_per_s_with_fitting']:.1f} evals/s with fitting, "
                       f"{r['evals_per_s_without_fitting']:.1f} without (fitting is "
                       f"{100 * r['fitting_share']:.0f}% of evaluation time; median of {r['repeats']}, {r['workload']})")
        return
    options = _options(sets)
    where = Path(out) if out else Path(tempfile.mkdtemp(prefix="evo-bench-"))
    goal_text = f"verified < {goal:g} ULP" + (f" with <= {max_ops} ops" if max_ops else "")
    runs = []
    for seed in range(first_seed, first_seed + seeds):
        r = one_seed(target, interval, seed, limit, goal, max_ops, workers, options, where)
        runs.append(r)
        if not as_json:
            if r["reached"]:
                m = r["member"]
                click.echo(f"seed {seed:<3} {goal_text} after {r['seconds']:.0f} s ({r['evals']} evals): "
                           f"#{m['id']}, {m['ops']} ops, {float(m['max_ulp']):.4f} ULP")
            else:
                best = "  ".join(f"{o} ops {e:.3f}" for o, e in r["best_verified_per_ops"].items()) or "none"
                click.echo(f"seed {seed:<3} FAILED: not {goal_text} within {limit:g} s ({r['evals']} evals); "
                           f"best verified per op count: {best}")
    s = summary(runs)
    result = {"target": target, "interval": interval, "goal": goal_text, "limit_seconds": limit,
              "workers": workers, "settings": options, "runs_dir": str(where), **s, "runs": runs}
    if as_json:
        print_json(result)
        return
    med = s["median_seconds"]
    click.echo(f"{target}{f' on [{interval}]' if interval else ''}: {s['successes']}/{s['seeds']} seeds reached "
               f"{goal_text} within {limit:g} s; median time "
               + (f"{med:.0f} s" if med is not None else "over the limit (most seeds failed)")
               + f" (failed seeds count as slower than any success; runs in {where})")
