"""evo export: a run's front member, or a program file, as C, JAX or NumPy source."""
from __future__ import annotations

from pathlib import Path

import click

from targets import Target

from ..errors import EvoError
from ..export import LANGS, Provenance, export_source
from ..ir import Program
from ..progress import progress_bar
from ._common import load_program, resolve_target, target_options


def run_member(run_dir: str, member_id: str) -> tuple[Program, Target, Provenance]:
    from ..api import provenance
    from ..runs import load_front

    front = load_front(run_dir)
    m = front.member(member_id)
    if front.dtype == "float64":  # a reals run: float64 code with the certified bound (evo.export.reals)
        from ..export.reals import measured_provenance

        return m.program, front.target, measured_provenance(m.program, front.target, f"run {run_dir}, member {m.id}",
                                                            m.certified_max_rel)
    return m.program, front.target, provenance(m, seed=front.meta.get("seed"))


def _measured(p: Program, t: Target, source: str, verify: bool, quiet: bool) -> Provenance:
    """Max ULP of a program file: exhaustive with --verify, else on the scorer's validation set."""
    if verify:
        from ..verify import verify_program

        a, b = t.f32_inputs()
        with progress_bar("verifying", b - a + 1, enabled=not quiet) as update:
            r = verify_program(p, t, progress=update)
        return Provenance(source=source, max_ulp=r.max_ulp, exhaustive=True, inputs=r.inputs)
    from ..scoring import Scorer

    s = Scorer(t).score(p, "validation")
    return Provenance(source=source, max_ulp=s.max, exhaustive=False, inputs=s.n)


@click.command()
@click.argument("source", type=click.Path())
@click.option("--id", "member_id", metavar="K", help="Front member of the run SOURCE (a unique id prefix).")
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
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def export(source: str, member_id: str | None, target: str | None, interval: str | None, lang: str,
           full_range: bool, name: str | None, output: str | None, verify: bool, reals: bool, quiet: bool) -> None:
    """Export SOURCE (a run directory with --id K, or a PROGRAM.json with --target T)."""
    if Path(source).is_dir():
        if member_id is None:
            raise EvoError(f"{source} is a run: choose a front member with --id K")
        if target or interval:
            raise EvoError("--target/--interval come from the run; give them only with a PROGRAM.json")
        p, t, prov = run_member(source, member_id)
    else:
        if member_id is not None:
            raise EvoError(f"--id needs a run directory; {source} is not one")
        if target is None:
            raise EvoError("a PROGRAM.json needs --target T")
        p = load_program(source)
        t = resolve_target(target, interval)
        if full_range:
            from ..fullrange import wrapper_for

            wrapper_for(t)  # a target without a wrapper fails before any measuring
        if reals:
            from ..export.reals import measured_provenance

            prov = measured_provenance(p, t, f"program file {source}")
        else:
            prov = _measured(p, t, f"program file {source}", verify, quiet)
    text = export_source(p, t, lang, full_range=full_range, name=name, provenance=prov)
    if output:
        try:
            Path(output).write_text(text)
        except OSError as e:
            raise EvoError(f"{output}: cannot write: {e.strerror or e}") from None
        if not quiet:
            click.echo(f"wrote {output} ({lang}{', full range' if full_range else ''})", err=True)
    else:
        click.echo(text, nl=False)
