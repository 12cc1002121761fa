"""Speed harness: ns/element of compiled kernels and of library baselines,
measured side by side in one process (samples interleaved, so drift hits all alike).

Inputs: n float32 points evenly spaced on the interval (default 10,000: 80 KB
in + out, in L2). Each contender is calibrated so one sample lasts at least
`min_sample_s`, warmed up, then sampled `repeats` times; a Timing holds the
median ns/element, the quartiles and min/max.

Protocols (how one unit of work is run):
  loop  a compiled driver calls the kernel `reps` times over the buffer in ONE
        ctypes call (LLVM, gcc, C library): no Python or ctypes overhead per pass.
  az    AutoNumerics-Zero: under jax.jit, lax.fori_loop applies f 100 times,
        clipping to the interval between applications (XLA kernels and jnp
        baselines): a jitted call per 10,000 points would measure dispatch
        (~10 us) more than the kernel. The clip (2 ops/element) is included.
  call  one Python call per pass (numpy ufuncs, with out=).

Threads: LLVM, gcc and the C library loops are single-threaded. XLA splits a
loop fusion across threads when its cost model says so (here: a 6-fma kernel
on 10,000 points, 2 ways; jnp.exp2's loop, not): a fork/join per fori_loop
step, which costs more than it gains at this size and is very noisy on a
loaded machine. XLA sizes that split by the cores the process may use when it
first compiles, once per process, so `one_core()` must be entered before jax
compiles anything (`evo bench kernel` does, unless --all-cores). Each XLA
Timing records the threads its compiled loop really uses.

C library baselines: a tiny C file, built once per process with gcc, loops
over the buffer calling exp2f/expf/log2f/logf/erff (gcc -O2 -fno-builtin: the
scalar glibc functions, what a plain C loop gets); and the same loop with
`#pragma omp simd` built -O3 -march=native -ffast-math -fopenmp-simd, which
calls glibc's vector libmvec variants (_ZGV...) - skipped if that fails.
"""
from __future__ import annotations

import ctypes
import math
import re
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator

import numpy as np

from ..core.ir import Program
from ..errors import EvoError
from .common import structure_key
from .registry import speed_backend

DEFAULT_N = 10_000
AZ_ITERS = 100
# target name -> (XLA baseline, numpy-ish baseline, C library function)
LIBRARY = {
    "exp2": ("jnp.exp2", "np.exp2", "exp2f"),
    "exp": ("jnp.exp", "np.exp", "expf"),
    "log2": ("jnp.log2", "np.log2", "log2f"),
    "log": ("jnp.log", "np.log", "logf"),
    "erf": ("jax.scipy.special.erf", "scipy.special.erf", "erff"),  # numpy has no erf
}


@dataclass(frozen=True)
class Timing:
    name: str
    protocol: str
    ns_per_elem: float  # median over repeats
    q1: float
    q3: float
    lo: float           # fastest sample
    hi: float           # slowest sample
    repeats: int
    n: int
    threads: int = 1    # threads the compiled loop is split across (XLA), 1 otherwise

    @property
    def spread(self) -> float:
        """Relative interquartile range: (q3 - q1) / median."""
        return (self.q3 - self.q1) / self.ns_per_elem if self.ns_per_elem > 0 else float("inf")

    def to_dict(self) -> dict:
        return asdict(self) | {"spread": self.spread}


@dataclass
class Runner:
    """A contender: run(k) does k units of work of `elems` element evaluations each."""

    name: str
    protocol: str
    run: Callable[[int], Any]
    elems: int
    k: int = 1
    threads: int = 1


def _interval(target: Any) -> tuple[float, float]:
    iv = getattr(target, "interval", target)
    lo, hi = (float(v) for v in iv)
    return lo, hi


def points(target: Any, n: int = DEFAULT_N) -> np.ndarray:
    """n float32 points evenly spaced on the target's interval (a Target or (lo, hi))."""
    if n < 1:
        raise EvoError(f"number of points must be >= 1, got {n}")
    lo, hi = _interval(target)
    return np.ascontiguousarray(np.clip(np.linspace(lo, hi, n), lo, hi).astype(np.float32))


def _seconds(r: Runner, k: int) -> float:
    t0 = time.perf_counter_ns()
    r.run(k)
    return (time.perf_counter_ns() - t0) * 1e-9


def measure(runners: list[Runner], repeats: int = 15, warmup: int = 2, min_sample_s: float = 2e-3) -> list[Timing]:
    """Time every runner, samples interleaved round-robin; one Timing per runner."""
    if repeats < 1:
        raise EvoError(f"repeats must be >= 1, got {repeats}")
    for r in runners:  # calibrate: double k until one sample is long enough to time
        r.run(1)
        r.k = 1
        while _seconds(r, r.k) < min_sample_s and r.k < 1 << 30:
            r.k *= 2
        for _ in range(warmup):
            r.run(r.k)
    samples: list[list[float]] = [[] for _ in runners]
    for _ in range(repeats):
        for r, s in zip(runners, samples):
            s.append(_seconds(r, r.k) * 1e9 / (r.k * r.elems))
    out = []
    for r, s in zip(runners, samples):
        q = statistics.quantiles(s, n=4, method="inclusive") if len(s) > 1 else [s[0]] * 3
        out.append(Timing(r.name, r.protocol, statistics.median(s), q[0], q[2], min(s), max(s), len(s), r.elems,
                          r.threads))
    return out


# -- contenders ----------------------------------------------------------------

def native_runner(name: str, repeat: Callable[[np.ndarray, np.ndarray, int], Any], x: np.ndarray) -> Runner:
    """A compiled `repeat(x, out, reps)` driver (loop protocol)."""
    out = np.empty_like(x)
    return Runner(name, "loop", lambda k: repeat(x, out, k), x.size)


def llvm_runner(p: Program, x: np.ndarray, name: str = "llvm") -> Runner:
    from .llvm import compile_kernel

    return native_runner(name, compile_kernel(p, np.float32).repeat, x)


def gcc_runner(p: Program, x: np.ndarray, name: str = "gcc -O3 kernel") -> Runner:
    from .gcc import compile_gcc

    return native_runner(name, compile_gcc(p).repeat, x)


def az_loop(fn: Callable[[Any], Any], interval: tuple[float, float], iters: int = AZ_ITERS) -> Callable[[Any], Any]:
    """The AutoNumerics-Zero harness: jit(fori_loop(iters, x -> clip(fn(x), lo, hi)))."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    lo, hi = np.float32(interval[0]), np.float32(interval[1])
    return jax.jit(lambda x: lax.fori_loop(0, iters, lambda i, v: jnp.clip(fn(v), lo, hi), x))


def xla_fn_runner(name: str, fn: Callable[[Any], Any], x: np.ndarray, interval: tuple[float, float],
                  iters: int = AZ_ITERS) -> Runner:
    return _az_runner(name, az_loop(fn, interval, iters), x, iters)


def _az_runner(name: str, loop: Callable[[Any], Any], x: np.ndarray, iters: int) -> Runner:
    import jax

    xd = jax.device_put(x)

    def run(k: int) -> None:
        # Chained (each pass reads the last one's clipped output), so the k calls run
        # one after another, and one host sync per sample instead of per call.
        v = xd
        for _ in range(k):
            v = loop(v)
        v.block_until_ready()

    return Runner(name, "az", run, x.size * iters, threads=xla_threads(loop, xd))


def xla_threads(jitted: Any, *args: Any) -> int:
    """Threads XLA splits the widest loop of `jitted(*args)` across (from its compiled HLO)."""
    text = jitted.lower(*args).compile().as_text()
    parts = [math.prod(int(v) for v in re.findall(r"\d+", m))
             for m in re.findall(r'"outer_dimension_partitions":\[([^\]]*)\]', text)]
    return max(parts, default=1)


@contextmanager
def one_core() -> Iterator[str]:
    """Run this thread, and every thread it starts meanwhile (XLA's pool), on one CPU
    core, so XLA compiles its loops unsplit; the affinity is restored on exit.
    Enter it before jax compiles anything: XLA reads the usable cores once per
    process. Yields a note for the output (Linux; elsewhere a no-op)."""
    import os
    import sys

    if not hasattr(os, "sched_setaffinity"):
        yield "could not pin to one core on this platform: XLA may split loops across threads"
        return
    before = os.sched_getaffinity(0)
    cpu = max(before)
    os.sched_setaffinity(0, {cpu})
    note = f"pinned to CPU {cpu}: every contender runs on one core"
    if "jax" in sys.modules:
        try:
            from jax._src import xla_bridge

            if xla_bridge.backends_are_initialized():
                note += " (XLA had started before: its loops may still be split; see threads)"
        except (ImportError, AttributeError):
            pass
    try:
        yield note
    finally:
        os.sched_setaffinity(0, before)


@lru_cache(maxsize=256)
def _xla_loop_cached(h: str, p: Program, interval: tuple[float, float], iters: int) -> Callable[[Any], Any]:
    from .xla import jax_function

    return az_loop(jax_function(p, "native"), interval, iters)


def xla_runner(p: Program, x: np.ndarray, interval: tuple[float, float], name: str = "xla",
               iters: int = AZ_ITERS) -> Runner:
    """The program in XLA native mode (what jax.jit does with it), az protocol."""
    import jax

    from .common import CompileError

    loop = _xla_loop_cached(p.hash(), p, tuple(interval), iters)
    xd = jax.device_put(x)
    try:
        loop(xd).block_until_ready()  # compile now, so a failure names the program
    except EvoError:
        raise
    except Exception as e:
        raise CompileError("xla", p, e) from e

    return _az_runner(name, loop, x, iters)


def kernel_runner(p: Program, backend: str, x: np.ndarray, interval: tuple[float, float]) -> Runner:
    """`p` compiled by `backend`, timed the way its registry row says (evo.backends.registry)."""
    return speed_backend(backend).runner(p, x, interval)


# -- library baselines ---------------------------------------------------------

_LIBM_FUNCS = ("exp2f", "expf", "log2f", "logf", "erff")
_LIBM_C = "#include <math.h>\n#include <stdint.h>\n" + "".join(
    f"""
__attribute__((noinline)) static void k_{f}(const float *restrict x, float *restrict y, int64_t n) {{
    {{pragma}}
    for (int64_t i = 0; i < n; i++) y[i] = {f}(x[i]);
}}
void bench_{f}(const float *x, float *y, int64_t n, int64_t reps) {{
    for (int64_t r = 0; r < reps; r++) k_{f}(x, y, n);
}}
""" for f in _LIBM_FUNCS)
_SCALAR_FLAGS = ("-O2", "-fno-builtin")
_VECTOR_FLAGS = ("-O3", "-march=native", "-ffast-math", "-fopenmp-simd")


@lru_cache(maxsize=2)
def _libm(vector: bool) -> Any:
    """The C library loops as a ctypes library (None if it cannot be built)."""
    from .gcc import GccError, build_so, load

    source = _LIBM_C.replace("{pragma}", "_Pragma(\"omp simd\")" if vector else "")
    try:
        so = build_so(source, "libm_vec" if vector else "libm_scalar",
                      _VECTOR_FLAGS if vector else _SCALAR_FLAGS, ("-lmvec", "-lm") if vector else ("-lm",))
    except GccError:
        return None
    if vector and b"_ZGV" not in so.read_bytes():  # gcc did not call libmvec: not that baseline
        return None
    try:
        return load(so, **{f"bench_{f}": [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
                           for f in _LIBM_FUNCS})
    except OSError:
        return None


def _libm_runner(func: str, x: np.ndarray, vector: bool) -> Runner | None:
    lib = _libm(vector)
    if lib is None:
        return None
    fn = getattr(lib, f"bench_{func}")
    return native_runner(f"{'libmvec' if vector else 'libm'} {func}",
                         lambda a, out, k: fn(a.ctypes.data, out.ctypes.data, a.size, k), x)


def _jax_baseline(name: str) -> Callable[[Any], Any]:
    import jax
    import jax.numpy as jnp

    if name == "jax.scipy.special.erf":
        return jax.scipy.special.erf
    return getattr(jnp, name.split(".", 1)[1])


def _numpy_baseline(name: str) -> Callable[..., Any]:
    if name == "scipy.special.erf":
        import scipy.special

        return scipy.special.erf
    return getattr(np, name.split(".", 1)[1])


def baseline_runners(target_name: str, x: np.ndarray, interval: tuple[float, float]) -> tuple[list[Runner], list[str]]:
    """Library baselines for a registered target (none for custom ones), and notes on any skipped."""
    if target_name not in LIBRARY:
        return [], [f"no library baselines for target {target_name!r} (only for {', '.join(LIBRARY)})"]
    jname, npname, cname = LIBRARY[target_name]
    runners = [xla_fn_runner(jname, _jax_baseline(jname), x, interval)]
    npf = _numpy_baseline(npname)
    out = np.empty_like(x)
    runners.append(Runner(npname, "call", lambda k: [npf(x, out=out) for _ in range(k)], x.size))
    notes = []
    for vector in (False, True):
        r = _libm_runner(cname, x, vector)
        if r is None:
            notes.append(f"{'libmvec' if vector else 'libm'} {cname}: could not build the C loop with gcc; skipped")
        else:
            runners.append(r)
    return runners, notes


# -- cost for the search -------------------------------------------------------

_COSTS: dict[tuple, float] = {}


def kernel_timing(p: Program, backend: str, target: Any, n: int = DEFAULT_N, repeats: int = 7,
                  min_sample_s: float = 2e-4) -> Timing:
    """One fresh measurement of `p` compiled by `backend` (a registry row with a runner)."""
    interval = _interval(target)
    runner = kernel_runner(p, backend, points(interval, n), interval)
    return measure([runner], repeats=repeats, warmup=1, min_sample_s=min_sample_s)[0]


def kernel_cost(p: Program, backend: str, target: Any, n: int = DEFAULT_N, repeats: int = 7,
                fresh: bool = False) -> float:
    """Median ns/element of `p` under `backend`, for `--cost` (evo.config.COSTS).

    Cached by structure (constants left out: speed does not depend on their
    values), so one compile and one measurement serve a whole structure;
    fresh=True re-measures (front members, to control noise). Typically a few ms
    for llvm (plus ~30 ms per new structure to compile) and ~0.1 s for xla.
    A program the backend cannot build raises LoweringError/CompileError
    (EvoError): the caller scores it as worst.
    """
    key = (structure_key(p), backend, _interval(target), n)
    if fresh or key not in _COSTS:
        _COSTS[key] = kernel_timing(p, backend, target, n, repeats).ns_per_elem
    return _COSTS[key]


def cost_noise(p: Program, backend: str, target: Any, trials: int = 5, n: int = DEFAULT_N) -> float:
    """Relative noise of kernel_cost on this machine: a robust relative standard
    deviation (1.4826 * MAD / median) of `trials` fresh measurements of `p`."""
    costs = [kernel_cost(p, backend, target, n, fresh=True) for _ in range(max(trials, 2))]
    med = statistics.median(costs)
    mad = statistics.median(abs(c - med) for c in costs)
    return 1.4826 * mad / med if med > 0 else float("inf")
