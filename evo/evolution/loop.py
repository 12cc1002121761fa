"""The search: on each of a few islands, replace the oldest member with the mutated
winner of a random sample (regularized evolution, Real et al. 2019; NSGA-II also),
starting from f(x) = x; keep the whole-run Pareto front of (max error, cost); grow
the training set where front members fail, and fit them again on it; check
promising members on every float32 input while the search goes on.

What ranks a member is the best error known for it (`Member.error`): exhaustive
once checked, else the larger of its training and validation max. Islands evolve
apart; now and then whole-run front members migrate into every island, and an
island whose front has stopped moving starts again from f(x) = x, so one unlucky
start does not decide a run.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Callable

import numpy as np

from targets import Target

from ..core.ir import Program, from_dict, render, to_dict
from ..core.numbers import json_float
from ..core.scoring import ErrorStats, Scorer, merged
from ..errors import EvoError
from ..platforms import get_platform
from ..runs.front import REJECTED, Front
from ..runs.member import Member
from ..runs.store import RunStore
from .checks import Check, Checker, ThreadChecker
from .config import SearchConfig, goal_met
from .evaluators import Evaluator
from .mutate import MutationConfig, mutate, probe_key
from .state import Island, SearchState, Stats
from .strategy import STRATEGIES, Selection
from .training import TrainingSet, worst_inputs
from .worker import EvalSpec, Result, Task

# A member's validation max this far above its training max means the training set
# missed where it fails: its worst validation inputs join the training set.
LEARN_MARGIN = 0.02
# A checked member whose exhaustive max is this far (ULP) above the error it was ranked by
# is fitted again on the grown training set.
REFIT_MARGIN = 0.05


class Search:
    """Regularized evolution on islands: repeatedly replace the oldest member of an
    island with the mutated winner of a random sample of it."""

    def __init__(self, config: SearchConfig, target: Target, evaluator: Evaluator, store: RunStore | None = None,
                 on_progress: Callable[["Search"], None] | None = None, checker: Checker | None = None) -> None:
        """target: the config's target, resolved (evo.api resolves it once and hands it down)."""
        self.config = config
        self.target = target
        self.platform = get_platform(config.platform)
        self.spec = EvalSpec.of(config, target)
        self.scorer = self.spec.scorer()
        self.evaluator = evaluator
        self.store = store
        self.on_progress = on_progress or (lambda s: None)
        self.strategy = STRATEGIES[config.algorithm](Selection(config.population, config.tournament,
                                                               config.archive_parents))
        weights = dict(MutationConfig.weights) | dict(config.mutation_weights)
        self.mutation = MutationConfig(ops=config.ops, max_ops=config.max_ops, shift=_shift(self.scorer),
                                       interval=tuple(target.interval), weights=tuple(weights.items()),
                                       **dict(self.platform.mutation))
        self.training = TrainingSet(self.scorer, config.train_capacity)
        self.probe = np.linspace(*self.target.interval, 13).astype(self.scorer.np_dtype)
        self.rng = np.random.default_rng(config.seed)
        self.state = SearchState([Island() for _ in range(config.islands)])
        self.checker = checker if checker is not None else _checker(config, self.platform, evaluator, target)
        self._seed_member: Member | None = None
        self.goal_member: int | None = None       # the first verified member that met config.goal
        # Per island, so that islands evolve apart (one island's finds do not block another's):
        self._evaluated: list[dict[bytes, None]] = [{} for _ in range(config.islands)]  # children's probe
        self._fitted: list[set[bytes]] = [set() for _ in range(config.islands)]  # outputs; fitted ones'
        self._keys: dict[int, bytes] = {}        # in-flight task id -> its probe key
        self._checking: set[int] = set()         # members sent to an exhaustive check
        self._next_island = 0
        self._t0 = time.monotonic()
        self._elapsed0 = 0.0
        self._last_checkpoint = time.monotonic()

    # -- views ---------------------------------------------------------------------------
    @property
    def front(self) -> Front:
        """The whole-run Pareto front."""
        return self.state.front

    @property
    def stats(self) -> Stats:
        return self.state.stats

    @property
    def population(self) -> list[Member]:
        """Every island's population, island after island."""
        return [m for isl in self.state.islands for m in isl.population]

    # -- the loop ------------------------------------------------------------------------
    def run(self, until: Callable[["Search"], bool] = lambda s: False) -> None:
        """Evolve until the budget is spent (or `until(self)` holds)."""
        if self._seed_member is None:
            self._seed()
        step = self._generation_step if (self.config.deterministic or self.strategy.generational) \
            else self._steady_step
        while not self.spent() and not until(self):
            step()
            self._take_checks(self.checker.done() if self.checker else [])
            self._start_check()
            self._migrate()
            self.on_progress(self)
            self._maybe_checkpoint()
        while self.evaluator.in_flight():  # results already paid for are kept
            for r in self.evaluator.poll():
                self._add(r)
        self.checkpoint()

    def _steady_step(self) -> None:
        """Keep the workers busy; each child that comes back joins its island, the oldest leaves."""
        while self.evaluator.in_flight() < self.evaluator.capacity and not self._submitted_enough():
            island = self._next_island
            self._next_island = (island + 1) % len(self.state.islands)
            tasks = self._children(island, self.evaluator.batch_size)
            if not tasks:
                break
            self.evaluator.submit(tasks)
        for r in self.evaluator.poll():
            self._add(r)

    def _generation_step(self) -> None:
        """Synchronous generations, island by island: identical results for any number of workers."""
        for i, island in enumerate(self.state.islands):
            self.strategy.begin(island)
            n = self.config.population if self.strategy.generational else 4 * self.config.batch_size
            tasks = self._children(i, n)
            for k in range(0, len(tasks), self.evaluator.batch_size):
                self.evaluator.submit(tasks[k:k + self.evaluator.batch_size])
            results: list[Result] = []
            while self.evaluator.in_flight():
                results += self.evaluator.poll()
            for r in sorted(results, key=lambda r: r.id):
                self._add(r)
            self.strategy.end(island)

    # -- children ------------------------------------------------------------------------
    def _children(self, i: int, n: int) -> list[Task]:
        """n mutated winners of island i, none computing a function evaluated before."""
        st, island = self.state, self.state.islands[i]
        if self.config.max_evals is not None:  # max_evals N means N evaluations exactly (the seed is one)
            n = min(n, self.config.max_evals - 1 - st.submitted)
        if not island.population:
            self._restart(i)
        tasks: list[Task] = []
        tries = 0
        while len(tasks) < n:
            parent = self.strategy.parent(island, self.rng)
            child, how = mutate(parent.program, self.mutation, self.rng, self.probe,
                                donors=[a.program for a in self.front if a is not parent])
            key = probe_key(child, self.probe)
            cid, st.next_id = st.next_id, st.next_id + 1
            tries += 1
            if key in self._evaluated[i]:
                # A function already evaluated: skip it; a copy would only crowd the population.
                st.stats.cache_hits += 1
                if tries > 50 * (n + 1):
                    break  # the island has converged onto known functions: let time pass
                continue
            self._keys[cid] = key
            tasks.append(Task(cid, to_dict(child), parent.id, how, i, self.training.extra, self._deep_below(child)))
            st.submitted += 1
        return tasks

    def _deep_below(self, child: Program) -> float | None:
        """Reals mode: the max error under which a child's constants are fitted to convergence,
        `reals_lm_within` times the front's best with at most its ops. That run costs more than
        the rest of the fit, and pays only for a child that may join the front (a quick fit
        of a rational form ending in squarings can stop 4 digits short: FitConfig)."""
        if not self.platform.deep_fit:
            return None
        best = min((a.error for a in self.front if a.ops <= child.n_ops), default=np.inf)
        return self.config.fit.reals_lm_within * best

    def _seed(self) -> None:
        """Start from empty code: f(x) = x, evaluated like any child, on every island."""
        st = self.state
        if self.store:
            self.store.event("start", config=self.config.to_dict(), target=self.target.to_dict())
        cid, st.next_id = st.next_id, st.next_id + 1
        self.evaluator.submit([Task(cid, to_dict(Program.identity()), None, "seed", 0, self.training.extra)])
        for r in self.evaluator.poll():
            self._add(r)
        self._seed_member = st.islands[0].population[0]
        for i, isl in enumerate(st.islands[1:], start=1):
            isl.population.append(self._seed_member)
            isl.front.add(self._seed_member)
            self._fitted[i].add(probe_key(self._seed_member.program, self.probe))

    # -- a child comes back ------------------------------------------------------------------
    def _add(self, r: Result) -> None:
        """Count it, log it, and let it join its island unless it is a known function."""
        st = self.state
        st.stats.evals += 1
        st.stats.fit_seconds += r.fit_seconds
        st.stats.eval_seconds += r.seconds
        st.stats.numpy_fits += r.numpy_fit
        st.stats.per_worker[r.worker] = st.stats.per_worker.get(r.worker, 0) + 1
        key = self._keys.pop(r.id, None)
        i = r.island % len(st.islands)
        m = Member(r.id, from_dict(r.program), r.cost, ErrorStats(r.error, r.mean, r.argmax, r.train_inputs),
                   r.parent, r.mutation, r.island)
        if r.failure:
            st.stats.failures += 1
        else:
            if key is not None:
                seen = self._evaluated[i]
                seen[key] = None
                if len(seen) > 200_000 // len(st.islands):
                    seen.pop(next(iter(seen)))  # forget the oldest
            if r.train_version < self.training.extra.version:  # grown since: score the new points too
                self._rescore(m, self.training.extra.since(r.train_version))
        if self.store:
            self.store.event("eval", id=r.id, parent=r.parent, mutation=r.mutation, island=r.island,
                             error=json_float(m.error), cost=r.cost, fit_s=round(r.fit_seconds, 4),
                             worker=r.worker, evals=st.stats.evals, elapsed=round(self.elapsed, 2),
                             **({"failure": r.failure} if r.failure else {}))
        if r.failure:
            return  # logged and counted; a program that could not be evaluated does not breed
        fitted_key = probe_key(m.program, self.probe)
        if fitted_key in self._fitted[i]:
            st.stats.duplicates += 1
            return  # fitting led back to a known function: a copy would only crowd the population
        self._fitted[i].add(fitted_key)
        island = st.islands[i]
        island.evals += 1
        self.strategy.join(island, m)
        if island.front.add(m) != REJECTED:
            island.last_gain = island.evals
        self._join_front(m)
        if len(st.islands) > 1 and island.stalled(self.config.restart_after):
            self._restart(i)

    def _join_front(self, m: Member) -> None:
        """A child on the whole-run front is validated first: it joins on its best known error."""
        if not self.front.admits(m):
            return
        m.validation = self.scorer.score(m.program, "validation")
        if m.validation.max > m.train.max * (1 + LEARN_MARGIN):
            err = self.scorer.point_errors(m.program, self.scorer.validation)
            self._learn(worst_inputs(err, self.scorer.validation.x), "validation", m.id)
        if self.front.add(m) == REJECTED:
            return
        if self.store:
            self.store.event("front", id=m.id, cost=m.cost, error=json_float(m.error), error_on=m.error_on,
                             train=json_float(m.train.max), validation=json_float(m.validation.max),
                             island=m.island, expression=render(m.program))

    # -- learning where members fail ---------------------------------------------------------
    def _learn(self, xs: np.ndarray, source: str, member: int) -> None:
        """Grow the training set by these inputs; re-score every member on the new points."""
        before = self.training.extra.version
        added = self.training.add(xs)
        if not added:
            return
        new = self.training.extra.since(before)
        for m in self.state.members().values():
            self._rescore(m, new)
        self.state.refilter()
        if self.store:
            self.store.event("training", source=source, member=member, added=added, size=self.training.size,
                             version=self.training.extra.version)

    def _rescore(self, m: Member, pts) -> None:
        if pts.x.size and np.isfinite(m.train.max):
            m.train = merged(m.train, self.scorer.score(m.program, pts))

    # -- exhaustive checks in the background ---------------------------------------------------
    def _start_check(self) -> None:
        """Send the most promising unchecked front member under `verify_below` to be checked."""
        if self.checker is None or self.checker.busy():
            return
        todo = [a for a in self.front if a.exhaustive is None and a.id not in self._checking
                and a.error < self.config.verify_below]
        if todo:
            m = min(todo, key=lambda a: (a.error, a.cost))
            self._checking.add(m.id)
            self.checker.submit(m.id, m.program)

    def _take_checks(self, checks: list[Check]) -> None:
        for c in checks:
            m = self.state.members().get(c.member)
            self.stats.checks += 1
            self.stats.check_seconds += float(c.result.get("seconds", 0.0))
            sampled = self.checked(m, c.result) if m is not None else None
            self._learn(np.asarray(c.worst, self.scorer.np_dtype), "exhaustive", c.member)
            if m is not None and m.error > sampled + REFIT_MARGIN:
                self._refit(m)

    def _refit(self, m: Member) -> None:
        """A checked member failed where its constants were never fitted: fit them again
        on the grown training set (a child of the same structure, mutation 'refit'; it
        joins like any child where it computes a new function). Its structure may be
        right and only its float32 constants wrong, which no other move repairs directly."""
        st = self.state
        if self._submitted_enough():
            return
        cid, st.next_id = st.next_id, st.next_id + 1
        st.submitted += 1
        self.evaluator.submit([Task(cid, to_dict(m.program), m.id, "refit", m.island, self.training.extra)])

    def checked(self, m: Member, result: dict) -> float:
        """A member's exhaustive result replaces its sampled error (kept in the record: how
        far the sample was from the truth, and returned); what it now dominates no longer, goes."""
        sampled = m.error
        m.exhaustive = result
        self.state.verified.append(m)
        self.state.refilter()
        entry = {"id": m.id, "cost": m.cost, "ops": m.ops, "max_ulp": result.get("max_ulp"),
                 "sampled": json_float(sampled), "argmax": result.get("argmax"), "seconds": result.get("seconds"),
                 "evals": self.stats.evals, "elapsed": round(self.elapsed, 2),
                 **{k: result[k] for k in ("rounded_max_ulp", "not_correctly_rounded") if k in result}}
        self.state.checked.append(entry)
        if self.store:
            self.store.event("verified", **entry, expression=render(m.program))
        if self.config.goal and self.goal_member is None and goal_met(self.config.goal, result):
            self.goal_member = m.id
            if self.store:
                self.store.event("goal", id=m.id, goal=self.config.goal, evals=self.stats.evals,
                                 elapsed=round(self.elapsed, 2))
        return sampled

    # -- islands: migration and restarts ------------------------------------------------------
    def _migrate(self) -> None:
        """Every `migrate_every` evaluations, a random whole-run front member joins each island."""
        st = self.state
        if len(st.islands) < 2 or st.stats.evals - st.last_migration < self.config.migrate_every:
            return
        st.last_migration = st.stats.evals
        st.stats.migrations += 1
        for i, isl in enumerate(st.islands):
            m = self.front[int(self.rng.integers(len(self.front)))]
            if m not in isl.population:
                self.strategy.join(isl, m)
                self._fitted[i].add(probe_key(m.program, self.probe))
            isl.front.add(m)
        if self.store:
            self.store.event("migrate", evals=st.stats.evals)

    def _restart(self, i: int) -> None:
        """Island i starts again from f(x) = x (the whole-run front keeps what it found);
        it forgets which functions it saw, so that it may find them again."""
        isl, seed = self.state.islands[i], self._seed_member
        isl.population, isl.front = deque([seed]), Front([seed], by_cost=False)
        isl.last_gain, isl.restarts = isl.evals, isl.restarts + 1
        self._evaluated[i], self._fitted[i] = {}, {probe_key(seed.program, self.probe)}
        self.stats.restarts += 1
        if self.store:
            self.store.event("restart", island=i, evals=self.stats.evals)

    # -- budget, checkpoints ------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self._elapsed0 + time.monotonic() - self._t0

    def spent(self) -> bool:
        """The budget is spent, or a verified member met the goal."""
        c = self.config
        return (c.max_evals is not None and self.stats.evals >= c.max_evals) or \
            (c.budget_seconds is not None and self.elapsed >= c.budget_seconds) or self.goal_member is not None

    def _submitted_enough(self) -> bool:
        return self.config.max_evals is not None and self.state.submitted + 1 >= self.config.max_evals

    def _maybe_checkpoint(self) -> None:
        if time.monotonic() - self._last_checkpoint >= self.config.checkpoint_every:
            self.checkpoint()

    def checkpoint(self) -> None:
        self._last_checkpoint = time.monotonic()
        if not self.store:
            return
        self.stats.elapsed = self.elapsed
        state = self.state.to_dict(self.platform)
        # Children still in flight are lost if the driver dies: a resumed run submits them anew.
        state["submitted"] -= len(self._keys)
        self.store.save_checkpoint({"state": state, "rng": self.rng.bit_generator.state,
                                    "training": self.training.extra.to_dict(),
                                    "seed_member": self._seed_member.id if self._seed_member else None})
        self.save_front()
        self.store.flush()

    def restore(self, ck: dict) -> None:
        try:
            self.state = SearchState.from_dict(ck["state"])
            self.rng.bit_generator.state = ck["rng"]
            self.training.restore(ck["training"])
            members = self.state.members()
            self._seed_member = members.get(ck["seed_member"]) if ck["seed_member"] is not None else None
        except (KeyError, TypeError, ValueError) as e:
            raise EvoError(f"checkpoint is corrupt ({type(e).__name__}: {e}); nothing was changed") from None
        if len(self.state.islands) != self.config.islands:
            raise EvoError("checkpoint is corrupt (island count differs from the run's config); nothing was changed")
        self._elapsed0 = self.stats.elapsed
        self._t0 = time.monotonic()
        self._fitted = [{probe_key(m.program, self.probe) for m in (*isl.population, *isl.front)}
                        for isl in self.state.islands]
        if self.config.goal:  # a run that met its goal before the kill stays done
            self.goal_member = next((m.id for m in self.state.verified if goal_met(self.config.goal, m.exhaustive)),
                                    None)

    # -- results ------------------------------------------------------------------------------
    def front_records(self) -> list[dict]:
        """The whole-run front as front.json records (see evo.runs.member)."""
        return [a.to_dict(self.platform) for a in self.front]

    def save_front(self) -> None:
        if self.store:
            c = self.config
            settings = {"platform": c.platform, "dtype": np.dtype(self.platform.dtype).name, "metric": c.metric,
                        "seed": c.seed, "cost": c.cost}
            meta = {"training_points": self.training.size, "checked": self.state.checked}
            if c.goal:
                met = next((e for e in self.state.checked if e["id"] == self.goal_member), None)
                meta["goal"] = {"goal": c.goal, "id": self.goal_member,
                                "evals": met["evals"] if met else None, "seconds": met["elapsed"] if met else None}
            self.store.save_front(self.store.path.name, self.target.to_dict(), settings, self.front_records(), meta)

    def finish_checks(self, wait: bool = True) -> None:
        """Take the check in flight (unless not waiting for it) and stop checking in the
        background: before the evaluator (and a Ray it started) goes away."""
        if self.checker is not None:
            if wait:
                self._take_checks(self.checker.wait())
            self.checker.close()
            self.checker = None

    def close(self) -> None:
        self.finish_checks(wait=False)


def _checker(config: SearchConfig, platform, evaluator: Evaluator, target: Target) -> Checker | None:
    """Where exhaustive checks run during the search: on the evaluator's cluster if it has
    one, else in a thread of this process; none where the platform has no exhaustive check
    (reals) or verify_below is 0."""
    if platform.verify is None or config.verify_below <= 0:
        return None
    on_cluster = getattr(evaluator, "checker", None)
    return on_cluster(target, platform) if on_cluster else ThreadChecker(target, platform)


def _shift(scorer: Scorer) -> float:
    """The c of the change of variable x -> x - c: a zero of the target inside the interval
    (log at 1: then x - 1 is exact and the kernel can be exact there), else mid-interval."""
    tr = scorer.train
    zeros = tr.x[(tr.hi == 0) & (tr.lo == 0)]
    return float(zeros[0]) if zeros.size else float(np.mean(scorer.target.interval))
