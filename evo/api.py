"""The Python API: what the `evo` commands do, as functions for notebooks and scripts.

    import evo
    run = evo.search("exp2", budget="2m", seed=1)   # runs/exp2-seed1/, embedded Ray
    print(run.front.table())
    best = run.front.best(max_ulp=1.0)               # cheapest member verified < 1 ULP
    c_code = evo.export(best, lang="c", full_range=True)

Every command is a thin wrapper over these functions. Errors are EvoError (one line).
Ctrl-C stops a search cleanly: the run is checkpointed, `Run.status` says
"interrupted", and `evo.resume(run.path)` continues it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from targets import Target, get_target

from .config import SearchConfig, parse_duration
from .errors import EvoError
from .evolution import Search, remeasure_front, run_dir
from .ir import Program
from .member import Member
from .runs import Front, load_front
from .state import Stats
from .store import RunStore
from .verify import VerifyResult as Verification


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
    field (population, islands, algorithm, cost, verify_below, address, ...).
    The run is written to `out/name` (default name TARGET-seedN).
    reals=True: reals mode (programs of + - * / judged as real-number functions by max
    relative error, front members certified by interval arithmetic at the end; evo.reals).
    """
    if reals:
        from .reals import REALS_OPS

        options = {"ops": REALS_OPS} | options | {"dtype": "float64"}
    if isinstance(target, Target):
        t, target = target, target.expr if target.description == "custom" else target.name
        interval = interval or t.interval
    else:
        t = get_target(target, interval)  # before anything is written
    seconds = parse_duration(budget) if isinstance(budget, str) else budget
    if options.get("max_evals") is not None and budget == "3m":
        seconds = None  # max_evals alone is the budget
    try:
        config = SearchConfig(target=target, interval=t.interval if interval is not None else None,
                              budget_seconds=seconds, seed=seed, workers=workers, **options)
    except TypeError as e:
        raise EvoError(f"unknown search option: {str(e).rsplit(' ', 1)[-1]}") from None
    default = f"{target if target.isidentifier() else 'custom'}-seed{seed}"
    store = RunStore.create(Path(out) / (name or default), config)
    return run_search(store, config, progress=progress)


def resume(path: str | Path, workers: int | None = None, address: str | None = None, progress: bool = True) -> Run:
    """Continue a run from its last checkpoint (after Ctrl-C, a kill or a crash).
    workers / address (or $RAY_ADDRESS) move it elsewhere, e.g. onto a cluster."""
    store, config = RunStore.open(Path(path))
    checkpoint = store.load_checkpoint()
    moved = {k: v for k, v in (("workers", workers), ("address", address or os.environ.get("RAY_ADDRESS")))
             if v is not None}
    if moved:
        config = SearchConfig.from_dict(config.to_dict() | moved)
    return run_search(store, config, checkpoint, progress=progress)


def run_search(store: RunStore, config: SearchConfig, checkpoint: dict | None = None, progress: bool = True,
               monitor: Callable[[Search], None] | None = None,
               progress_bar: Callable[[str, int], Any] | None = None,
               until: Callable[[Search], bool] | None = None, final_checks: bool = True) -> Run:
    """Run (or continue) the search of a run directory to its end: evolve (until the
    budget is spent or `until(search)` holds), re-time a measured cost, verify the front
    (unless final_checks is False), plot. Ctrl-C checkpoints and returns (status interrupted)."""
    from .monitor import Monitor
    from .progress import progress_bar as default_bar

    budget_text = f"{config.budget_seconds:g}s" if config.budget_seconds else f"{config.max_evals} evals"
    store.claim()
    try:
        try:
            s, interrupted = _evolve(store, config, checkpoint,
                                     Monitor(budget_text, enabled=progress and not monitor), monitor, until)
        except EvoError:
            if checkpoint is None:
                store.discard_if_unused()  # e.g. no Ray cluster there: the same command may be retried
            raise
        if not interrupted:
            try:
                remeasure_front(s)
                bar = progress_bar or ((lambda label, total: default_bar(label, total)) if progress else None)
                if final_checks:
                    s.verify_front(config.verify_below, bar)
                    if config.reals:
                        _certify_front(s, progress)
            except KeyboardInterrupt:
                interrupted = True
            s.checkpoint()
        if interrupted:
            store.event("interrupted", evals=s.stats.evals, elapsed=s.elapsed)
        else:
            store.event("end", evals=s.stats.evals, elapsed=s.elapsed, cache_hits=s.stats.cache_hits,
                        fit_share=s.stats.fit_seconds / max(s.stats.eval_seconds, 1e-9))
            from .plots import plot_run

            plot_run(store.path)
    finally:
        store.close()
    return load_run(store.path)


def _certify_front(s: Search, progress: bool) -> None:
    """Reals mode: prove a bound on each front member's max relative error (evo.certify).
    A failure to certify one member is recorded, never fatal to the run."""
    from .certify import certify_front

    try:
        certify_front(s, progress)
    except Exception as e:  # the run's results are kept whatever happens here
        if s.store:
            s.store.event("certify-error", error=f"{type(e).__name__}: {e}")


def _evolve(store: RunStore, config: SearchConfig, checkpoint: dict | None, live, monitor,
            until: Callable[[Search], bool] | None) -> tuple[Search, bool]:
    """The evolution itself, on its evaluator; (search, whether Ctrl-C stopped it)."""
    evaluator = make_evaluator(config)
    s: Search | None = None
    try:
        with live:
            s = Search(config, evaluator, store, monitor or live)
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


def make_evaluator(config: SearchConfig):
    """In-process for workers=0, Ray actors otherwise."""
    from .evaluators import LocalEvaluator
    from .worker import spec_for

    spec = spec_for(config)
    if config.workers == 0 and not config.address:
        return LocalEvaluator(spec, batch_size=1 if not config.deterministic else config.batch_size)
    from .distributed import RayEvaluator

    return RayEvaluator(spec, workers=config.workers, address=config.address, batch_size=config.batch_size)


def load_run(path: str | Path) -> Run:
    """A run directory as a Run (its front, counters and status)."""
    store, config = RunStore.open(Path(path))
    front = load_front(path)
    ck = store.path / "checkpoint.json"
    try:
        stats = Stats.from_dict(json.loads(ck.read_text())["state"]["stats"]) if ck.exists() else Stats()
    except (OSError, ValueError, KeyError, TypeError):
        stats = Stats()
    return Run(store.path, config, front, stats, store.status())


def verify(program: Program | Member, target: str | Target | None = None,
           interval: tuple[float, float] | str | None = None,
           progress: Callable[[int, int], None] | None = None) -> Verification:
    """Check a program on every float32 of the interval (a member: of its run's target)."""
    p, t = _program_and_target(program, target, interval)
    from .verify import verify_program

    return verify_program(p, t, progress=progress)


def export(member: Program | Member, lang: str = "c", full_range: bool = False, *,
           target: str | Target | None = None, name: str | None = None, reals: bool | None = None) -> str:
    """Source code of a member (or a program, with its target) in C, JAX or NumPy,
    with a header stating its accuracy and where it came from. reals: a reals-mode
    program as float64 C or JAX with its certified bound (default: a member of a reals run)."""
    from .export import export_source

    p, t = _program_and_target(member, target, None)
    if reals is None:
        reals = isinstance(member, Member) and (member.certified_max_rel is not None or _reals_run(member))
    if reals:
        from .export.reals import measured_provenance

        source = (f"run {member.run}, member {member.id}" if member.run else f"member {member.id}") \
            if isinstance(member, Member) else "a program given in Python"
        prov = measured_provenance(p, t, source, member.certified_max_rel if isinstance(member, Member) else None)
        return export_source(p, t, lang, full_range=full_range, name=name, provenance=prov)
    prov = provenance(member) if isinstance(member, Member) else None
    return export_source(p, t, lang, full_range=full_range, name=name, provenance=prov)


def _reals_run(m: Member) -> bool:
    """Whether a member comes from a reals-mode run (its run's config says so)."""
    if not m.run:
        return False
    try:
        return RunStore.open(Path(m.run))[1].reals
    except EvoError:
        return False


def provenance(m: Member, seed: int | None = None):
    """What an export header says of a member: its exhaustive max where verified, else
    its validation max (marked sampled), and where it came from."""
    from .export import Provenance

    if m.exhaustive is not None:
        max_ulp, inputs, exact = m.exhaustive_max, m.exhaustive.get("inputs"), True
    else:
        v = m.validation
        max_ulp, inputs, exact = (v.max, v.n or None, False) if v else (None, None, False)
    source = f"run {m.run}, member {m.id}" if m.run else f"member {m.id}"
    return Provenance(source=source, max_ulp=max_ulp, exhaustive=exact, inputs=inputs, run=m.run,
                      member=str(m.id), seed=seed)


def baselines(target: str | Target, degrees: Iterable[int] | str = range(2, 9), **options: Any) -> list:
    """Classical approximations (Taylor, minimax, Padé, rational minimax; Horner and fma
    forms) of `target`, as float32 programs scored on the validation sample."""
    from .baselines import baselines as build, parse_degrees

    t = target if isinstance(target, Target) else get_target(target)
    return build(t, parse_degrees(degrees) if isinstance(degrees, str) else degrees, **options)


def _program_and_target(p: Program | Member, target: str | Target | None,
                        interval: tuple[float, float] | str | None) -> tuple[Program, Target]:
    if isinstance(p, Member):
        t = target if isinstance(target, Target) else get_target(target, interval) if target else p.target
        if t is None:
            raise EvoError(f"member {p.id} has no target: give one (target=...)")
        return p.program, t
    if target is None:
        raise EvoError("a program needs its target (target='exp2', or an expression in x with an interval)")
    return p, target if isinstance(target, Target) else get_target(target, interval)


__all__ = ["Run", "search", "resume", "load_run", "verify", "export", "baselines", "Verification",
           "make_evaluator", "run_search"]
