"""evo bench scaling: evaluations/s with 1 and 2 Ray workers, side by side.

One fixed workload for every contender: the children a short in-process search
submitted (so program sizes are those a search really evaluates), cycled to
about --seconds of work for one worker. One pool of 2 actors is started and
warmed, on the embedded Ray or on a cluster (--address; Ray places the two
actors on different nodes where it can); "1 worker" gives work to one of them
only. The 1- and 2-worker measurements are interleaved, repeat by repeat, so a
change of machine load hits both alike. Per-batch overhead: round trips of
empty batches."""
from __future__ import annotations

import os
import statistics
import time

import click

from ..errors import EvoError
from ..evolution.config import SearchConfig
from ..evolution.evaluators import Evaluator, LocalEvaluator
from ..evolution.worker import EvalSpec, Result, Task
from ._common import print_json


class _Recorder(LocalEvaluator):
    """An in-process evaluator that keeps every task and result it sees."""

    def __init__(self, spec: EvalSpec) -> None:
        super().__init__(spec, batch_size=8)
        self.tasks: list[Task] = []
        self.results: list[Result] = []

    def submit(self, tasks: list[Task]) -> None:
        self.tasks += tasks
        super().submit(tasks)

    def poll(self) -> list[Result]:
        out = super().poll()
        self.results += out
        return out


def workload(target: str, evals: int, seed: int = 0) -> tuple[EvalSpec, list[Task], float]:
    """The tasks of a short search from f(x) = x, and their mean evaluation time in seconds."""
    from targets import get_target

    from ..evolution.loop import Search

    config = SearchConfig(target=target, max_evals=evals, seed=seed, workers=0, deterministic=True, verify_below=0)
    t = get_target(config.target, config.interval)
    spec = EvalSpec.of(config, t)
    rec = _Recorder(spec)
    Search(config, t, rec).run()
    return spec, rec.tasks, statistics.fmean(r.seconds for r in rec.results)


def cycled(tasks: list[Task], n: int) -> list[Task]:
    """n tasks cycling through `tasks`, with fresh ids."""
    return [Task(i, tasks[i % len(tasks)].program, tasks[i % len(tasks)].parent, tasks[i % len(tasks)].mutation)
            for i in range(n)]


def throughput(ev: Evaluator, tasks: list[Task]) -> float:
    """Evaluations/s the way the search drives an evaluator: `capacity` batches in flight."""
    t0 = time.perf_counter()
    todo = [tasks[i:i + ev.batch_size] for i in range(0, len(tasks), ev.batch_size)]
    seen: list[int] = []
    while todo or ev.in_flight():
        while todo and ev.in_flight() < ev.capacity:
            ev.submit(todo.pop(0))
        seen += [r.id for r in ev.poll()]
    dt = time.perf_counter() - t0
    if sorted(seen) != [t.id for t in tasks]:
        raise EvoError("evaluator lost or repeated a task during the benchmark")
    return len(tasks) / dt


def batch_overhead(ev: Evaluator, n: int = 200) -> tuple[float, float]:
    """(ms per round trip of one empty batch, empty batches/s with `capacity` in flight)."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        ev.submit([])
        ev.poll()
        samples.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    sent = 0
    while sent < n or ev.in_flight():
        while sent < n and ev.in_flight() < ev.capacity:
            ev.submit([])
            sent += 1
        ev.poll()
    return 1e3 * statistics.median(samples), n / (time.perf_counter() - t0)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--seconds", type=click.FloatRange(0.5, 600), default=5.0, show_default=True,
              help="Work per measurement, in seconds of one worker.")
@click.option("--repeats", type=click.IntRange(1, 100), default=3, show_default=True, help="Medians over these.")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=8, show_default=True, help="Children per batch.")
@click.option("--target", default="exp2", show_default=True, help="Target of the workload.")
@click.option("--address", default=None,
              help="Ray cluster address (default: $RAY_ADDRESS, else an embedded Ray on this machine).")
def scaling(as_json: bool, seconds: float, repeats: int, batch_size: int, target: str, address: str | None) -> None:
    """Evaluations/s with 1 and 2 Ray workers (this machine, or a cluster), and per-batch overhead."""
    import ray

    from ..evolution.distributed import RayEvaluator, init_ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    where = f"Ray cluster at {address}" if address else "embedded Ray"
    if ray.is_initialized():
        raise EvoError("a Ray instance is already running in this process")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if address:  # a wrong address or a missing token fails now, not after the workload is built
        init_ray(address, None)
    try:
        load0 = os.getloadavg()[0]
        spec, recorded, mean_s = workload(target, 400)
        tasks = cycled(recorded, max(len(recorded), int(seconds / max(mean_s, 1e-6))))
        local = LocalEvaluator(spec, batch_size=batch_size)
        in_process = throughput(local, tasks[: max(1, len(tasks) // 2)])
        if not address:  # the embedded Ray starts after the in-process figure, so it does not share its CPUs
            init_ray(None, max(cores, 2))
        pool = RayEvaluator(spec, workers=2, batch_size=batch_size)
        try:
            if pool.workers_alive() < 2:  # it goes on with fewer after a while; a scaling figure cannot
                cpus = ray.cluster_resources().get("CPU", 0)
                raise EvoError(f"only {pool.workers_alive()} of 2 evo workers started on the {where} "
                               f"({cpus:g} CPUs in all); bench scaling needs 2 free CPUs")
            nodes = len({w["node"] for w in pool.worker_info()})
            cluster_cpus = ray.cluster_resources().get("CPU", 0)
            runs: dict[int, list[float]] = {1: [], 2: []}
            for w in (1, 2):  # first calls (imports, caches) on both actors
                pool.active = w
                throughput(pool, cycled(recorded, 8 * batch_size))
            for _ in range(repeats):
                for w in (1, 2):
                    pool.active = w
                    runs[w].append(throughput(pool, tasks))
            pool.active = 1
            rtt_ms, _ = batch_overhead(pool)
            pool.active = 2
            _, empty_per_s = batch_overhead(pool)
        finally:
            pool.close()
    finally:
        ray.shutdown()
    load1 = os.getloadavg()[0]

    eps = {w: statistics.median(r) for w, r in runs.items()}
    speedup = eps[2] / eps[1]
    share = rtt_ms / (rtt_ms + 1e3 * mean_s * batch_size)
    report = {
        "target": target, "tasks": len(tasks), "distinct_tasks": len(recorded), "mean_eval_ms": 1e3 * mean_s,
        "batch_size": batch_size, "repeats": repeats, "cpus": cores, "ray": where, "address": address,
        "cluster_cpus": cluster_cpus, "worker_nodes": nodes,
        "evals_per_s": {str(w): v for w, v in eps.items()}, "speedup": speedup,
        "runs": {str(w): r for w, r in runs.items()}, "in_process_evals_per_s": in_process,
        "batch_round_trip_ms": rtt_ms, "empty_batches_per_s": empty_per_s, "overhead_share": share,
        "loadavg_1min": [load0, load1],
    }
    if as_json:
        print_json(report)
        return
    click.echo(f"workload   {len(tasks)} children ({len(recorded)} distinct) from a short {target} search, "
               f"mean {1e3 * mean_s:.1f} ms each; batches of {batch_size}; median of {repeats}")
    click.echo(f"ray        {where}: {cluster_cpus:g} CPUs; the 2 workers on {nodes} node{'s' * (nodes > 1)}")
    click.echo(f"{'workers':<12}{'evals/s':>10}{'speedup':>10}")
    click.echo(f"{'in-process':<12}{in_process:>10.1f}{'':>10}")
    for w, v in eps.items():
        click.echo(f"{w:<12}{v:>10.1f}{v / eps[1]:>9.2f}x")
    click.echo(f"overhead   {rtt_ms:.2f} ms per batch round trip (empty batch, 1 worker); {empty_per_s:,.0f} empty "
               f"batches/s pipelined (2 workers); {100 * share:.1f}% of a {batch_size}-child batch")
    click.echo(f"machine    {cores} CPUs here; load average {load0:.2f} before, {load1:.2f} after "
               "(other processes share the cores: figures are lower bounds)")
