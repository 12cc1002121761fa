"""Evaluating children: fit constants, score, cost. Runs in the driver (`--workers 0`)
or inside Ray actors; everything here is picklable and free of driver state.
"""
from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from targets import Target

from ..core.ir import Program, from_dict, to_dict
from ..core.platform import Platform
from ..core.scoring import PointSet, Scorer
from ..core.scoring import (
    stats as score_stats,  # `stats` names the per-child figures below
)
from ..fit.config import FitConfig
from ..fit.lm import numpy_fallback
from ..fit.native import native
from ..platforms import get_platform
from .mutate import random_constant
from .training import Extra, with_extra

if TYPE_CHECKING:
    from .config import SearchConfig


@dataclass(frozen=True)
class EvalSpec:
    """What a worker needs to evaluate children (small, picklable)."""

    target: Target                    # resolved once by the driver (it pickles without its compiled evaluators)
    platform: Platform                # the search's number format (evo.platforms)
    metric: str = ""
    fixed_ref: float = 1.5
    validation_seed: int = 1          # which random validation points
    fit: FitConfig = field(default_factory=FitConfig)
    cost: str = "ops"                 # ops | xla | llvm
    cost_weights: tuple[tuple[str, float], ...] = ()
    semantics: str = "interp"         # score under: interp | xla | llvm
    second_start: float = 0.0         # share of children fitted again from fresh constants

    @staticmethod
    def of(config: "SearchConfig", target: "Target") -> "EvalSpec":
        """The part of a search's settings a worker needs, for the target the search resolved."""
        return EvalSpec(target=target, platform=get_platform(config.platform), metric=config.metric,
                        fixed_ref=config.fixed_ref, validation_seed=config.validation_seed, fit=config.fit,
                        cost=config.cost, cost_weights=config.cost_weights, semantics=config.semantics,
                        second_start=config.second_start)

    def scorer(self) -> Scorer:
        """The scorer of this search: its platform's evaluator, or the arithmetic of a
        backend (`semantics`)."""
        from ..backends import run_backend

        run = None if self.semantics == "interp" else partial(run_backend, backend=self.semantics)
        return Scorer(self.target, self.platform, self.metric, self.fixed_ref, self.validation_seed, run=run)


@dataclass(frozen=True)
class Task:
    id: int
    program: dict
    parent: int | None
    mutation: str
    island: int = 0
    # The grown training points. Every task of a batch holds the same object, which a
    # batch's pickle (Ray) then carries once.
    training: Extra | None = None
    # Reals mode: run the constants' least-squares fit to convergence if the quick fit's max
    # error is under this (FitConfig.reals_lm_below; None: the spec's).
    deep_below: float | None = None


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
    argmax: float = float("nan")   # training input of the max error
    island: int = 0
    train_version: int = 0  # the training set's version it was fitted and scored on
    train_inputs: int = 0
    numpy_fit: bool = False  # the compiled fitter could not run it (an op it lacks): numpy fitted it


def start_xla_on_one_core() -> None:
    """XLA sizes its thread pool once per process, at its first compile. Started on
    one core it keeps each kernel's loop whole, as jnp.exp2's is: without this, a
    10,000-element kernel is split over threads and timed slower and noisier."""
    import jax

    from ..backends.timing import one_core

    with one_core():
        jax.jit(lambda v: v + 1)(np.float32(0)).block_until_ready()


class Worker:
    """Holds the scorer (ground truth loaded once) and evaluates batches."""

    def __init__(self, spec: EvalSpec) -> None:
        self.spec = spec
        self.scorer = spec.scorer()
        if "xla" in (spec.cost, spec.semantics):
            start_xla_on_one_core()
        if spec.fit.native:
            native()  # the compiled fitter's one compile (~0.5 s), before the first child rather than in it
        self._training: tuple[int, PointSet, np.ndarray] | None = None
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def training(self, extra: Extra | None) -> tuple[int, PointSet, np.ndarray]:
        """(version, points, weights) of the training set a task was made for (kept per version)."""
        version = extra.version if extra is not None else 0
        if self._training is None or self._training[0] != version:
            pts = with_extra(self.scorer.train, extra)
            self._training = (version, pts, self.scorer.weights(pts))
        return self._training

    def cost(self, p: Program) -> float:
        if self.spec.cost == "ops":
            return p.cost(dict(self.spec.cost_weights))
        from ..backends.timing import kernel_cost

        return kernel_cost(p, self.spec.cost, self.scorer.target)

    def fit(self, p: Program, tr: PointSet, weights: np.ndarray, cfg: FitConfig) -> tuple[Program, np.ndarray]:
        return self.spec.platform.fit(p, tr, weights, lambda y, i: self.scorer.errors(y, tr.subset(i)), cfg)

    def evaluate(self, task: Task) -> Result:
        t0 = time.perf_counter()
        p = from_dict(task.program)
        version, tr, weights = self.training(task.training)
        cfg = self.spec.fit if task.deep_below is None else replace(self.spec.fit, reals_lm_below=task.deep_below)
        try:
            fitted, err = self.fit(p, tr, weights, cfg)
            rng = np.random.default_rng(task.id)
            if p.const_slots and rng.random() < self.spec.second_start:
                # A second start from fresh constants: a new structure's best constants
                # may lie far from those it inherited.
                again, err2 = self.fit(p.with_constants([random_constant(rng) for _ in p.const_slots]), tr, weights,
                                       cfg)
                if err2.max() < err.max():
                    fitted, err = again, err2
            t_fit = time.perf_counter() - t0
            # Fitting already ran the fitted program on the training set, under the
            # interpreter; another backend's semantics needs its own run.
            stats = score_stats(err, tr.x) if self.spec.semantics == "interp" else self.scorer.score(fitted, tr)
            cost = self.cost(fitted)
            failure = ""
        except Exception as e:  # a candidate must never stop the search: it scores worst
            fitted, t_fit, cost = p, time.perf_counter() - t0, float(p.n_ops)
            stats = None
            failure = f"{type(e).__name__}: {e}".splitlines()[0] + " | " + traceback.format_exc(limit=2).splitlines()[-1]
        error = stats.max if stats else float("inf")
        mean = stats.mean if stats else float("inf")
        return Result(task.id, to_dict(fitted), task.parent, task.mutation, error, mean, cost,
                      t_fit, time.perf_counter() - t0, self.name, failure,
                      argmax=stats.argmax if stats else float("nan"), island=task.island,
                      train_version=version, train_inputs=int(tr.x.size), numpy_fit=numpy_fallback(p, cfg))

    def evaluate_batch(self, tasks: list[Task]) -> list[Result]:
        return [self.evaluate(t) for t in tasks]
