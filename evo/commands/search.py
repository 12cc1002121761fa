"""evo search TARGET ... | evo search --resume runs/NAME  (a thin wrapper over evo.api)"""
from __future__ import annotations

import os

import click

from primitives import OPS

from ..api import Run, resume as resume_run, run_search
from ..config import SearchConfig, parse_duration
from ..errors import EvoError
from ..evolution import run_dir
from ..reals import REALS_OPS
from ..store import RunStore
from ._common import fmt_ulp


@click.command()
@click.argument("target", required=False)
@click.option("--interval", metavar="A,B", help="Interval (default: the target's own).")
@click.option("--reals", is_flag=True,
              help="Reals mode: programs of + - * / as real-number functions with float64 constants, scored by "
                   "max relative error (significant digits), certified by interval arithmetic at the end.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", hidden=True,
              help="Alias: --dtype float64 is --reals.")
@click.option("--budget", metavar="DURATION", help="Wall-clock budget, e.g. 90s, 10m, 1h.")
@click.option("--evals", type=int, help="Budget in evaluations (reproducible).")
@click.option("--population", type=int, default=64, show_default=True, help="Members per island.")
@click.option("--tournament", type=int, default=8, show_default=True)
@click.option("--islands", type=int, default=SearchConfig.islands, show_default=True,
              help="Populations evolving side by side; front members migrate between them.")
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
              help="Verify front members under this max ULP exhaustively (in the background, and at the end).")
@click.option("--checkpoint-every", type=float, default=30.0, show_default=True, help="Seconds.")
@click.option("--resume", "resume", type=click.Path(), help="Continue the run in this directory.")
@click.option("--quiet", "-q", is_flag=True, help="No live progress.")
def search(target: str | None, interval: str | None, reals: bool, dtype: str, budget: str | None, evals: int | None,
           population: int, tournament: int, islands: int, algorithm: str, cost: str, semantics: str,
           op_cost: str | None, seed: int, name: str | None, out: str | None, workers: int | None,
           address: str | None, batch_size: int, deterministic: bool, verify_below: float,
           checkpoint_every: float, resume: str | None, quiet: bool) -> None:
    """Evolve float32 programs for TARGET from f(x) = x (--reals: real-number programs)."""
    if resume:
        run = resume_run(resume, workers=workers, address=address, progress=not quiet)
    else:
        if not target:
            raise EvoError("give a TARGET (exp2, exp, log2, log, erf or an expression in x), or --resume RUN")
        from targets import get_target, parse_interval

        iv = parse_interval(interval) if interval else None
        get_target(target, iv)  # validate before anything is written
        reals = reals or dtype == "float64"
        config = SearchConfig(
            target=target, interval=iv, dtype="float64" if reals else "float32",
            **({"ops": REALS_OPS} if reals else {}), algorithm=algorithm, population=population,
            tournament=tournament, islands=islands, budget_seconds=parse_duration(budget) if budget else None,
            max_evals=evals, seed=seed, workers=workers, address=address or os.environ.get("RAY_ADDRESS"),
            batch_size=batch_size, deterministic=deterministic, cost=cost, semantics=semantics,
            cost_weights=parse_weights(op_cost) if op_cost else (), verify_below=verify_below,
            checkpoint_every=checkpoint_every)
        default_name = f"{target if target.isidentifier() else 'custom'}-seed{seed}"
        store = RunStore.create(run_dir(out, name or default_name), config)
        run = run_search(store, config, progress=not quiet)
    if run.status == "interrupted":
        raise EvoError(f"interrupted; continue with: evo search --resume {run.path}")
    summarize(run)


def summarize(run: Run) -> None:
    if run.config.reals:
        return summarize_reals(run)
    st, f = run.stats, run.front
    click.echo(f"run        {run.path}  ({st.evals} evaluations in {st.elapsed:.0f} s, "
               f"{st.evals / max(st.elapsed, 1e-9):.1f}/s; fitting {100 * st.fit_seconds / max(st.eval_seconds, 1e-9):.0f}% "
               f"of evaluation time; {st.cache_hits} cache hits; {st.checks} exhaustive checks during the search)")
    click.echo(f"front      (max {f.unit}: the best known; on = exhaustive (every float32), val (validation "
               f"sample of {_validation_size(f)}) or train (training set); sampled figures are lower bounds)")
    for m in f:
        click.echo(f"  #{m.id:<6} cost {m.cost:<5g} max {fmt_ulp(m.error):<9} on {m.error_on:<10} "
                   f"{m.expression[:100]}")
    checked = f.meta.get("checked") or []
    if checked:
        best: dict[int, dict] = {}
        for c in checked:
            v = float(c["max_ulp"])
            if c["ops"] not in best or v < float(best[c["ops"]]["max_ulp"]):
                best[c["ops"]] = c
        click.echo("verified   best exhaustive max per op count: " + "  ".join(
            f"{ops} ops {fmt_ulp(best[ops]['max_ulp'])} (#{best[ops]['id']})" for ops in sorted(best)))
    else:
        click.echo("verified   no member was checked exhaustively (none under --verify-below)")
    click.echo(f"see        evo front {run.path}")


def summarize_reals(run: Run) -> None:
    """Reals mode: digits (sampled) and the certified bound per front member."""
    from ..reals import digits

    st, f = run.stats, run.front
    click.echo(f"run        {run.path}  ({st.evals} evaluations in {st.elapsed:.0f} s, "
               f"{st.evals / max(st.elapsed, 1e-9):.1f}/s; reals mode)")
    click.echo("front      digits = -log10(max relative error of the real-number function); sampled on the "
               "training and validation points; certified = proven bound (evo verify --reals)")
    for m in f:
        cert = f"certified {digits(m.certified_max_rel):5.2f} (<= {m.certified_max_rel:.3g})" \
            if m.certified_max_rel else "not certified"
        click.echo(f"  #{m.id:<6} ops {m.cost:<4g} digits {digits(m.error):5.2f} (max rel {fmt_ulp(m.error):<9}) "
                   f"{cert:<32} {m.expression[:90]}")
    click.echo(f"see        evo front {run.path}; python -m evo.reals {run.path} (digits against the classical forms)")


def _validation_size(f) -> str:
    sizes = {m.validation.n for m in f if m.validation and m.validation.n}
    return f"{sizes.pop():,} points" if len(sizes) == 1 else "sampled points"


def parse_weights(text: str) -> tuple[tuple[str, float], ...]:
    """'div=4,fma=1' -> (("div", 4.0), ("fma", 1.0))."""
    out = []
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            w = float(value)
        except ValueError:
            raise EvoError(f"--op-cost {text!r}: expected OP=WEIGHT pairs, e.g. div=4,fma=1") from None
        if name.strip() not in OPS:
            raise EvoError(f"unknown op {name.strip()!r} in --op-cost (known: {', '.join(OPS)})")
        if not w >= 0:
            raise EvoError(f"--op-cost {text!r}: weights must be >= 0")
        out.append((name.strip(), w))
    return tuple(out)
