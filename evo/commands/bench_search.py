"""evo bench search: evaluation throughput with and without constant fitting, and
time from empty code to the first exhaustively verified < 1 ULP exp2 program."""
from __future__ import annotations

import statistics
import time
from dataclasses import replace

import click

from ..config import SearchConfig
from ..evaluators import LocalEvaluator
from ..fit import FitConfig
from ..evolution import Search
from ..worker import spec_for
from ..verify import verify_program
from ..worker import Task, Worker
from ._common import print_json

NO_FIT = FitConfig(lm_iters=0, minimax_iters=0, polish_rounds=0)


def sample_tasks(n: int, seed: int) -> list[Task]:
    """A realistic workload: the children a short exp2 search actually evaluated."""
    cfg = SearchConfig(target="exp2", max_evals=n, seed=seed)
    s = Search(cfg, LocalEvaluator(spec_for(cfg)))
    tasks: list[Task] = []
    original = s.evaluator.submit
    s.evaluator.submit = lambda batch: (tasks.extend(batch), original(batch))[1]  # record what is evaluated
    s.run()
    return tasks


def throughput(tasks: list[Task], fit: FitConfig, repeats: int) -> tuple[float, float]:
    """(evaluations/s median over repeats, share of time spent fitting)."""
    w = Worker(replace(spec_for(SearchConfig(target="exp2", max_evals=1)), fit=fit))
    rates, shares = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        results = w.evaluate_batch(tasks)
        rates.append(len(tasks) / (time.perf_counter() - t0))
        shares.append(sum(r.fit_seconds for r in results) / max(sum(r.seconds for r in results), 1e-12))
    return statistics.median(rates), statistics.median(shares)


def time_to_verified(seed: int, limit: float, below: float = 1.0) -> dict:
    """Search exp2 from f(x) = x; whenever a front member's validation max is under
    `below`, verify it on every float32 of [0, 1]; stop at the first that passes."""
    cfg = SearchConfig(target="exp2", budget_seconds=limit, seed=seed)
    s = Search(cfg, LocalEvaluator(spec_for(cfg)))
    found: dict = {}
    tried: set[int] = set()
    t0 = time.monotonic()

    def check(search: Search) -> bool:
        for a in search.archive:
            v = (a.validation or {}).get("max_ulp")
            if a.id not in tried and isinstance(v, float) and v < below:
                tried.add(a.id)
                r = verify_program(a.program, search.target)
                if r.max_ulp < below:
                    found.update(id=a.id, cost=a.cost, exhaustive_max_ulp=r.max_ulp, evals=search.stats.evals,
                                 seconds=time.monotonic() - t0, verify_seconds=r.seconds)
                    return True
        return False

    s.run(until=check)
    return found or {"seconds": None, "evals": s.stats.evals, "note": f"not found within {limit:g} s"}


@click.command()
@click.option("--tasks", "n_tasks", type=int, default=200, show_default=True, help="Workload size.")
@click.option("--repeats", type=int, default=3, show_default=True)
@click.option("--seeds", type=int, default=3, show_default=True, help="Searches for the time-to-< 1 ULP figure.")
@click.option("--limit", type=float, default=900.0, show_default=True, help="Seconds allowed per search.")
@click.option("--skip-search", is_flag=True, help="Only the throughput figures.")
@click.option("--json", "as_json", is_flag=True)
def search(n_tasks: int, repeats: int, seeds: int, limit: float, skip_search: bool, as_json: bool) -> None:
    """Throughput with/without fitting, and time to a verified < 1 ULP exp2 (in-process, one core)."""
    tasks = sample_tasks(n_tasks, seed=123)
    with_fit, share = throughput(tasks, FitConfig(), repeats)
    without_fit, _ = throughput(tasks, NO_FIT, repeats)
    out: dict = {"workload": f"{len(tasks)} children of a short exp2 search", "repeats": repeats,
                 "evals_per_s_with_fitting": with_fit, "evals_per_s_without_fitting": without_fit,
                 "fitting_share": share}
    if not as_json:
        click.echo(f"throughput  {with_fit:.1f} evals/s with fitting, {without_fit:.1f} without "
                   f"(fitting is {100 * share:.0f}% of evaluation time; median of {repeats}, {len(tasks)} tasks)")
    if not skip_search:
        runs = []
        for seed in range(seeds):
            r = time_to_verified(seed, limit) | {"seed": seed}
            runs.append(r)
            if not as_json:
                if r.get("seconds") is None:
                    click.echo(f"seed {seed}     no verified < 1 ULP program within {limit:g} s ({r['evals']} evals)")
                else:
                    click.echo(f"seed {seed}     verified {r['exhaustive_max_ulp']:.4f} ULP (cost {r['cost']:g}) after "
                               f"{r['seconds']:.0f} s, {r['evals']} evals (verification {r['verify_seconds']:.0f} s)")
        # A seed that found nothing within the limit counts as infinitely slow.
        median = statistics.median(r["seconds"] if r.get("seconds") is not None else float("inf") for r in runs)
        out["time_to_verified_below_1ulp"] = runs
        out["median_seconds"] = median if median != float("inf") else None
        if not as_json:
            med = out["median_seconds"]
            click.echo(f"median      {med:.0f} s to an exhaustively verified < 1 ULP exp2 on [0, 1]" if med is not None
                       else "median      over the limit: most seeds found nothing")
    if as_json:
        print_json(out)
