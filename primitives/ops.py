"""The op table: one row per op, everything every backend needs to know about it.

Backends (interpreter, XLA, LLVM, C/JAX/NumPy export, mpmath) read their
lowering from here and keep no op list of their own; adding an op is one row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np

from .float32 import fma32, fma64


def _llvm_intrinsic(name: str) -> Callable[[Any, list], Any]:
    """An llvmlite emitter that calls an overloaded LLVM intrinsic (llvm.fma, llvm.sqrt)."""

    def emit(builder: Any, args: list) -> Any:
        ty = args[0].type
        fn = builder.module.declare_intrinsic(name, [ty], type(builder.function.type.pointee)(ty, [ty] * len(args)))
        return builder.call(fn, args)

    return emit


def _jnp() -> Any:
    import jax.numpy as jnp  # lazy: the table must not pull in jax at import

    return jnp


def _jax_fma(a: Any, b: Any, c: Any) -> Any:
    """Correctly rounded float32 fma in JAX (which has no fma primitive).

    Computed through float64 with round-to-odd, exactly as `fma32`: needs
    `jax_enable_x64`. On float64 arrays holding float32 values it returns the
    round-to-odd float64 sum itself (its rounding to float32 is the fma), which
    the XLA backend's exact mode rounds without going through float32 hardware
    ops (those flush subnormals under XLA). Native float32 code writes a*b + c.
    """
    from jax import lax

    jnp = _jnp()
    p = a.astype(jnp.float64) * b.astype(jnp.float64)
    c64 = c.astype(jnp.float64)
    s = p + c64
    bb = s - p
    err = (p - (s - bb)) + (c64 - bb)
    bits = lax.bitcast_convert_type(s, jnp.uint64)
    fix = (err != 0) & ((bits & 1) == 0) & jnp.isfinite(err)
    s = jnp.where(fix, jnp.nextafter(s, jnp.where(err > 0, jnp.inf, -jnp.inf)), s)
    return s if a.dtype == jnp.float64 else s.astype(jnp.float32)


@dataclass(frozen=True)
class Op:
    """One primitive operation.

    f32/f64: numpy reference implementations (f32 is the definition of float32
    semantics: one IEEE round-to-nearest-even per op). exact: the real meaning,
    on mpmath numbers. c: C99 expression template over {0}, {1}, ... jax:
    function of jnp arrays: on float32 arrays the float32 result; on float64
    arrays holding float32 values a float64 whose round-to-nearest float32 is
    the correctly rounded result (the XLA backend's exact mode; plain float64
    +, -, *, /, sqrt qualify since 53 >= 2*24 + 2 bits). jax_native: the plain
    float32 expression the XLA backend's native mode uses where it differs from
    jax (fma: a*b + c, which XLA CPU contracts into a fused fma; its probe checks).
    llvm: emitter (builder, [values]) -> value.
    partials: the derivative with respect to each argument (float64 arrays),
    so constants can be fitted by Gauss-Newton through any program.
    """

    name: str
    arity: int
    commute: int  # how many leading arguments are interchangeable (0 or 2)
    f32: Callable[..., np.ndarray]
    f64: Callable[..., np.ndarray]
    exact: Callable[..., Any]
    c: str
    jax: Callable[..., Any]
    llvm: Callable[[Any, list], Any]
    partials: Callable[..., tuple] | None = None  # float64 d op / d arg_k, for constant fitting
    cost: float = 1.0
    symbol: str = ""  # infix symbol for rendering binary ops; "" = function call
    jax_native: Callable[..., Any] | None = None  # XLA native mode, where it differs from jax

    @property
    def commutative(self) -> bool:
        return self.commute >= 2


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op("add", 2, 2, np.add, np.add, lambda a, b: a + b, "({0} + {1})",
           lambda a, b: a + b, lambda b, a: b.fadd(*a), lambda a, b: (1.0, 1.0), symbol="+"),
        Op("sub", 2, 0, np.subtract, np.subtract, lambda a, b: a - b, "({0} - {1})",
           lambda a, b: a - b, lambda b, a: b.fsub(*a), lambda a, b: (1.0, -1.0), symbol="-"),
        Op("mul", 2, 2, np.multiply, np.multiply, lambda a, b: a * b, "({0} * {1})",
           lambda a, b: a * b, lambda b, a: b.fmul(*a), lambda a, b: (b, a), symbol="*"),
        Op("div", 2, 0, np.divide, np.divide, lambda a, b: a / b, "({0} / {1})",
           lambda a, b: a / b, lambda b, a: b.fdiv(*a), lambda a, b: (1.0 / b, -a / (b * b)), symbol="/"),
        # fma(a, b, c) = a*b + c with ONE rounding; commutative in a, b only.
        Op("fma", 3, 2, fma32, fma64, lambda a, b, c: a * b + c, "fmaf({0}, {1}, {2})",
           _jax_fma, _llvm_intrinsic("llvm.fma"), lambda a, b, c: (b, a, 1.0),
           jax_native=lambda a, b, c: a * b + c),
        Op("neg", 1, 0, np.negative, np.negative, lambda a: -a, "(-{0})",
           lambda a: -a, lambda b, a: b.fneg(a[0]), lambda a: (-1.0,)),
        Op("sqrt", 1, 0, np.sqrt, np.sqrt, mpmath.sqrt, "sqrtf({0})",
           lambda a: _jnp().sqrt(a), _llvm_intrinsic("llvm.sqrt"), lambda a: (0.5 / np.sqrt(a),)),
    )
}

DEFAULT_SEARCH_OPS: tuple[str, ...] = ("add", "sub", "mul", "div", "fma", "neg")


def get_op(name: str) -> Op:
    """The row for `name`; one-line error naming the known ops otherwise."""
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r} (known: {', '.join(OPS)})") from None
