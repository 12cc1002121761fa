"""evo search TARGET ... | evo search --resume runs/NAME"""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..config import SearchConfig, parse_duration, parse_weights
from ..errors import EvoError
from ..monitor import Monitor
from ..progress import progress_bar
from ..search import Search, remeasure_front, run_dir, spec_for, verify_front
from ..store import RunStore
from ._common import fmt_ulp


def make_evaluator(config: SearchConfig):
    """In-process for --workers 0, Ray actors otherwise."""
    from ..evaluators import LocalEvaluator

    if config.workers == 0 and not config.address:
        return LocalEvaluator(spec_for(config), batch_size=1 if not config.deterministic else config.batch_size)
    from ..distributed import RayEvaluator

    return RayEvaluator(spec_for(config), workers=config.workers, address=config.address,
                        batch_size=config.batch_size)


@click.command()
@click.argument("target", required=False)
@click.option("--interval", metavar="A,B", help="Interval (default: the target's own).")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option("--budget", metavar="DURATION", help="Wall-clock budget, e.g. 90s, 10m, 1h.")
@click.option("--evals", type=int, help="Budget in evaluations (reproducible).")
@click.option("--population", type=int, default=64, show_default=True)
@click.option("--tournament", type=int, default=8, show_default=True)
@click.option("--algorithm", default="regularized", show_default=True, help="regularized | nsga2")
@click.option("--cost", default="ops", show_default=True, help="ops | xla | llvm (measured ns/element)")
@click.option("--semantics", default="interp", show_default=True,
              help="Score as computed by interp (the definition) | llvm | xla (XLA's own: fma contraction, "
                   "flushed subnormals) | xla-exact.")
@click.option("--op-cost", metavar="OP=W,...", help="Per-op weights of the ops cost, e.g. div=4,fma=1 (default 1 each).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--name", help="Run name (default: TARGET-seedN).")
@click.option("--out", type=click.Path(file_okay=False), help="Parent directory of runs (default: runs).")
@click.option("--workers", type=int, default=None, help="Ray workers (default: all cores); 0 = in-process.")
@click.option("--address", default=None, help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray).")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Children per worker task.")
@click.option("--deterministic", is_flag=True, help="Generation-synchronous: same front for any number of workers.")
@click.option("--verify-below", type=float, default=2.0, show_default=True,
              help="At the end, verify front members under this max ULP exhaustively.")
@click.option("--checkpoint-every", type=float, default=30.0, show_default=True, help="Seconds.")
@click.option("--resume", "resume", type=click.Path(), help="Continue the run in this directory.")
@click.option("--quiet", "-q", is_flag=True, help="No live progress.")
def search(target: str | None, interval: str | None, dtype: str, budget: str | None, evals: int | None,
           population: int, tournament: int, algorithm: str, cost: str, semantics: str, op_cost: str | None, seed: int, name: str | None,
           out: str | None, workers: int | None, address: str | None, batch_size: int, deterministic: bool,
           verify_below: float, checkpoint_every: float, resume: str | None, quiet: bool) -> None:
    """Evolve float32 programs for TARGET from f(x) = x."""
    if resume:
        store, config = RunStore.open(Path(resume))
        ck = store.load_checkpoint()
        # Where to evaluate may change on resume (e.g. onto a cluster): --workers, --address, $RAY_ADDRESS.
        moved = {k: v for k, v in (("workers", workers), ("address", address or os.environ.get("RAY_ADDRESS")))
                 if v is not None}
        if moved:
            config = SearchConfig.from_dict(config.to_dict() | moved)
    else:
        if not target:
            raise EvoError("give a TARGET (exp2, exp, log2, log, erf or an expression in x), or --resume RUN")
        from targets import get_target, parse_interval

        iv = parse_interval(interval) if interval else None
        get_target(target, iv)  # validate before anything is written
        config = SearchConfig(
            target=target, interval=iv, dtype=dtype, algorithm=algorithm, population=population,
            tournament=tournament, budget_seconds=parse_duration(budget) if budget else None, max_evals=evals,
            seed=seed, workers=workers, address=address or os.environ.get("RAY_ADDRESS"),
            batch_size=batch_size, deterministic=deterministic, cost=cost, semantics=semantics,
            cost_weights=parse_weights(op_cost) if op_cost else (),
            verify_below=verify_below,
            checkpoint_every=checkpoint_every)
        default_name = f"{target if target.isidentifier() else 'custom'}-seed{seed}"
        store = RunStore.create(run_dir(out, name or default_name), config)
        ck = None
    budget_text = f"{config.budget_seconds:g}s" if config.budget_seconds else f"{config.max_evals} evals"
    evaluator = make_evaluator(config)
    try:
        with Monitor(budget_text, enabled=not quiet) as monitor:
            s = Search(config, evaluator, store, monitor)
            if ck:
                s.restore(ck)
                store.event("resume", evals=s.stats.evals, elapsed=s.elapsed)
            try:
                s.run()
            except KeyboardInterrupt:
                s.checkpoint()  # Ctrl-C loses nothing: resume with --resume
                raise EvoError(f"interrupted; continue with: evo search --resume {store.path}") from None
    finally:
        evaluator.close()
    remeasure_front(s)
    verify_front(s, config.verify_below,
                 (lambda label, total: progress_bar(label, total)) if not quiet else None)
    store.event("end", evals=s.stats.evals, elapsed=s.elapsed, cache_hits=s.stats.cache_hits,
                fit_share=s.stats.fit_seconds / max(s.stats.eval_seconds, 1e-9))
    s.checkpoint()
    from ..plots import plot_run

    plot_run(store.path)
    store.close()
    summarize(s, store.path)


def summarize(s: Search, path: Path) -> None:
    st = s.stats
    click.echo(f"run        {path}  ({st.evals} evaluations in {s.elapsed:.0f} s, "
               f"{st.evals / max(s.elapsed, 1e-9):.1f}/s; fitting {100 * st.fit_seconds / max(st.eval_seconds, 1e-9):.0f}% "
               f"of evaluation time; {st.cache_hits} cache hits)")
    click.echo(f"front      (validation max {s.scorer.unit} on {s.scorer.validation.x.size} sampled points; "
               "exhaustive where verified)")
    for m in s.front():
        click.echo(f"  #{m['id']:<6} cost {m['cost']:<5g} max {fmt_ulp(m.get(f'max_{s.scorer.unit}')):<9} "
                   f"exhaustive {fmt_ulp(m['exhaustive_max_ulp']):<8} {m['expression'][:100]}")
    click.echo(f"see        evo front {path}")
