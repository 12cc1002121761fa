"""The Python API: what the `evo` commands do, as functions for notebooks and scripts.

    import evo
    run = evo.search("exp2", budget="2m", seed=1)   # runs/exp2-seed1/, embedded Ray
    print(run.front.table())
    best = run.front.best(max_ulp=1.0)               # cheapest member verified < 1 ULP
    c_code = evo.export(best, lang="c", full_range=True)

Every command is a thin wrapper over these functions. Errors are EvoError (one line).
Ctrl-C stops a search cleanly: the run is checkpointed, `Run.status` says
"interrupted", and `evo.resume(run.path)` continues it. The target is resolved here,
once, and handed down to the search, its workers and its checks.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterable

from targets import Target, get_target

from .core.ir import Program
from .core.platform import Platform
from .errors import EvoError
from .evolution.config import SearchConfig, open_run, parse_duration
from .evolution.finish import STEPS
from .evolution.loop import Search
from .evolution.state import Stats
from .platforms import FLOAT32, REALS
from .runs.front import Front, load_front, write_plots
from .runs.member import Member
from .runs.store import RunStore
from .verification.result import VerifyResult as Verification


@dataclass(frozen=True)
class Run:
    """A run directory: its settings, its front, its counters and whether it finished."""

    path: Path
    config: SearchConfig
    front: Front
    stats: Stats
    status: str          # finished | interrupted | running | stopped (killed or crashed: resumable)

    def events(self) -> list[dict]:
        """Every event of the run (events.jsonl), oldest first."""
        return RunStore(self.path).read_events()

    def resume(self, **moves: Any) -> "Run":
        """Continue this run (see `resume`)."""
        return resume(self.path, **moves)

    def __repr__(self) -> str:
        return (f"Run({str(self.path)!r}, {self.status}, {self.stats.evals} evaluations, "
                f"{len(self.front)} front members)")


def search(target: str | Target, interval: tuple[float, float] | str | None = None, budget: str | float | None = "3m",
           seed: int = 0, workers: int | None = None, *, name: str | None = None, out: str | Path = "runs",
           progress: bool = True, reals: bool = False, **options: Any) -> Run:
    """Evolve programs for `target` from f(x) = x and return the finished run.

    target: a registered name (exp2, exp, log2, log, erf) or an mpmath expression in x
    (then `interval` is needed). budget: a duration ("90s", "10m", "1h") or seconds;
    `max_evals=N` instead gives a reproducible budget. workers: Ray workers (None: all
    cores, on an embedded local Ray; 0: in this process). options: any SearchConfig
    field (population, islands, algorithm, cost, verify_below, address, platform, ...).
    The run is written to `out/name` (default name TARGET-seedN; for an expression, one made
    from it: "sin(x)+1" -> sin-x-plus-1-HASH-seedN).
    reals=True: the reals platform (programs of + - * / judged as real-number functions by
    max relative error, front members certified by interval arithmetic at the end).
    """
    if reals:
        if options.get("platform", REALS.name) not in (REALS.name, FLOAT32.name):
            raise EvoError(f"reals mode is its own platform: give --reals or --format {options['platform']}, not both")
        options = options | {"platform": REALS.name}
    if isinstance(target, Target):
        t, target = target, target.expr if target.description == "custom" else target.name
        interval = interval or t.interval
    else:
        t = get_target(target, interval)  # before anything is written
    unknown = sorted(set(options) - ({f.name for f in fields(SearchConfig)} - {"budget_seconds"}))
    if unknown:
        raise EvoError(f"unknown search option: {unknown[0]!r}")
    if not (budget is None or isinstance(budget, (str, int, float))) or isinstance(budget, bool):
        raise EvoError(f"budget must be a duration ('90s', '10m', '1h') or seconds, got {budget!r}")
    seconds = parse_duration(budget) if isinstance(budget, str) else budget
    if options.get("max_evals") is not None and budget == "3m":
        seconds = None  # max_evals alone is the budget
    config = SearchConfig(target=target, interval=t.interval if interval is not None else None,
                          budget_seconds=seconds, seed=seed, workers=workers, **options)
    ground_truth(t, config)  # a target too slow to evaluate is rejected before anything is written
    store = RunStore.create(Path(out) / (name or default_run_name(target, seed)), config)
    return run_search(store, config, t, progress=progress)


_WORDS = {"**": "pow", "+": "plus", "-": "minus", "*": "times", "/": "over"}


def default_run_name(target: str, seed: int) -> str:
    """TARGET-seedN; for an expression, a name made from it and a short hash of it, so that
    each expression has its own run: "sin(x)+1" -> sin-x-plus-1-3c59dc-seed0."""
    if target.isidentifier():
        return f"{target}-seed{seed}"
    import ast
    import hashlib
    import re

    canonical = ast.unparse(ast.parse(target.strip(), mode="eval"))
    words = re.sub(r"\*\*|[-+*/]", lambda m: f" {_WORDS[m.group()]} ", canonical)
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", words).strip("-")[:40].strip("-")
    return f"{slug}-{hashlib.sha1(canonical.encode()).hexdigest()[:6]}-seed{seed}"


def ground_truth(t: Target, config: SearchConfig) -> None:
    """Build a search's ground truth (its training and validation points, cached on disk)
    within a time limit (targets.limits): over it, one line and no run directory."""
    from targets.limits import TRUTH_SECONDS, seconds, time_limit

    from .core.scoring import Scorer
    from .platforms import get_platform

    scorer = Scorer(t, get_platform(config.platform), config.metric, config.fixed_ref, config.validation_seed)
    lo, hi = t.interval
    with time_limit(seconds(TRUTH_SECONDS), f"the ground truth of {t.expr} on [{lo}, {hi}]"):
        scorer.train, scorer.validation


def resume(path: str | Path, workers: int | None = None, address: str | None = None, progress: bool = True) -> Run:
    """Continue a run from its last checkpoint (after Ctrl-C, a kill or a crash).
    workers / address (or $RAY_ADDRESS) move it elsewhere, e.g. onto a cluster."""
    store, config = open_run(Path(path))
    checkpoint = store.load_checkpoint()
    moved = {k: v for k, v in (("workers", workers), ("address", address or os.environ.get("RAY_ADDRESS")))
             if v is not None}
    if moved:
        config = SearchConfig.from_dict(config.to_dict() | moved)
    return run_search(store, config, checkpoint=checkpoint, progress=progress)


def run_search(store: RunStore, config: SearchConfig, target: Target | None = None, checkpoint: dict | None = None,
               progress: bool = True, monitor: Callable[[Search], None] | None = None,
               until: Callable[[Search], bool] | None = None, finish: bool = True) -> Run:
    """Run (or continue) the search of a run directory to its end: evolve (until the budget
    is spent or `until(search)` holds), then the platform's finishing steps (re-time a
    measured cost, verify or certify the front; none if finish is False), then the plots.
    A finishing step that fails says so in one line and the others still run. Ctrl-C
    checkpoints and returns (status interrupted). target: the config's, resolved (else here)."""
    from .evolution.monitor import Monitor

    t = target or get_target(config.target, config.interval)
    budget_text = f"{config.budget_seconds:g}s" if config.budget_seconds else f"{config.max_evals} evals"
    store.claim()
    try:
        try:
            s, interrupted = _evolve(store, config, t, checkpoint,
                                     Monitor(budget_text, enabled=progress and not monitor), monitor, until)
        except EvoError:
            if checkpoint is None:
                store.discard_if_unused()  # e.g. no Ray cluster there: the same command may be retried
            raise
        if not interrupted:
            try:
                for step in (s.platform.finish if finish else ()):
                    _finishing(step, lambda: STEPS[step](s, progress), store)
            except KeyboardInterrupt:
                interrupted = True
            s.checkpoint()
        if interrupted:
            store.event("interrupted", evals=s.stats.evals, elapsed=s.elapsed)
        else:
            _finishing("plots", lambda: write_plots(store.path), store)
            store.event("end", evals=s.stats.evals, elapsed=s.elapsed, cache_hits=s.stats.cache_hits,
                        fit_share=s.stats.fit_seconds / max(s.stats.eval_seconds, 1e-9))
    finally:
        store.close()
    return load_run(store.path)


def _finishing(step: str, run: Callable[[], None], store: RunStore) -> None:
    """One step at the end of a run: its failure is one line (and an event), never the run's."""
    try:
        run()
    except KeyboardInterrupt:
        raise
    except Exception as e:  # the run's results are kept whatever happens here
        why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")
        store.event("step-failed", step=step, error=why)
        print(f"evo: the {step} step failed ({why}); the run's results are kept", file=sys.stderr, flush=True)


def _evolve(store: RunStore, config: SearchConfig, target: Target, checkpoint: dict | None, live, monitor,
            until: Callable[[Search], bool] | None) -> tuple[Search, bool]:
    """The evolution itself, on its evaluator; (search, whether Ctrl-C stopped it)."""
    evaluator = make_evaluator(config, target)
    s: Search | None = None
    try:
        with live:
            s = Search(config, target, evaluator, store, monitor or live)
            if checkpoint:
                s.restore(checkpoint)
                store.event("resume", evals=s.stats.evals, elapsed=s.elapsed)
            try:
                s.run(until or (lambda _: False))
                s.finish_checks()  # the check in flight, before its workers go
            except KeyboardInterrupt:
                s.checkpoint()  # Ctrl-C loses nothing: resume continues from here
                return s, True
        return s, False
    finally:
        if s is not None:
            s.close()
        evaluator.close()


def make_evaluator(config: SearchConfig, target: Target):
    """In-process for workers=0, Ray actors otherwise."""
    from .evolution.evaluators import LocalEvaluator
    from .evolution.worker import EvalSpec

    spec = EvalSpec.of(config, target)
    if config.workers == 0 and not config.address:
        return LocalEvaluator(spec, batch_size=1 if not config.deterministic else config.batch_size)
    from .evolution.distributed import RayEvaluator

    return RayEvaluator(spec, workers=config.workers, address=config.address, batch_size=config.batch_size)


def load_run(path: str | Path) -> Run:
    """A run directory as a Run (its front, counters and status)."""
    store, config = open_run(Path(path))
    front = load_front(path)
    ck = store.path / "checkpoint.json"
    try:
        stats = Stats.from_dict(json.loads(ck.read_text())["state"]["stats"]) if ck.exists() else Stats()
    except (OSError, ValueError, KeyError, TypeError):
        stats = Stats()
    return Run(store.path, config, front, stats, store.status())


def verify(program: Program | Member, target: str | Target | None = None,
           interval: tuple[float, float] | str | None = None, full_range: bool = False,
           progress: Callable[[int, int], None] | None = None) -> Verification:
    """Check a float32 program on every float32 of the interval (a member: of its run's
    target); full_range: its full-range C export on all 2^32 inputs."""
    p, t = _program_and_target(program, target, interval)
    if not full_range:
        return _platform_of(program, None).verify(p, t, progress=progress)
    with tempfile.TemporaryDirectory(prefix="evo-verify-") as tmp:
        path = Path(tmp) / "full_range.c"
        path.write_text(FLOAT32.export(p, t, "c", full_range=True, name="evo_full_range"))
        return verify_c(path, "evo_full_range", t, full_range=True, progress=progress)


def verify_c(path: str | Path, symbol: str, target: str | Target, interval: tuple[float, float] | str | None = None,
             full_range: bool = False, progress: Callable[[int, int], None] | None = None) -> Verification:
    """Check `float symbol(float)` of a C file (gcc -O3 -march=native -std=c99) on every
    float32 of the target's interval, or all 2^32 inputs; with its special-value table."""
    from .verification.native import load_c

    return _check_function(load_c(path, symbol), target, interval, full_range, progress)


def verify_library(library: str, symbol: str, target: str | Target, interval: tuple[float, float] | str | None = None,
                   full_range: bool = False, progress: Callable[[int, int], None] | None = None) -> Verification:
    """Check a shared library's `float symbol(float)` (e.g. libm.so.6's expf) as verify_c does."""
    from .verification.native import load_library

    return _check_function(load_library(library, symbol), target, interval, full_range, progress)


def verify_jax(path: str | Path, symbol: str, target: str | Target, interval: tuple[float, float] | str | None = None,
               full_range: bool = False, progress: Callable[[int, int], None] | None = None) -> Verification:
    """Check a JAX function of a Python module (a native JAX export, or any function of a
    float32 array) under jax.jit, as verify_c does a C function: what XLA computes."""
    from .verification.xla import load_module, on_numpy, symbol_of, xla_version

    fn = symbol_of(load_module(path), symbol, str(path))
    return _check_function(on_numpy(fn), target, interval, full_range, progress, computed_by=xla_version())


def _check_function(fn: Callable, target: str | Target, interval: tuple[float, float] | str | None,
                    full_range: bool, progress: Callable[[int, int], None] | None, **options) -> Verification:
    """A float32 function on the target's interval or every input, and its special values."""
    from .codegen.fullrange import special_inputs
    from .verification.functions import check_function

    if full_range and interval is not None:
        raise EvoError("{--full-range} checks every float32 input: leave out {--interval}")
    t = target if isinstance(target, Target) else get_target(target, interval)
    return check_function(fn, t, full_range, progress, special_inputs(t), **options)


def certify(program: Program | Member, target: str | Target | None = None,
            interval: tuple[float, float] | str | None = None, progress: Callable[[int, int], None] | None = None):
    """Prove a bound on the max relative error of a reals-mode program's real-number function
    on the whole interval (interval arithmetic): a Certificate (ok False says why not)."""
    p, t = _program_and_target(program, target, interval)
    from .reals.certify import certify as prove

    return prove(p, t, progress=progress)


def export(member: Program | Member, lang: str = "c", full_range: bool = False, *,
           target: str | Target | None = None, name: str | None = None, reals: bool | None = None,
           exact: bool = False, xla_check: bool = True, progress: Callable[[int, int], None] | None = None) -> str:
    """Source code of a member (or a program, with its target) in C, JAX or NumPy,
    with a header stating its accuracy and where it came from. A member is exported as
    its run's platform writes it (a reals run's as float64 C or JAX with its certified
    bound); reals=True exports a bare program so. JAX is native float32 code, its error
    measured by running XLA over every input (cached; xla_check=False skips it, and the
    header says so); exact=True: the float64 emulation, bit-exact with the interpreter."""
    p, t = _program_and_target(member, target, None, "member")
    row = _platform_of(member, reals)
    m = member if isinstance(member, Member) else None
    source = (f"run {m.run}, member {m.id}" if m.run else f"member {m.id}") if m else "a program given in Python"
    prov = row.provenance(p, t, source, member=m) if m or row.name != FLOAT32.name else None
    return row.export(p, t, lang, full_range=full_range, name=name, provenance=prov,
                      **({"exact": exact, "xla_check": xla_check, "progress": progress} if lang == "jax" else {}))


def _platform_of(x: Program | Member, reals: bool | None) -> Platform:
    """The platform a program is judged on: its run's for a member, else float32 (reals: reals)."""
    if reals is not None:
        return REALS if reals else FLOAT32
    if isinstance(x, Member):
        if x.platform is not None:
            return x.platform
        if x.certified_max_rel is not None:
            return REALS
    return FLOAT32


def baselines(target: str | Target, degrees: Iterable[int] | str = range(2, 9), **options: Any) -> list:
    """Classical approximations (Taylor, minimax, Padé, rational minimax; Horner and fma
    forms) of `target`, as float32 programs scored on the validation sample."""
    from .classical.baselines import parse_degrees

    t = target if isinstance(target, Target) else get_target(target)
    return FLOAT32.baselines(t, degrees=parse_degrees(degrees) if isinstance(degrees, str) else degrees, **options)


def _program_and_target(p: Program | Member, target: str | Target | None,
                        interval: tuple[float, float] | str | None, param: str = "program") -> tuple[Program, Target]:
    check_program(p, param)
    if isinstance(p, Member):
        t = target if isinstance(target, Target) else get_target(target, interval) if target else p.target
        if t is None:
            raise EvoError(f"member {p.id} has no target: give one (target=...)")
        return p.program, t
    if target is None:
        raise EvoError("a program needs its target (target='exp2', or an expression in x with an interval)")
    return p, target if isinstance(target, Target) else get_target(target, interval)


def check_program(p: Any, param: str) -> None:
    """A Program or a Member, else one line naming the parameter (None: what front.best() gives
    when no member qualifies)."""
    if p is None:
        raise EvoError(f"no member to use: {param} is None (front.best(max_ulp=...) returns None when no member "
                       "is verified under max_ulp; lower the bar, or best(verified=False) for sampled figures)")
    if not isinstance(p, (Program, Member)):
        shown = repr(p) if len(repr(p)) <= 40 else repr(p)[:37] + "..."
        raise EvoError(f"{param} must be a Program or a front Member (run.front[i], evo.loads(text)), "
                       f"got {type(p).__name__} {shown}")


__all__ = ["Run", "search", "resume", "load_run", "verify", "verify_c", "verify_library", "verify_jax", "certify",
           "export",
           "baselines", "Verification", "make_evaluator", "run_search"]
