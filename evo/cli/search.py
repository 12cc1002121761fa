"""evo search TARGET ... | evo search --resume runs/NAME  (a thin wrapper over evo.search / evo.resume:
every default is SearchConfig's)"""
from __future__ import annotations

import os

import click

from primitives import OPS

from ..api import Run
from ..api import resume as resume_run
from ..api import search as run_search
from ..core.numbers import digits, fmt_error
from ..errors import EvoError
from ..evolution.config import ALGORITHMS, COSTS, SearchConfig, parse_duration

D = SearchConfig  # the defaults shown are the dataclass's own


@click.command()
@click.argument("target", required=False)
@click.option("--interval", metavar="A,B", help="Interval (default: the target's own).")
@click.option("--reals", is_flag=True,
              help="Reals mode: programs of + - * / as real-number functions with float64 constants, scored by "
                   "max relative error (significant digits), certified by interval arithmetic at the end.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", hidden=True,
              help="Alias: --dtype float64 is --reals.")
@click.option("--format", "number_format", metavar="FORMAT", default=D.platform, show_default=True,
              help="The number format (platform): float32, bfloat16, float16 (their inputs and outputs), "
                   "float32-bfloat16 (float32 in, bfloat16 out), float32-xla, reals.")
@click.option("--goal", metavar="GOAL", default=D.goal,
              help="Stop at the first verified member that meets it: faithful (output under 1 ulp), "
                   "correctly-rounded (bfloat16/float16: every input), or a max error.")
@click.option("--budget", metavar="DURATION",
              help="Wall-clock budget, e.g. 90s, 10m, 1h. No default: give it or --evals (the README's "
                   "quickstart and the Python API's evo.search use 3m).")
@click.option("--evals", type=int, help="Budget in evaluations (reproducible).")
@click.option("--population", type=int, default=D.population, show_default=True, help="Members per island.")
@click.option("--tournament", type=int, default=D.tournament, show_default=True,
              help="Members sampled to pick each parent (the best of the sample breeds).")
@click.option("--islands", type=int, default=D.islands, show_default=True,
              help="Populations evolving side by side; front members migrate between them.")
@click.option("--algorithm", default=D.algorithm, show_default=True, help=" | ".join(ALGORITHMS))
@click.option("--cost", default=D.cost, show_default=True, help=" | ".join(COSTS) + " (measured ns/element)")
@click.option("--semantics", default=D.semantics, show_default=True,
              help="Score as computed by interp (the definition) | llvm | xla (XLA's own: fma contraction, "
                   "flushed subnormals) | xla-exact.")
@click.option("--op-cost", metavar="OP=W,...", help="Per-op weights of the ops cost, e.g. div=4,fma=1 (default 1 each).")
@click.option("--seed", type=int, default=D.seed, show_default=True,
              help="Random seed: with --evals (and --deterministic across workers) a run is reproducible.")
@click.option("--name", help="Run name (default: TARGET-seedN; an expression's made from it, e.g. "
                             "sin-x-plus-1-HASH-seed0).")
@click.option("--out", type=click.Path(file_okay=False), default="runs", show_default=True,
              help="Parent directory of runs.")
@click.option("--workers", type=int, default=None, help="Ray workers (default: all cores); 0 = in-process.")
@click.option("--address", default=None, help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray).")
@click.option("--batch-size", type=int, default=D.batch_size, show_default=True, help="Children per worker task.")
@click.option("--deterministic", is_flag=True, help="Generation-synchronous: same front for any number of workers.")
@click.option("--verify-below", type=float, default=D.verify_below, show_default=True,
              help="Verify front members under this max ULP exhaustively (in the background, and at the end).")
@click.option("--checkpoint-every", type=float, default=D.checkpoint_every, show_default=True, help="Seconds.")
@click.option("--resume", "resume", type=click.Path(), help="Continue the run in this directory.")
@click.option("--quiet", "-q", is_flag=True, help="No live progress.")
def search(target: str | None, interval: str | None, reals: bool, dtype: str, number_format: str, goal: str,
           budget: str | None, evals: int | None,
           population: int, tournament: int, islands: int, algorithm: str, cost: str, semantics: str,
           op_cost: str | None, seed: int, name: str | None, out: str, workers: int | None,
           address: str | None, batch_size: int, deterministic: bool, verify_below: float,
           checkpoint_every: float, resume: str | None, quiet: bool) -> None:
    """Evolve float32 programs for TARGET from f(x) = x (--reals: real-number programs)."""
    if resume:
        run = resume_run(resume, workers=workers, address=address, progress=not quiet)
    else:
        if not target:
            raise EvoError("give a TARGET (exp2, exp, log2, log, erf or an expression in x), or --resume RUN")
        run = run_search(
            target, interval, parse_duration(budget) if budget else None, seed, workers, name=name, out=out,
            progress=not quiet, reals=reals or dtype == "float64", max_evals=evals, population=population,
            platform=number_format, goal=goal,
            tournament=tournament, islands=islands, algorithm=algorithm, cost=cost, semantics=semantics,
            cost_weights=parse_weights(op_cost) if op_cost else (), address=address or os.environ.get("RAY_ADDRESS"),
            batch_size=batch_size, deterministic=deterministic, verify_below=verify_below,
            checkpoint_every=checkpoint_every)
    if run.status == "interrupted":
        raise EvoError(f"interrupted; continue with: evo search --resume {run.path}")
    SUMMARIES[run.front.platform.display](run)


def summarize(run: Run) -> None:
    """A finished run: its rate, its front (each error labelled) and the verified figures."""
    st, f = run.stats, run.front
    click.echo(f"run        {run.path}  ({st.evals} evaluations in {st.elapsed:.0f} s, "
               f"{st.evals / max(st.elapsed, 1e-9):.1f}/s; fitting {100 * st.fit_seconds / max(st.eval_seconds, 1e-9):.0f}% "
               f"of evaluation time; {st.cache_hits} cache hits; {st.checks} exhaustive checks during the search)")
    click.echo(f"front      (max {f.unit}: the best known; on = exhaustive ({f.platform.exhaustive_over}), val "
               f"(validation sample of {_validation_size(f)}) or train (training set); sampled figures are lower bounds)")
    for m in f:
        click.echo(f"  #{m.id:<6} cost {m.cost:<5g} max {fmt_error(m.error):<9} on {m.error_on:<10} "
                   f"{m.expression[:100]}")
    checked = f.meta.get("checked") or []
    if checked:
        best: dict[int, dict] = {}
        for c in checked:
            v = float(c["max_ulp"])
            if c["ops"] not in best or v < float(best[c["ops"]]["max_ulp"]):
                best[c["ops"]] = c
        click.echo("verified   best exhaustive max per op count: " + "  ".join(
            f"{ops} ops {fmt_error(best[ops]['max_ulp'])} (#{best[ops]['id']})" for ops in sorted(best)))
    else:
        click.echo("verified   no member was checked exhaustively (none under --verify-below)")
    click.echo(f"see        evo front {run.path}")


def summarize_digits(run: Run) -> None:
    """Reals mode: digits (sampled) and the certified bound per front member."""
    st, f = run.stats, run.front
    click.echo(f"run        {run.path}  ({st.evals} evaluations in {st.elapsed:.0f} s, "
               f"{st.evals / max(st.elapsed, 1e-9):.1f}/s; reals mode)")
    click.echo("front      digits = -log10(max relative error of the real-number function); sampled on the "
               "training and validation points; certified = proven bound (evo verify --reals)")
    for m in f:
        cert = f"certified {digits(m.certified_max_rel):5.2f} (<= {m.certified_max_rel:.3g})" \
            if m.certified_max_rel else "not certified"
        click.echo(f"  #{m.id:<6} ops {m.cost:<4g} digits {digits(m.error):5.2f} (max rel {fmt_error(m.error):<9}) "
                   f"{cert:<32} {m.expression[:90]}")
    click.echo(f"see        evo front {run.path}; python -m evo.reals {run.path} (digits against the classical forms)")


def summarize_rounding(run: Run) -> None:
    """A small output format: per member, the largest distance from the correctly rounded
    value and, where checked on every input, how many results round wrongly."""
    st, f = run.stats, run.front
    fmt = f.platform.output_format
    click.echo(f"run        {run.path}  ({st.evals} evaluations in {st.elapsed:.0f} s, "
               f"{st.evals / max(st.elapsed, 1e-9):.1f}/s; {st.checks} exhaustive checks during the search)")
    click.echo(f"front      dist = the largest distance of a float32 result from the correctly rounded {fmt} "
               f"value, in {fmt} ulps (under 0.5 on every input: correctly rounded); checked = "
               f"{f.platform.exhaustive_over}")
    for m in f:
        e = m.exhaustive
        checked = (f"misrounded {e['not_correctly_rounded']:,} of {e['inputs']:,}, rounded max "
                   f"{fmt_error(e.get('rounded_max_ulp'))} ulp") if e else f"not checked (dist on {m.error_on})"
        click.echo(f"  #{m.id:<6} ops {m.cost:<4g} dist {fmt_error(m.error):<8} {checked:<46} {m.expression[:80]}")
    goal = f.meta.get("goal")
    if goal:
        click.echo(f"goal       {goal['goal']}: met by #{goal['id']} after {goal['evals']:,} evaluations "
                   f"({goal['seconds']:.0f} s)" if goal.get("id") is not None else f"goal       {goal['goal']}: not met")
    click.echo(f"see        evo front {run.path}")


# How a finished run is summed up, by how its platform displays errors.
SUMMARIES = {"ulp": summarize, "digits": summarize_digits, "rounding": summarize_rounding}


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
