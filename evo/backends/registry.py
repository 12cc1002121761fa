"""The backend table: one row per backend, everything about it in one place.

A row says how to build a program (`compile`: p -> f(x) on float32 arrays), how the
speed harness times it (`runner`, None if it is not timed), whether it computes
exactly what the interpreter computes (`exact`; the probes in evo.backends.findings
check it, and `tolerated` names the probe findings an exact backend may still show on
some machines), and whether a search may use it as its cost (--cost, measured
ns/element) or its semantics (--semantics). evo.config's COSTS and SEMANTICS, and
BACKENDS, are read off the table. Adding a backend is adding a row here.

Entries import their library when first called, so jax is only imported when an XLA
backend is used and `evo --help` stays fast.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any, Callable

import numpy as np

from ..core.ir import Program
from ..errors import EvoError

Kernel = Callable[[np.ndarray], np.ndarray]
Interval = tuple[float, float]


@dataclass(frozen=True)
class Backend:
    name: str
    about: str                                          # one line, for docs and messages
    compile: Callable[[Program], Kernel]                # cached by the backend where it compiles
    runner: Callable[[Program, np.ndarray, Interval], Any] | None = None   # -> evo.backends.timing.Runner
    exact: bool = True                                  # bit for bit the interpreter
    tolerated: tuple[str, ...] = ()                     # probe findings an exact backend may show
    cost: bool = False                                  # a search may use its ns/element as cost
    semantics: bool = False                             # a search may score what it computes


def _lazy(module: str, name: str, *bound: Any) -> Callable[..., Any]:
    """module.name(*args, *bound), the module imported on the first call."""
    def call(*args: Any) -> Any:
        return getattr(import_module(module, __package__), name)(*args, *bound)

    call.__qualname__ = f"{module.lstrip('.')}.{name}"
    return call


# The speed harness (evo.backends.timing: numpy only; it imports jax when an XLA runner is made).
_llvm_runner, _xla_runner, _gcc_runner = (_lazy(".timing", f"{n}_runner") for n in ("llvm", "xla", "gcc"))


def _interp(p: Program) -> Kernel:
    from ..core.interp import evaluate

    return lambda x: evaluate(p, x, np.float32)


TABLE: tuple[Backend, ...] = (
    Backend("interp", "the numpy interpreter (the definition)", _interp, semantics=True),
    Backend("llvm", "the LLVM kernel (bit-exact with interp)", _lazy(".llvm", "compile_kernel", np.float32),
            lambda p, x, iv: _llvm_runner(p, x), cost=True, semantics=True),
    Backend("xla", "XLA native mode: what jax.jit computes (fma contraction, FTZ/DAZ, x/c -> x*(1/c), "
            "x+0 -> x); see evo.backends.findings", _lazy(".xla", "compile_xla", "native"),
            _xla_runner, exact=False, cost=True, semantics=True),
    Backend("xla-exact", "XLA exact mode: bit-exact with interp, slower", _lazy(".xla", "compile_xla", "exact"),
            semantics=True),
    # gcc 12 with FMA turns -fmaf(a, b, c) into fnmsub, -(a*b) - c, whatever the flags: an exact
    # zero loses its sign (the neg-fma probe).
    Backend("gcc", "gcc -O3 -march=native -ffp-contract=off (bit-exact with interp)", _lazy(".gcc", "compile_gcc"),
            lambda p, x, iv: _gcc_runner(p, x), tolerated=("neg-fma",)),
)
REGISTRY: dict[str, Backend] = {b.name: b for b in TABLE}
BACKENDS: tuple[str, ...] = tuple(REGISTRY)
COST_BACKENDS: tuple[str, ...] = tuple(b.name for b in TABLE if b.cost)
SEMANTICS_BACKENDS: tuple[str, ...] = tuple(b.name for b in TABLE if b.semantics)
SPEED_BACKENDS: tuple[str, ...] = tuple(b.name for b in TABLE if b.runner is not None)


def get_backend(name: str) -> Backend:
    """The row of backend `name`; EvoError (one line) for an unknown one."""
    row = REGISTRY.get(name)
    if row is None:
        raise EvoError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    return row


def speed_backend(name: str) -> Backend:
    """The row of a backend the speed harness can time; EvoError otherwise."""
    row = REGISTRY.get(name)
    if row is None or row.runner is None:
        raise EvoError(f"unknown speed backend {name!r} (known: {', '.join(SPEED_BACKENDS)})")
    return row
