"""XLA backend: a program lowered (from the op table's `jax` columns) to a jnp
function and jitted.

What XLA CPU really computes on float32 (measured by `probe()`; README, "Measured results"): it
contracts a*b + c into a fused multiply-add, runs with subnormals flushed (FTZ,
DAZ), rewrites x / c into x * (1/c) for a literal c, and simplifies x + 0 to x
(wrong for x = -0). JAX has no fma primitive. Hence two modes:

native  what XLA does by itself with the program written as plain float32 jnp
        code: constants are float32 literals, fma is a*b + c (the op table's
        `jax_native`, fused by XLA's contraction). Used for speed and for
        scoring a search under XLA's actual semantics.
exact   bit-exact with the interpreter, subnormals and signed zeros included.
        Every slot is a float64 holding a float32 value; each op runs in
        float64 (op.jax) and is rounded to float32 precision by float64 and
        integer arithmetic only, so neither contraction nor FTZ/DAZ can touch
        it (float32 hardware ops never see a subnormal). Double rounding is
        harmless for +, -, *, /, sqrt (53 >= 2*24 + 2 bits) and fma returns its
        round-to-odd sum. Constants are runtime arguments, so XLA cannot
        rewrite x / c or x + 0, and one compile serves every constant set of a
        structure. Needs float64, enabled only while tracing and running.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from primitives import OPS

from ..core.ir import CONST, Program, X, reachable
from .common import (
    CompileError,
    LoweringError,
    check_lowerable,
    constant_values,
    op_row,
    structure_key,
)

MODES = ("native", "exact")

_MIN_NORMAL = 2.0 ** -126
_SCALE_UP = 2.0 ** 149     # float32 subnormal spacing is 2^-149
_SCALE_DOWN = 2.0 ** -149


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise LoweringError(f"unknown xla mode {mode!r} (known: {', '.join(MODES)})")


# -- exact mode: float32 values carried in float64 -----------------------------

def _widen(x: Any) -> Any:
    """float32 -> float64 exactly; subnormals through integers (DAZ would zero them)."""
    import jax.numpy as jnp
    from jax import lax

    bits = lax.bitcast_convert_type(x, jnp.uint32)
    mag = bits & np.uint32(0x7FFFFFFF)
    small = mag.astype(jnp.float64) * _SCALE_DOWN
    small = jnp.where((bits >> 31) != 0, -small, small)
    return jnp.where(mag < np.uint32(0x00800000), small, x.astype(jnp.float64))


def _round32(v: Any) -> Any:
    """Round a float64 to the nearest float32 value (ties to even), kept in float64."""
    import jax.numpy as jnp
    from jax import lax

    tiny = jnp.abs(v) < _MIN_NORMAL
    # Subnormal range: a fixed-point rounding at 2^-149, all in normal float64.
    sub = lax.round(v * _SCALE_UP, lax.RoundingMethod.TO_NEAREST_EVEN) * _SCALE_DOWN
    # Not v.astype(float32).astype(float64): XLA's GPU compiler drops such convert pairs
    # (xla_allow_excess_precision); reduce_precision is kept everywhere.
    return jnp.where(tiny, sub, lax.reduce_precision(v, exponent_bits=8, mantissa_bits=23))


def _narrow(v: Any) -> Any:
    """A float64 holding a float32 value -> that float32, subnormals built from bits (FTZ)."""
    import jax.numpy as jnp
    from jax import lax

    tiny = jnp.abs(v) < _MIN_NORMAL
    mant = (jnp.abs(v) * _SCALE_UP).astype(jnp.uint32)
    sign = (lax.bitcast_convert_type(v, jnp.uint64) >> 63).astype(jnp.uint32) << 31
    bits = jnp.where(tiny, sign | mant, lax.bitcast_convert_type(v.astype(jnp.float32), jnp.uint32))
    return lax.bitcast_convert_type(bits, jnp.float32)


def _lower(p: Program, mode: str) -> tuple[Callable[..., Any], np.ndarray]:
    """(body, constants): body(x32) in native mode, body(x32, consts64) in exact mode."""
    _check_mode(mode)
    live = reachable(p)
    impls: dict[int, Callable[..., Any]] = {}
    for k, ins in enumerate(p.instrs):
        if live[k] and ins.op not in (X, CONST):
            # native: the plain float32 expression where the table gives one (fma: a*b + c)
            column = "jax_native" if mode == "native" and getattr(OPS.get(ins.op), "jax_native", None) else "jax"
            impls[k] = op_row(ins.op, "xla", column)
    if mode == "native":
        # x-independent slots become float32 literals (interpreter values), as in exported code.
        folded = constant_values(p)

        def native_body(x: Any) -> Any:
            import jax.numpy as jnp

            vals: dict[int, Any] = dict(folded)
            for k, ins in enumerate(p.instrs):
                if k in vals or not live[k]:
                    continue
                vals[k] = x if ins.op == X else _apply(impls[k], ins.op, [vals[a] for a in ins.args])
            return jnp.broadcast_to(jnp.asarray(vals[p.output], jnp.float32), x.shape)

        return native_body, np.zeros(0)

    slots = [k for k, ins in enumerate(p.instrs) if ins.op == CONST]
    consts = np.array([float(np.float32(p.instrs[k].value)) for k in slots], np.float64)

    def exact_body(x: Any, c: Any) -> Any:
        import jax.numpy as jnp

        vals: dict[int, Any] = {k: c[j] for j, k in enumerate(slots)}
        for k, ins in enumerate(p.instrs):
            if k in vals or not live[k]:
                continue
            if ins.op == X:
                vals[k] = _widen(x)
            else:
                vals[k] = _round32(_apply(impls[k], ins.op, [vals[a] for a in ins.args]))
        return _narrow(jnp.broadcast_to(vals[p.output], x.shape))

    return exact_body, consts


def _apply(fn: Callable[..., Any], name: str, args: list) -> Any:
    try:
        return fn(*args)
    except Exception as e:  # a broken table entry: name the op, keep the cause
        raise LoweringError(f"op {name!r} cannot be lowered by the xla backend: "
                            f"{type(e).__name__}: {e}") from e


def jax_function(p: Program, mode: str = "native") -> Callable[[Any], Any]:
    """A traceable (not jitted) jnp function of a float32 array: the program in `mode`.

    In exact mode it must be traced with `jax.enable_x64(True)` active."""
    body, consts = _lower(p, mode)
    if mode == "native":
        return body
    return lambda x: body(x, consts)


@dataclass
class XlaKernel:
    """A jitted program: call it on a float32 array (any shape), get a float32 numpy array."""

    program: Program
    mode: str
    _jit: Any
    _consts: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import jax

        x = np.ascontiguousarray(x, np.float32)
        try:
            if self.mode == "exact":
                with jax.enable_x64(True):
                    out = self._jit(x, self._consts)
            else:
                out = self._jit(x)
            return np.asarray(out)
        except LoweringError:
            raise
        except Exception as e:  # tracing/compiling happens on the first call per shape
            raise CompileError("xla", self.program, e) from e


def compile_xla(p: Program, mode: str = "native") -> XlaKernel:
    """The jitted program: native mode cached by program hash, exact mode by structure."""
    _check_mode(mode)
    check_lowerable(p, "xla", "jax")
    if mode == "native":
        return XlaKernel(p, mode, _native_jit(p.hash(), p), np.zeros(0))
    return XlaKernel(p, mode, _exact_jit(structure_key(p), p), _lower(p, mode)[1])


@lru_cache(maxsize=512)
def _native_jit(h: str, p: Program) -> Any:
    import jax

    return jax.jit(jax_function(p, "native"))


@lru_cache(maxsize=512)
def _exact_jit(key: str, p: Program) -> Any:
    import jax

    return jax.jit(_lower(p, "exact")[0])


def compile_seconds(p: Program, mode: str = "native", n: int = 10_000) -> float:
    """Wall time to lower, trace and compile `p` for n float32 inputs (uncached)."""
    import time

    import jax

    t0 = time.perf_counter()
    body, consts = _lower(p, mode)
    try:
        with jax.enable_x64(mode == "exact"):
            xs = jax.ShapeDtypeStruct((n,), np.float32)
            args = (xs,) if mode == "native" else (xs, jax.ShapeDtypeStruct(consts.shape, np.float64))
            jax.jit(body).lower(*args).compile()
    except LoweringError:
        raise
    except Exception as e:
        raise CompileError("xla", p, e) from e
    return time.perf_counter() - t0
