"""What XLA really computes, checked exhaustively: a JAX function (a native JAX export, any
module's symbol) or a program as the XLA backend's native mode lowers it, run under
jax.jit on every float32 input of an interval (or all 2^32), against the same reference
and with the same ULP rules as `evo verify` (the numpy yardstick). XLA on CPU contracts
a*b + c into an fma, rewrites x / c and flushes subnormals to zero: what this measures is
the figure a user of the compiled code gets, not the interpreter's."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from targets import Target

from ..core.ir import Program
from ..core.progress import ProgressFn
from ..errors import EvoError
from .functions import check_function
from .result import VerifyResult
from .yardstick import exhaustive

Fn32 = Callable[[np.ndarray], np.ndarray]


def xla_version() -> str:
    """What compiles: "XLA (jax 0.10.2, jaxlib 0.10.2) on cpu"."""
    import jax
    import jaxlib

    return f"XLA (jax {jax.__version__}, jaxlib {jaxlib.__version__}) on {jax.default_backend()}"


def on_numpy(fn: Callable[[Any], Any]) -> Fn32:
    """fn under jax.jit, called on float32 numpy arrays, returning float32 numpy arrays."""
    import jax

    jitted = jax.jit(fn)

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(jitted(np.ascontiguousarray(x, np.float32)), np.float32)

    return call


def load_module(path: str | Path, name: str = "evo_checked_module") -> Any:
    """A Python file imported as a module of its own (one-line EvoError if it cannot be)."""
    path = Path(path)
    if not path.is_file():
        raise EvoError(f"{path}: no such file")
    spec = importlib.util.spec_from_file_location(f"{name}_{abs(hash(str(path.resolve())))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file: its error in one line
        raise EvoError(f"{path}: cannot import it ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") \
            from None
    return module


def module_from_source(source: str, name: str = "evo_native") -> Any:
    """A module made from source text (a native JAX export, before it is written anywhere)."""
    import types

    module = types.ModuleType(name)
    sys.modules.setdefault(name, module)  # jax.custom_jvp looks functions' modules up
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - evo's own generated code
    return module


def symbol_of(module: Any, symbol: str, where: str) -> Callable[[Any], Any]:
    fn = getattr(module, symbol, None)
    if not callable(fn):
        raise EvoError(f"symbol {symbol!r} not found in {where}")
    return fn


def verify_jax(fn: Callable[[Any], Any], target: Target, full_range: bool = False,
               progress: ProgressFn | None = None, specials: np.ndarray | tuple = ()) -> VerifyResult:
    """A JAX function of float32 arrays, under jax.jit, on every float32 of the target's
    interval (or every input), with its special-value table."""
    return check_function(on_numpy(fn), target, full_range, progress, specials, computed_by=xla_version())


def verify_xla_program(p: Program, target: Target, interval: tuple[float, float] | None = None,
                       progress: ProgressFn | None = None, threads: int | None = None) -> VerifyResult:
    """A float32 program as the XLA backend's native mode lowers it (what a search under
    `--semantics xla` scores), under jax.jit, on every float32 of the interval."""
    from ..backends.xla import jax_function

    return exhaustive(on_numpy(jax_function(p, "native")), target, interval, progress=progress, threads=threads,
                      computed_by=xla_version())
