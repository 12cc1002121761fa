"""evo bench kernel: ns/element of one program per backend, the ratio to library
baselines and to the same kernel built by gcc, compile times, and what XLA
computes differently from the interpreter. All contenders are timed in one
process with interleaved samples (evo.backends.timing says how)."""
from __future__ import annotations

import os
import statistics
from contextlib import nullcontext
from pathlib import Path

import click

from targets import TARGETS, Target, parse_interval

from ..core.ir import Program, render
from ..errors import EvoError
from ._common import load_program, print_json, resolve_target


def _source(source: str, member: str | None, target: str | None, interval: str | None) -> tuple[Program, Target, str]:
    """The program and target from a run directory (--id K) or a program file (--target T)."""
    path = Path(source)
    if path.is_dir():
        from ..runs.front import load_front

        if member is None:
            raise EvoError(f"{source} is a run directory: choose a front member with --id K")
        front = load_front(path)
        p = front.member(member).program
        if target is not None:
            return p, resolve_target(target, interval), f"{source} --id {member}"
        t = front.target.with_interval(*parse_interval(interval)) if interval else front.target
        return p, t, f"{source} --id {member}"
    if member is not None:
        raise EvoError(f"--id needs a run directory, and {source} is not one")
    if target is None:
        raise EvoError(f"{source}: a program file needs --target T")
    return load_program(source), resolve_target(target, interval), source


def _library_name(t: Target) -> str:
    """The registered target whose library functions are t's baselines ("" for a custom target)."""
    known = TARGETS.get(t.name)
    return t.name if known is not None and known.expr == t.expr else ""


def _compile_ms(fn, repeats: int = 3) -> float:
    """Median of fresh (uncached) compiles, in ms: the first includes one-time setup."""
    return 1e3 * statistics.median(fn() for _ in range(repeats))


@click.command()
@click.argument("source", metavar="RUN_DIR|PROGRAM.json", type=click.Path(exists=False))
@click.option("--id", "member", metavar="K", help="Front member of RUN_DIR.")
@click.option("--target", "-t", "target", metavar="NAME|EXPR", help="Target of PROGRAM.json (default: the run's).")
@click.option("--interval", metavar="A,B", help="Interval (default: the target's own).")
@click.option("--backend", type=click.Choice(["xla", "llvm", "all"]), default="all", show_default=True)
@click.option("--repeats", type=click.IntRange(3, 1000), default=15, show_default=True,
              help="Timed samples per contender (medians and quartiles over them).")
@click.option("--points", "n", type=click.IntRange(16, 10**7), default=10_000, show_default=True,
              help="Input points, evenly spaced on the interval (in-cache at the default).")
@click.option("--all-cores", is_flag=True,
              help="Do not pin to one core: let XLA split loops across threads (noisy on a busy machine).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def kernel(source: str, member: str | None, target: str | None, interval: str | None, backend: str,
           repeats: int, n: int, all_cores: bool, as_json: bool) -> None:
    """ns/element of a program under XLA and LLVM, and its speedup over library
    baselines (jnp, numpy, the C library) and over gcc -O3 -march=native.

    Runs on one CPU core (per-core figures; LLVM, gcc and libm loops are
    single-threaded) unless --all-cores."""
    from ..backends import timing as T

    pin = nullcontext("all cores: XLA may split loops across threads") if all_cores else T.one_core()
    with pin as note:  # entered before jax compiles anything
        result, backends, others = _bench(source, member, target, interval, backend, repeats, n, note)
    if as_json:
        print_json(result)
    else:
        _print(result, backends, others)


def _bench(source: str, member: str | None, target: str | None, interval: str | None, backend: str,
           repeats: int, n: int, note: str) -> tuple[dict, list[str], list[str]]:
    from ..backends import gcc as gccb
    from ..backends import llvm as llvmb
    from ..backends import probe
    from ..backends import timing as T
    from ..backends import xla as xlab

    p, t, label = _source(source, member, target, interval)
    backends = ["xla", "llvm"] if backend == "all" else [backend]
    x = T.points(t, n)
    iv = t.interval
    compile_ms: dict[str, float] = {}
    runners = []
    if "llvm" in backends:
        compile_ms["llvm"] = _compile_ms(lambda: llvmb.compile_seconds(p))
        runners.append(T.llvm_runner(p, x))
    if "xla" in backends:
        compile_ms["xla"] = _compile_ms(lambda: xlab.compile_seconds(p, "native", n))
        runners.append(T.xla_runner(p, x, iv))
    notes: list[str] = [note]
    gcc_name = "gcc -O3 kernel"
    if gccb.gcc_path():
        compile_ms["gcc"] = _compile_ms(lambda: gccb.compile_seconds(p), 1)
        runners.append(T.gcc_runner(p, x, gcc_name))
    else:
        notes.append("gcc not found: no gcc comparison and no C library baselines")
    if _library_name(t):
        base, base_notes = T.baseline_runners(_library_name(t), x, iv)
        runners += base
        notes += base_notes
    else:
        notes.append(f"no library baselines for a custom target ({t.expr}); gcc comparison only")
    timings = {tm.name: tm for tm in T.measure(runners, repeats=repeats)}
    probed = backends + (["gcc"] if "gcc" in compile_ms else [])
    findings = {b: [f.to_dict() for f in probe(b)] for b in probed}
    others = [name for name in timings if name not in ("xla", "llvm")]
    result: dict = {
        "program": render(p), "hash": p.hash(), "ops": p.n_ops, "source": label,
        "target": t.to_dict(), "points": n, "repeats": repeats,
        "machine": {"cpu": llvmb.llvm.get_host_cpu_name(), "cores": os.cpu_count()},
        "compile_ms": compile_ms, "gcc_flags": " ".join(gccb.KERNEL_FLAGS),
        "llvm_vector_width": llvmb.vector_width(p) if "llvm" in backends else None,
        "baselines": {name: timings[name].to_dict() for name in others},
        "findings": findings, "notes": notes,
    }
    for b in backends:
        k = timings[b]
        result[b] = k.to_dict() | {
            "speedup": {o: timings[o].ns_per_elem / k.ns_per_elem for o in others},
            "speedup_iqr": {o: [timings[o].q1 / k.q3, timings[o].q3 / k.q1] for o in others},
            "speedup_min": {o: timings[o].lo / k.lo for o in others},  # fastest samples: robust on a busy machine
        }
    return result, backends, others


def _print(r: dict, backends: list[str], others: list[str]) -> None:
    t = r["target"]
    click.echo(f"program   {r['program']}  ({r['ops']} ops, {r['hash']})")
    click.echo(f"target    {t['expr']} on [{t['interval'][0]:.9g}, {t['interval'][1]:.9g}]; {r['points']:,} points, "
               f"{r['repeats']} interleaved samples each; {r['machine']['cpu']}, {r['machine']['cores']} cores")
    comp = ", ".join(f"{b} {ms:.1f} ms" for b, ms in r["compile_ms"].items())
    click.echo(f"compile   {comp}  (lower + optimise + build, median of fresh builds)")
    if r["llvm_vector_width"]:
        click.echo(f"llvm      loop vectorised: <{r['llvm_vector_width']} x float> in the optimised IR; "
                   f"gcc flags {r['gcc_flags']}")
    click.echo("")
    click.echo(f"{'':24s} {'ns/elem':>9s}  {'IQR':>19s}  {'min':>8s}  protocol  threads")
    for name in backends + others:
        d = r[name] if name in backends else r["baselines"][name]
        click.echo(f"{name:24s} {d['ns_per_elem']:9.4f}  [{d['q1']:8.4f}, {d['q3']:8.4f}]  {d['lo']:8.4f}  "
                   f"{d['protocol']:8s}  {d['threads']}")
    click.echo("")
    click.echo("speedup = baseline ns / kernel ns (> 1: the kernel is faster)")
    click.echo(f"{'':8s}" + "".join(f"{o:>24s}" for o in others))
    for b in backends:
        click.echo(f"{b:8s}" + "".join(f"{r[b]['speedup'][o]:24.3f}" for o in others))
    click.echo("")
    click.echo("protocols: loop = compiled driver, kernel called reps times in one native call; az = jax.jit "
               "fori_loop applying f 100 times with clipping (AutoNumerics-Zero); call = one numpy call per pass")
    for b in r["findings"]:
        differs = [f for f in r["findings"][b] if f["differs"]]
        click.echo(f"{b} semantics: " + ("bit-exact with the interpreter on every probe" if not differs else
                                        f"{len(differs)} systematic differences from the interpreter"))
        for f in differs:
            click.echo(f"  - {f['name']}: {f['summary']}")
    for note in r["notes"]:
        click.echo(f"note: {note}")
