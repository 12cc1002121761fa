"""The search: regularized (aging) evolution or NSGA-II over float32 programs,
from f(x) = x, with a whole-run Pareto archive of (max error, cost)."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from targets import Target, get_target

from .config import SearchConfig
from .evaluators import Evaluator
from .ir import Program, from_dict, render, to_dict
from .mutate import MutationConfig, mutate, probe_key
from .pareto import best_index, crowding, dominates, ranks
from .scoring import Scorer, json_float
from .store import RunStore
from .worker import EvalSpec, Result, Task


@dataclass
class Individual:
    id: int
    program: Program
    error: float          # max error on the training set
    mean: float
    cost: float
    parent: int | None
    mutation: str
    validation: dict | None = None   # max/mean error on the validation set (archive members)
    verified: dict | None = None     # exhaustive verification result
    remeasured: dict | None = None   # measured cost timed again at the end (median, spread)

    @property
    def point(self) -> tuple[float, float]:
        return (self.error, self.cost)

    def to_dict(self) -> dict:
        return {"id": self.id, "program": to_dict(self.program), "error": json_float(self.error),
                "mean": json_float(self.mean), "cost": self.cost, "parent": self.parent,
                "mutation": self.mutation, "validation": self.validation, "verified": self.verified,
                "remeasured": self.remeasured}

    @staticmethod
    def from_dict(d: dict) -> "Individual":
        return Individual(d["id"], from_dict(d["program"]), float(d["error"]), float(d["mean"]), d["cost"],
                          d["parent"], d["mutation"], d.get("validation"), d.get("verified"), d.get("remeasured"))


@dataclass
class Stats:
    evals: int = 0
    cache_hits: int = 0       # children skipped: their function was evaluated before
    duplicates: int = 0       # evaluated children whose fitted function was already known
    failures: int = 0
    fit_seconds: float = 0.0
    eval_seconds: float = 0.0
    elapsed: float = 0.0      # across resumes
    per_worker: dict = field(default_factory=dict)


class Search:
    """Regularized evolution: repeatedly replace the oldest member of the population
    with the mutated winner of a random sample of it (Real et al. 2019)."""

    def __init__(self, config: SearchConfig, evaluator: Evaluator, store: RunStore | None = None,
                 on_progress: Callable[["Search"], None] | None = None) -> None:
        self.config = config
        self.target: Target = get_target(config.target, config.interval)
        self.scorer = Scorer(self.target, config.dtype, config.metric, config.fixed_ref, config.validation_seed,
                             semantics=config.semantics)
        self.evaluator = evaluator
        self.store = store
        self.on_progress = on_progress or (lambda s: None)
        self.mutation = MutationConfig(ops=config.ops, max_ops=config.max_ops)
        self.probe = np.linspace(*self.target.interval, 13).astype(self.scorer.np_dtype)
        self.rng = np.random.default_rng(config.seed)
        self.population: deque[Individual] = deque()
        self.archive: list[Individual] = []
        self.stats = Stats()
        self.next_id = 0
        self._evaluated: dict[bytes, None] = {}  # probe outputs of every evaluated child (ordered set)
        self._keys: dict[int, bytes] = {}        # in-flight task id -> its probe key
        self._fitted: set[bytes] = set()         # probe outputs of every fitted function so far
        self._submitted = 0
        self._nsga_order: list[int] = []          # NSGA-II: (rank, crowding) position per member
        self._t0 = time.monotonic()
        self._elapsed0 = 0.0
        self._last_checkpoint = time.monotonic()

    # -- the loop ------------------------------------------------------------------
    def run(self, until: Callable[["Search"], bool] = lambda s: False) -> None:
        """Evolve until the budget is spent (or `until(self)` holds)."""
        if not self.population:
            self._seed()
        step = self._generation_step if (self.config.deterministic or self.config.algorithm == "nsga2") \
            else self._steady_step
        while not self.spent() and not until(self):
            step()
            self.on_progress(self)
            self._maybe_checkpoint()
        while self.evaluator.in_flight():  # results already paid for are kept
            for r in self.evaluator.poll():
                self._add(r)
        self.checkpoint()

    def _steady_step(self) -> None:
        """Keep the workers busy; each child that comes back joins, the oldest leaves."""
        while self.evaluator.in_flight() < self.evaluator.capacity and not self._submitted_enough():
            self.evaluator.submit(self._children(self.evaluator.batch_size))
        for r in self.evaluator.poll():
            self._add(r)

    def _generation_step(self) -> None:
        """Synchronous generations: identical results for any number of workers."""
        nsga2 = self.config.algorithm == "nsga2"
        if nsga2:
            self._nsga_order = _rank_crowding_order([p.point for p in self.population])
        tasks = self._children(self.config.population if nsga2 else 4 * self.config.batch_size)
        for i in range(0, len(tasks), self.evaluator.batch_size):
            self.evaluator.submit(tasks[i:i + self.evaluator.batch_size])
        results: list[Result] = []
        while self.evaluator.in_flight():
            results += self.evaluator.poll()
        for r in sorted(results, key=lambda r: r.id):
            self._add(r, age_out=not nsga2)
        if nsga2:
            self._environmental_selection()

    # -- selection -------------------------------------------------------------------
    def _winner(self) -> Individual:
        if self.archive and self.rng.random() < self.config.archive_parents:
            # Elitist migration: a whole-run front member is a parent now and then, so
            # progress at every cost level keeps being built on after it ages out.
            return self.archive[int(self.rng.integers(len(self.archive)))]
        pop = self.population
        if self.config.algorithm == "nsga2":  # binary tournament on the population's (rank, crowding)
            i, j = self.rng.choice(len(pop), 2, replace=True)
            return pop[int(min(i, j, key=lambda k: self._nsga_order[k]))]
        k = min(self.config.tournament, len(pop))
        sample = self.rng.choice(len(pop), size=k, replace=False)
        return pop[int(sample[best_index([pop[int(i)].point for i in sample])])]

    def _environmental_selection(self) -> None:
        """NSGA-II: parents and children together; keep the best by rank, then crowding."""
        pop = list(self.population)
        order = _rank_crowding_order([p.point for p in pop])
        keep = sorted(range(len(pop)), key=lambda i: order[i])[: self.config.population]
        self.population = deque(pop[i] for i in sorted(keep))

    # -- children ----------------------------------------------------------------------
    def _children(self, n: int) -> list[Task]:
        """n mutated tournament winners, none computing a function evaluated before."""
        if self.config.max_evals is not None:  # --evals N means N evaluations exactly (the seed is one)
            n = min(n, self.config.max_evals - 1 - self._submitted)
        tasks = []
        while len(tasks) < n:
            parent = self._winner()
            child, how = mutate(parent.program, self.mutation, self.rng, self.probe)
            key = probe_key(child, self.probe)
            cid, self.next_id = self.next_id, self.next_id + 1
            if key in self._evaluated:
                # A function already evaluated: skip it; a copy would only crowd the population.
                self.stats.cache_hits += 1
                if self.stats.cache_hits > 50 * (self.stats.evals + 1):
                    break  # the population has converged onto known functions: let time pass
                continue
            self._keys[cid] = key
            tasks.append(Task(cid, to_dict(child), parent.id, how))
            self._submitted += 1
        return tasks

    def _seed(self) -> None:
        """Start from empty code: f(x) = x, evaluated like any child."""
        cid, self.next_id = self.next_id, self.next_id + 1
        self.evaluator.submit([Task(cid, to_dict(Program.identity()), None, "seed")])
        for r in self.evaluator.poll():
            self._add(r)
        if self.store:
            self.store.event("start", config=self.config.to_dict(), target=self.target.to_dict())

    # -- bookkeeping ----------------------------------------------------------------------
    def _add(self, r: Result, age_out: bool = True) -> None:
        """A child is back: count it, log it, and let it join unless it is a known function."""
        ind = Individual(r.id, from_dict(r.program), r.error, r.mean, r.cost, r.parent, r.mutation)
        self.stats.evals += 1
        self.stats.fit_seconds += r.fit_seconds
        self.stats.eval_seconds += r.seconds
        self.stats.per_worker[r.worker] = self.stats.per_worker.get(r.worker, 0) + 1
        key = self._keys.pop(r.id, None)
        if r.failure:
            self.stats.failures += 1
        elif key is not None:
            self._evaluated[key] = None
            if len(self._evaluated) > 200_000:
                self._evaluated.pop(next(iter(self._evaluated)))  # forget the oldest
        if self.store:
            self.store.event("eval", id=r.id, parent=r.parent, mutation=r.mutation,
                             error=json_float(r.error), cost=r.cost, fit_s=round(r.fit_seconds, 4),
                             worker=r.worker, evals=self.stats.evals, elapsed=round(self.elapsed, 2),
                             **({"failure": r.failure} if r.failure else {}))
        fitted_key = probe_key(ind.program, self.probe)
        if fitted_key in self._fitted:
            self.stats.duplicates += 1
            return  # fitting led back to a known function: a copy would only crowd the population
        self._fitted.add(fitted_key)
        self.population.append(ind)
        if age_out and len(self.population) > self.config.population:
            self.population.popleft()  # the oldest dies, however good: regularization
        self._archive(ind)

    def _archive(self, ind: Individual) -> None:
        if not np.isfinite(ind.error):
            return
        if any(dominates(a.point, ind.point) or a.point == ind.point for a in self.archive):
            return
        self.archive = [a for a in self.archive if not dominates(ind.point, a.point)]
        ind.validation = self.scorer.score(ind.program, "validation").to_dict(self.scorer.unit)
        self.archive.append(ind)
        self.archive.sort(key=lambda a: a.cost)
        if self.store:
            self.store.event("front", id=ind.id, cost=ind.cost, error=ind.error,
                             validation=ind.validation, expression=render(ind.program))

    # -- budget, checkpoints ---------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self._elapsed0 + time.monotonic() - self._t0

    def spent(self) -> bool:
        c = self.config
        return (c.max_evals is not None and self.stats.evals >= c.max_evals) or \
            (c.budget_seconds is not None and self.elapsed >= c.budget_seconds)

    def _submitted_enough(self) -> bool:
        return self.config.max_evals is not None and self._submitted + 1 >= self.config.max_evals

    def _maybe_checkpoint(self) -> None:
        if time.monotonic() - self._last_checkpoint >= self.config.checkpoint_every:
            self.checkpoint()

    def checkpoint(self) -> None:
        self._last_checkpoint = time.monotonic()
        if not self.store:
            return
        s = self.stats
        self.store.save_checkpoint({
            # Children still in flight are lost if the driver dies: a resumed run must submit them anew.
            "next_id": self.next_id, "submitted": self._submitted - len(self._keys),
            "rng": self.rng.bit_generator.state,
            "stats": {"evals": s.evals, "cache_hits": s.cache_hits, "duplicates": s.duplicates, "failures": s.failures,
                      "fit_seconds": s.fit_seconds, "eval_seconds": s.eval_seconds,
                      "elapsed": self.elapsed, "per_worker": s.per_worker},
            "population": [i.to_dict() for i in self.population],
            "archive": [i.to_dict() for i in self.archive]})
        self.save_front()
        self.store.flush()

    def restore(self, ck: dict) -> None:
        try:
            self.next_id, self._submitted = int(ck["next_id"]), int(ck["submitted"])
            self.rng.bit_generator.state = ck["rng"]
            st = ck["stats"]
            self.stats = Stats(st["evals"], st["cache_hits"], st["duplicates"], st["failures"], st["fit_seconds"],
                               st["eval_seconds"], st["elapsed"], dict(st.get("per_worker", {})))
            self._elapsed0 = float(st["elapsed"])
            self._t0 = time.monotonic()
            self.population = deque(Individual.from_dict(d) for d in ck["population"])
            self.archive = [Individual.from_dict(d) for d in ck["archive"]]
            self._fitted = {probe_key(i.program, self.probe) for i in (*self.population, *self.archive)}
        except (KeyError, TypeError, ValueError) as e:
            from .errors import EvoError

            raise EvoError(f"checkpoint is corrupt ({type(e).__name__}: {e}); nothing was changed") from None

    # -- results ------------------------------------------------------------------------------
    def front(self) -> list[dict]:
        """Archive members as front.json records (validation errors; exhaustive where verified)."""
        out = []
        for a in self.archive:
            v = a.validation or {}
            unit = self.scorer.unit
            out.append({"id": a.id, "cost": a.cost, "ops": a.program.n_ops,
                        f"max_{unit}": v.get(f"max_{unit}"), f"mean_{unit}": v.get(f"mean_{unit}"),
                        "argmax": v.get("argmax"), "train_max": json_float(a.error),
                        "exhaustive_max_ulp": a.verified["max_ulp"] if a.verified else None,
                        "verified": a.verified, "remeasured_cost": a.remeasured, "expression": render(a.program),
                        "program": to_dict(a.program), "parent": a.parent, "mutation": a.mutation})
        return out

    def save_front(self) -> None:
        if self.store:
            self.store.save_front(self.store.path.name, self.target.to_dict(), self.config, self.front())

    def spec(self) -> EvalSpec:
        return spec_for(self.config)


def _rank_crowding_order(points: list[tuple[float, float]]) -> list[int]:
    """Position of each point when sorted by Pareto rank, then by crowding (lonelier first)."""
    rk = ranks(points)
    cd = np.zeros(len(points))
    for r in set(rk.tolist()):
        layer = np.flatnonzero(rk == r)
        cd[layer] = crowding([points[i] for i in layer])
    order = sorted(range(len(points)), key=lambda i: (rk[i], -cd[i], i))
    pos = [0] * len(points)
    for k, i in enumerate(order):
        pos[i] = k
    return pos


def spec_for(c: SearchConfig) -> EvalSpec:
    t = get_target(c.target, c.interval)
    return EvalSpec(t.to_dict(), c.dtype, c.metric, c.fixed_ref, c.validation_seed, c.fit, c.cost,
                    c.cost_weights, c.semantics)


def remeasure_front(search: Search, trials: int = 3) -> None:
    """With a measured cost, time every front member again (fresh compiles) and record
    the median and the spread: one timing per child is noisy, the front should not be."""
    if search.config.cost == "ops":
        return
    from .backends.timing import kernel_cost
    from .worker import start_xla_on_one_core

    if search.config.cost == "xla":
        start_xla_on_one_core()
    for a in search.archive:
        ts = sorted(kernel_cost(a.program, search.config.cost, search.target, fresh=True) for _ in range(trials))
        med = ts[len(ts) // 2]
        a.remeasured = {"ns_per_elem": med, "spread": (ts[-1] - ts[0]) / med if med else 0.0, "trials": trials}
    noise = [a.remeasured["spread"] for a in search.archive]
    if search.store and noise:
        search.store.event("remeasured", members=len(noise), median_spread=sorted(noise)[len(noise) // 2])
    search.save_front()


def verify_front(search: Search, below: float, progress_bar=None) -> None:
    """Exhaustively verify archive members whose validation max error is under `below`.

    progress_bar(label, total): a context manager yielding an update(done, total)."""
    from contextlib import nullcontext

    from .verify import verify_program

    if search.config.dtype != "float32":
        return
    a0, b0 = search.target.f32_inputs()
    for a in search.archive:
        v = (a.validation or {}).get("max_ulp")
        if a.verified is None and isinstance(v, (int, float)) and v < below:
            bar = progress_bar(f"verifying #{a.id} ({a.cost:g} ops)", b0 - a0 + 1) if progress_bar \
                else nullcontext(None)
            with bar as update:
                a.verified = verify_program(a.program, search.target, progress=update).to_dict()
            if search.store:
                search.store.event("verified", id=a.id, **{k: a.verified[k] for k in
                                                           ("max_ulp", "not_correctly_rounded", "inputs", "seconds")})
    search.save_front()


def run_dir(out: str | None, name: str) -> Path:
    return Path(out or "runs") / name
