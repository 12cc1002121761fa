"""Evaluating children: fit constants, score, cost. Runs in the driver (`--workers 0`)
or inside Ray actors; everything here is picklable and free of driver state.
"""
from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from targets import target_from_dict

from .fit import FitConfig, fit_errors
from .ir import Program, from_dict, to_dict
from .scoring import Scorer, ulp32
from .scoring import stats as score_stats  # `stats` names the per-child figures below


@dataclass(frozen=True)
class EvalSpec:
    """What a worker needs to evaluate children (small, picklable)."""

    target: dict                      # Target.to_dict()
    dtype: str = "float32"
    metric: str = "ulp"
    fixed_ref: float = 1.5
    seed: int = 1                     # validation points
    fit: FitConfig = field(default_factory=FitConfig)
    cost: str = "ops"                 # ops | xla | llvm
    cost_weights: tuple[tuple[str, float], ...] = ()
    semantics: str = "interp"         # score under: interp | xla | llvm


@dataclass(frozen=True)
class Task:
    id: int
    program: dict
    parent: int | None
    mutation: str


@dataclass(frozen=True)
class Result:
    id: int
    program: dict           # fitted
    parent: int | None
    mutation: str
    error: float            # max error on the training set (inf = worst)
    mean: float
    cost: float
    fit_seconds: float
    seconds: float          # whole evaluation
    worker: str = ""
    failure: str = ""       # why the candidate scored worst, if it did


def start_xla_on_one_core() -> None:
    """XLA sizes its thread pool once per process, at its first compile. Started on
    one core it keeps each kernel's loop whole, as jnp.exp2's is: without this, a
    10,000-element kernel is split over threads and timed slower and noisier."""
    import jax

    from .backends.timing import one_core

    with one_core():
        jax.jit(lambda v: v + 1)(np.float32(0)).block_until_ready()


class Worker:
    """Holds the scorer (ground truth loaded once) and evaluates batches."""

    def __init__(self, spec: EvalSpec) -> None:
        self.spec = spec
        self.scorer = Scorer(target_from_dict(spec.target), spec.dtype, spec.metric, spec.fixed_ref, spec.seed,
                             semantics=spec.semantics)
        if "xla" in (spec.cost, spec.semantics):
            start_xla_on_one_core()
        tr = self.scorer.train
        if self.scorer.metric == "relative":
            self.weights = 1.0 / np.abs(tr.hi)
        elif self.scorer.metric == "fixed":
            self.weights = np.full(tr.x.size, 1.0 / float(ulp32(np.float64(spec.fixed_ref))))
        else:
            self.weights = 1.0 / ulp32(tr.hi, tr.lo)
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def cost(self, p: Program) -> float:
        if self.spec.cost == "ops":
            return p.cost(dict(self.spec.cost_weights))
        from .backends.timing import kernel_cost

        return kernel_cost(p, self.spec.cost, self.scorer.target)

    def evaluate(self, task: Task) -> Result:
        t0 = time.perf_counter()
        p = from_dict(task.program)
        tr = self.scorer.train
        try:
            fitted, err = fit_errors(p, tr.x, tr.hi, tr.lo, self.weights,
                                     lambda y, i: self.scorer.errors(y, tr.subset(i)), self.scorer.np_dtype, self.spec.fit)
            t_fit = time.perf_counter() - t0
            # Fitting already ran the fitted program on the training set, under the
            # interpreter; another backend's semantics needs its own run.
            stats = score_stats(err, tr.x) if self.spec.semantics == "interp" else self.scorer.score(fitted, "train")
            cost = self.cost(fitted)
            failure = ""
        except Exception as e:  # a candidate must never stop the search: it scores worst
            fitted, t_fit, cost = p, time.perf_counter() - t0, float(p.n_ops)
            stats = None
            failure = f"{type(e).__name__}: {e}".splitlines()[0] + " | " + traceback.format_exc(limit=2).splitlines()[-1]
        error = stats.max if stats else float("inf")
        mean = stats.mean if stats else float("inf")
        return Result(task.id, to_dict(fitted), task.parent, task.mutation, error, mean, cost,
                      t_fit, time.perf_counter() - t0, self.name, failure)

    def evaluate_batch(self, tasks: list[Task]) -> list[Result]:
        return [self.evaluate(t) for t in tasks]
