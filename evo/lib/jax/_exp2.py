"""exp2: float32 exp2 (exp2(x)), exported by evo 0.1.0 as JAX (native float32).
Kernel: fma(x, fma(x, fma(x, fma(fma(x, x, 59.47297), fma(x, 0.00016168114, 0.0013419865), -0.024309244), 0.24022669), 0.69314724), 1)  [6 ops]
Kernel interval: [-0.5, 0.5]; max error on the interval: 0.805 ULP, verified exhaustively on every float32 input.
Produced by: bench/kernels/exp2-sym-6ops, member 714, found by `evo search exp2 --interval=-0.5,0.5 --budget 25m --seed 7`.
Full range: every float32 input; 2^x = K(r) * 2^k, k = round(x), r = x - k in [-0.5, 0.5] (exact).
Its error under XLA is stated below.
JAX, native float32: plain jnp/lax code (no float64, no x64), for any JAX backend.
jax.jit, jax.vmap, jax.grad and jax.jvp apply; arrays of any shape. float32, bfloat16
and float16 are computed in float32 and returned in their dtype; float64 is refused.
fma(a, b, c) is written a * b + c: XLA fuses it into one fma (CPU, GPU) in compiled code;
the function is jitted itself, so even a call outside jax.jit runs the code measured below.
Under XLA: max error 0.805 ULP over every float32 input whose result is normal (4,294,967,296 inputs, 1,703,935 of them with a subnormal result: 1,703,935 of those came out 0, as XLA on CPU flushes subnormals), measured by running this code under jax.jit with XLA (jax 0.10.2, jaxlib 0.10.2) on cpu.
Subnormal inputs are read by their bits (exactly); a result is as the device's arithmetic makes it (CPU: subnormal results flushed to 0). Another jax version or device: `evo verify --jax` measures it there.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_K = (
    np.float32(float.fromhex("0x1.dbc8a4p+5")),  # c1 = 59.47297
    np.float32(float.fromhex("0x1.5311e6p-13")),  # c3 = 0.00016168114
    np.float32(float.fromhex("0x1.5fcb3p-10")),  # c4 = 0.0013419865
    np.float32(float.fromhex("-0x1.8e485cp-6")),  # c6 = -0.024309244
    np.float32(float.fromhex("0x1.ebfbf8p-3")),  # c8 = 0.24022669
    np.float32(float.fromhex("0x1.62e432p-1")),  # c10 = 0.69314724
    np.float32(float.fromhex("0x1p+0")),  # c12 = 1
)


def _kernel(x):
    c1, c3, c4, c6, c8, c10, c12 = _K
    t2 = (x * x + c1)
    t5 = (x * c3 + c4)
    t7 = (t2 * t5 + c6)
    t9 = (x * t7 + c8)
    t11 = (x * t9 + c10)
    t13 = (x * t11 + c12)
    return t13


_W = (np.float32(1.0), np.float32(0.0), np.float32('nan'), np.float32('inf'), np.float32(160.0), np.float32(12582912.0), np.float32(1.4426950216293335), np.float32(0.6931471824645996), np.float32(-1.9046542121259336e-09))  # ONE, ZERO, NAN, INF, LIM, MAGIC, LOG2E, LN2_HI, LN2_LO


def _f2u(v):
    return lax.bitcast_convert_type(v, jnp.uint32)


def _u2f(u):
    return lax.bitcast_convert_type(jnp.asarray(u, jnp.uint32), jnp.float32)


def _i32(u):
    return lax.bitcast_convert_type(jnp.asarray(u, jnp.uint32), jnp.int32)


def _i2u(i):
    return lax.bitcast_convert_type(i, jnp.uint32)


def _i2f(i):
    return jnp.asarray(i).astype(jnp.float32)


def _round(v):
    return lax.round(v, lax.RoundingMethod.TO_NEAREST_EVEN)


_add, _sub, _div, _floor, _where = jnp.add, jnp.subtract, jnp.divide, jnp.floor, jnp.where


def _fma(a, b, c):
    return a * b + c  # XLA contracts it into one fused multiply-add


def _ldexp(y, nb):
    """y * 2^(nb - 256) as two exact power-of-two factors (a subnormal result is flushed on CPU)."""
    h = nb >> 1
    return (y * _u2f((h - 1) << 23)) * _u2f((nb - h - 1) << 23)


def _consts():
    # Behind a barrier: XLA must not fold (x + MAGIC) - MAGIC into x (the wrappers that round
    # that way; the native exps round by lax.round and need no barrier, but it costs nothing).
    return lax.optimization_barrier(_W)


def _full_range(x):
    ONE, ZERO, NAN, INF, LIM, MAGIC, LOG2E, LN2_HI, LN2_LO = _consts()
    t = _add(x, MAGIC)
    y = _kernel(_sub(x, _sub(t, MAGIC)))
    res = _u2f(_f2u(y) + (_f2u(t) << 23))
    res = _where(x < np.float32(-126.0), ZERO, res)
    return _where(x <= np.float32(127.99999237060547), res, x + INF)


@jax.custom_jvp
def _f32(x):
    return _full_range(x)


@_f32.defjvp
def _f32_jvp(primals, tangents):
    """The derivative from the function's own value: 2^x ln 2 = y * ln 2."""
    (x,), (t,) = primals, tangents
    y = _f32(x)
    ONE, ZERO, NAN, INF, LIM, MAGIC, LOG2E, LN2_HI, LN2_LO = _consts()
    return y, (y * LN2_HI) * t


_compiled = jax.jit(_f32)


def _float32_input(x, name):
    """The dtype rule: float32, bfloat16 and float16 are computed in float32 and returned in
    their dtype; Python numbers, integers and booleans become float32; float64 is refused."""
    if isinstance(x, (bool, int, float)):
        return jnp.asarray(x, jnp.float32), jnp.float32
    x = jnp.asarray(x)
    if x.dtype == jnp.float64:
        raise TypeError(f"{name} is a float32 function: cast float64 input to float32 (or use a float64 function)")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return x.astype(jnp.float32), jnp.float32
    return x.astype(jnp.float32), x.dtype


def exp2(x):
    """float32 exp2 on every float32 input.

    Under XLA: max error 0.805 ULP over every float32 input whose result is normal (4,294,967,296 inputs, 1,703,935 of them with a subnormal result: 1,703,935 of those came out 0, as XLA on CPU flushes subnormals), measured by running this code under jax.jit with XLA (jax 0.10.2, jaxlib 0.10.2) on cpu. Subnormal inputs are read by their bits (exactly); a result is as the device's arithmetic makes it (CPU: subnormal results flushed to 0). Another jax version or device: `evo verify --jax` measures it there.
    """
    x32, dtype = _float32_input(x, "exp2")
    return _compiled(x32).astype(dtype)
