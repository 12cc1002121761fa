"""evo bench jax: the ready library's native JAX functions (evo.lib.jax) against their jnp
built-ins under jax.jit, at several sizes (in cache and out of it), side by side in one
process with interleaved samples, medians over repeats; and inside a real computation
(softmax and log-sum-exp over the rows of a matrix) with jnp's and evo's exp and log,
with the end-to-end error against a float64 reference. On a GPU the same runs there."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import click
import numpy as np

from ..errors import EvoError
from ._common import print_json


# Inputs drawn from each function's useful range (INPUTS says which).
def _inputs(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if name.startswith("exp"):
        return rng.uniform(-20.0, 20.0, n).astype(np.float32)
    return np.exp2(rng.uniform(-20.0, 20.0, n)).astype(np.float32)   # logs: positive, 2^-20 .. 2^20


INPUTS = {"exp2": "U(-20, 20)", "exp": "U(-20, 20)", "log2": "2^U(-20, 20)", "log": "2^U(-20, 20)"}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _timer(fn: Callable, x: Any, clock: Callable[[], float], target_s: float = 0.02) -> Callable[[], float]:
    """A sampler of seconds per call of fn(x) (calls per sample sized to ~target_s)."""
    fn(x).block_until_ready()
    t0 = time.perf_counter()
    fn(x).block_until_ready()
    calls = max(1, int(target_s / max(time.perf_counter() - t0, 1e-7)))

    def sample() -> float:
        t = clock()
        for _ in range(calls):
            out = fn(x)
        out.block_until_ready()
        return (clock() - t) / calls

    return sample


def side_by_side(fns: dict[str, Callable], x: Any, repeats: int, clock: str = "wall") -> dict[str, float]:
    """Median seconds per call of each function, samples interleaved."""
    samplers = {k: _timer(f, x, CLOCKS[clock]) for k, f in fns.items()}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, s in samplers.items():
            times[k].append(s())
    return {k: statistics.median(v) for k, v in times.items()}


def functions(repeats: int, sizes: list[int], names: list[str], clock: str = "wall") -> list[dict]:
    import jax
    import jax.numpy as jnp

    import evo.lib.jax as ej

    rng = np.random.default_rng(0)
    rows = []
    for name in names:
        ours, theirs = jax.jit(getattr(ej, name)), jax.jit(getattr(jnp, name))
        for n in sizes:
            x = jax.device_put(_inputs(name, n, rng))
            t = side_by_side({"evo": ours, "jnp": theirs}, x, repeats, clock)
            rows.append({"function": name, "n": n, "in_cache": n * 4 <= 1 << 20, "inputs": INPUTS[name],
                         "evo_ns": 1e9 * t["evo"] / n, "jnp_ns": 1e9 * t["jnp"] / n, "speedup": t["jnp"] / t["evo"]})
    return rows


def _ulp32(v: np.ndarray) -> np.ndarray:
    from ..core.numbers import ulp32

    return ulp32(v)


def computations(repeats: int, rows: int, cols: int, clock: str = "wall") -> list[dict]:
    """softmax(x) and log-sum-exp over the rows of a rows x cols float32 matrix, with jnp's and
    evo's exp (and log): time, and the max error in float32 ULP against float64."""
    import jax
    import jax.numpy as jnp

    import evo.lib.jax as ej

    def softmax(exp):
        def f(x):
            e = exp(x - jnp.max(x, axis=-1, keepdims=True))
            return e / jnp.sum(e, axis=-1, keepdims=True)
        return jax.jit(f)

    def logsumexp(exp, log):
        def f(x):
            m = jnp.max(x, axis=-1)
            return m + log(jnp.sum(exp(x - m[:, None]), axis=-1))
        return jax.jit(f)

    x = np.random.default_rng(1).normal(0.0, 4.0, (rows, cols)).astype(np.float32)
    x64 = x.astype(np.float64)
    e64 = np.exp(x64 - x64.max(axis=-1, keepdims=True))
    want = {"softmax": e64 / e64.sum(axis=-1, keepdims=True),
            "log-sum-exp": x64.max(axis=-1) + np.log(e64.sum(axis=-1))}
    out = []
    xd = jax.device_put(x)
    for what, mk in (("softmax", lambda exp, log: softmax(exp)), ("log-sum-exp", logsumexp)):
        fns = {"evo": mk(ej.exp, ej.log), "jnp": mk(jnp.exp, jnp.log)}
        t = side_by_side(fns, xd, repeats, clock)
        err = {k: float(np.max(np.abs(np.asarray(f(xd), np.float64) - want[what]) / _ulp32(want[what])))
               for k, f in fns.items()}
        out.append({"computation": what, "shape": [rows, cols], "evo_ms": 1e3 * t["evo"], "jnp_ms": 1e3 * t["jnp"],
                    "speedup": t["jnp"] / t["evo"], "evo_max_ulp": err["evo"], "jnp_max_ulp": err["jnp"]})
    return out


@click.command()
@click.option("--sizes", default="1000,100000,10000000", show_default=True, help="Elements per call.")
@click.option("--funcs", default="exp2,exp,log2,log", show_default=True)
@click.option("--repeats", type=int, default=9, show_default=True, help="Interleaved samples per figure (median).")
@click.option("--matrix", default="1000x1000", show_default=True, help="softmax / log-sum-exp shape ROWSxCOLS.")
@click.option("--threads", type=int, default=0, help="XLA's threads (1: one core; 0: XLA's default, all cores).")
@click.option("--clock", type=click.Choice(list(CLOCKS)), default="wall", show_default=True,
              help="cpu: the process's CPU time (steadier on a shared machine; with --threads 1).")
@click.option("--json", "as_json", is_flag=True)
def jax(sizes: str, funcs: str, repeats: int, matrix: str, threads: int, clock: str, as_json: bool) -> None:
    """evo.lib.jax against jnp under jax.jit: ns/element and speedup, side by side."""
    import os
    import sys

    if threads:
        if "jax" in sys.modules:
            raise EvoError("--threads must be set before jax starts (run `evo bench jax` in a fresh process)")
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                                   f"intra_op_parallelism_threads={threads}").strip()
    import jax as jax_module

    try:
        ns = [int(float(s)) for s in sizes.split(",")]
        r, c = (int(v) for v in matrix.lower().split("x"))
    except ValueError:
        raise EvoError(f"--sizes {sizes!r} / --matrix {matrix!r}: expected numbers, e.g. 1000,1e5 and 1000x1000") from None
    names = [f.strip() for f in funcs.split(",") if f.strip()]
    bad = [n for n in names if n not in INPUTS]
    if bad:
        raise EvoError(f"unknown function {bad[0]!r} (known: {', '.join(INPUTS)})")
    if repeats < 1 or min(ns) < 1 or r < 1 or c < 1:
        raise EvoError("--repeats, --sizes and --matrix must be positive")
    device = f"{jax_module.default_backend()} ({jax_module.devices()[0].device_kind}), jax {jax_module.__version__}"
    res = {"device": device, "repeats": repeats, "clock": clock, "threads": threads or "default",
           "functions": functions(repeats, ns, names, clock), "computations": computations(repeats, r, c, clock)}
    if as_json:
        print_json(res)
        return
    click.echo(f"evo.lib.jax vs jnp under jax.jit on {device}; {clock} clock, XLA threads: {res['threads']}; "
               f"medians of {repeats} interleaved samples")
    click.echo(f"{'function':<9} {'n':>10} {'cache':<6} {'evo ns/el':>10} {'jnp ns/el':>10} {'speedup':>8}  inputs")
    for row in res["functions"]:
        click.echo(f"{row['function']:<9} {row['n']:>10,} {'in' if row['in_cache'] else 'out':<6} "
                   f"{row['evo_ns']:>10.3f} {row['jnp_ns']:>10.3f} {row['speedup']:>7.2f}x  {row['inputs']}")
    for row in res["computations"]:
        click.echo(f"{row['computation']:<12} {row['shape'][0]}x{row['shape'][1]}: evo {row['evo_ms']:.3f} ms, "
                   f"jnp {row['jnp_ms']:.3f} ms ({row['speedup']:.2f}x); max error vs float64: evo "
                   f"{row['evo_max_ulp']:.3g} ULP, jnp {row['jnp_max_ulp']:.3g} ULP")
