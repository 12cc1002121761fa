"""evo export: a run's front member, or a program file, as C, JAX or NumPy source."""
from __future__ import annotations

from pathlib import Path

import click

from targets import Target

from ..core.ir import Program
from ..core.numbers import fmt_error
from ..core.platform import Platform
from ..core.progress import progress_bar
from ..errors import EvoError
from ..platforms import FLOAT32, PLATFORMS, REALS
from ._common import load_program, resolve_target, target_options

LANGS = tuple(dict.fromkeys(lang for p in PLATFORMS.values() for lang in p.export_langs))


def run_member(run_dir: str, member_id: str) -> tuple[Program, Target, Platform, object]:
    """A run's front member (by its exact id): its program, target, platform and what its header says."""
    return described_member(run_dir, member_id)[:4]


def described_member(run_dir: str, member_id: str) -> tuple[Program, Target, Platform, object, str]:
    """run_member, and what the "wrote" line says of the member."""
    from ..runs.front import load_front

    front = load_front(run_dir)
    m = front.member(member_id)
    prov = front.platform.provenance(m.program, front.target, f"run {run_dir}, member {m.id}", member=m,
                                     seed=front.meta.get("seed"))
    what = f"member {m.id}, {error_phrase(m.error, front.unit, m.error_on, front.target)}"
    return m.program, front.target, front.platform, prov, what


def error_phrase(error: float | None, unit: str, on: str, target: Target) -> str:
    """"max error 0.9013 ULP on [0, 1] (exhaustive)": an error figure, its unit and where it was measured."""
    if error is None:
        return "error not measured"
    lo, hi = target.interval
    figure = f"max error {fmt_error(error)} ULP" if unit == "ulp" else f"max relative error {fmt_error(error)}"
    return f"{figure} on [{lo:g}, {hi:g}] ({on})"


def file_phrase(source: str, prov: object, target: Target) -> str:
    """What the "wrote" line says of a program file's accuracy (as its header does)."""
    for key, on in (("certified_max_rel", "certified"), ("sampled_max_rel", "sampled")):
        if getattr(prov, key, None) is not None:
            return f"program {source}, {error_phrase(getattr(prov, key), 'rel', on, target)}"
    error = getattr(prov, "max_ulp", None)
    on = "exhaustive" if getattr(prov, "exhaustive", False) else "sampled"
    return f"program {source}, {error_phrase(error, 'ulp', on, target)}"



@click.command()
@click.argument("source", type=click.Path())
@click.option("--id", "member_id", metavar="K", 
              help="Front member of the run SOURCE (its exact id, as `evo front` lists it).")
@target_options(required=False)
@click.option("--lang", type=click.Choice(LANGS), required=True, help="Language of the output.")
@click.option("--full-range", is_flag=True, help="Wrap the kernel: every float32 input (exp2, exp, log2, log).")
@click.option("--name", metavar="FN", help="Function name (default evo_TARGET).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE (default: stdout).")
@click.option("--verify", "verify", is_flag=True,
              help="Program files: verify exhaustively on the interval first (header states it).")
@click.option("--reals", is_flag=True,
              help="Program files: a reals-mode program, as float64 C or JAX, certified first (header states it). "
                   "A reals run's members are exported so without it.")
@click.option("--exact", is_flag=True,
              help="JAX: the float64 emulation, bit-exact with the interpreter (needs float64; slow), instead of "
                   "native float32 code.")
@click.option("--no-xla-check", "no_xla_check", is_flag=True,
              help="JAX: do not run XLA over every input to measure the native code's error (the header says so).")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def export(source: str, member_id: str | None, target: str | None, interval: str | None, lang: str,
           full_range: bool, name: str | None, output: str | None, verify: bool, reals: bool, exact: bool,
           no_xla_check: bool, quiet: bool) -> None:
    """Export SOURCE (a run directory with --id K, or a PROGRAM.json with --target T)."""
    if Path(source).is_dir():
        if member_id is None:
            raise EvoError(f"{source} is a run: choose a front member with --id K")
        if target or interval:
            raise EvoError("--target/--interval come from the run; give them only with a PROGRAM.json")
        p, t, platform, prov, what = described_member(source, member_id)
    else:
        if member_id is not None:
            raise EvoError(f"--id needs a run directory; {source} is not one")
        if target is None:
            raise EvoError("a PROGRAM.json needs --target T")
        p = load_program(source)
        t = resolve_target(target, interval)
        platform = REALS if reals else FLOAT32
        if full_range:
            from ..codegen.fullrange import wrapper_for

            wrapper_for(t)  # a target without a wrapper fails before any measuring
        measure = "verify" if verify else "sample"
        a, b = t.f32_inputs()
        with progress_bar("verifying", b - a + 1, enabled=verify and not quiet and platform.verify is not None) as update:
            prov = platform.provenance(p, t, f"program file {source}", measure=measure, progress=update)
        what = file_phrase(source, prov, t)
    if (exact or no_xla_check) and lang != "jax":
        raise EvoError("--exact and --no-xla-check are options of --lang jax")
    options = {}
    if lang == "jax":
        options = {"exact": exact, "xla_check": not (exact or no_xla_check)}
    a, b = (-0x7FFFFFFF, 0x7FFFFFFF) if full_range else t.f32_inputs()
    checking = lang == "jax" and options["xla_check"] and platform.verify is not None
    with progress_bar("running XLA on every input", b - a + 1, enabled=checking and not quiet) as update:
        text = platform.export(p, t, lang, full_range=full_range, name=name, provenance=prov,
                               **options, **({"progress": update} if options else {}))
    if full_range and not quiet:
        from ..codegen.fullrange import wrapper_for

        caveat = wrapper_for(t).caveat
        if caveat:
            click.echo(f"evo: note: {caveat}", err=True)
    if output:
        try:
            Path(output).write_text(text)
        except OSError as e:
            raise EvoError(f"{output}: cannot write: {e.strerror or e}") from None
        if not quiet:
            click.echo(f"wrote {output} ({lang}{', full range' if full_range else ''}): {what}", err=True)
    else:
        click.echo(text, nl=False)
