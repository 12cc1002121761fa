"""exp: float32 exp (exp(x)), exported by evo 0.1.0 as JAX (native float32).
Kernel: t1 = fma(x, 0.038931474, 0.02319032); fma(x, fma(x, fma((t1 * (x - -4.3444667)), fma(x, t1, 0.854407), 0.41391966), 1.0000001), 1)  [7 ops]
Kernel interval: [-0.3465735912322998, 0.3465735912322998]; max error on the interval: 0.8028 ULP, verified exhaustively on every float32 input.
Produced by: bench/kernels/exp-7ops, member 2158, found by `evo search exp --budget 10m --seed 0`.
Full range: every float32 input; e^x = K(r) * 2^k, k = round(x/ln2), r = x - k*ln2 (Cody-Waite, fma).
Its error under XLA is stated below.
JAX, native float32: plain jnp/lax code (no float64, no x64), for any JAX backend.
jax.jit, jax.vmap, jax.grad and jax.jvp apply; arrays of any shape. float32, bfloat16
and float16 are computed in float32 and returned in their dtype; float64 is refused.
fma(a, b, c) is written a * b + c: XLA fuses it into one fma (CPU, GPU) in compiled code;
the function is jitted itself, so even a call outside jax.jit runs the code measured below.
Under XLA: max error 0.9632 ULP over every float32 input whose result is normal (4,294,967,296 inputs, 2,180,453 of them with a subnormal result: 2,180,453 of those came out 0, as XLA on CPU flushes subnormals), measured by running this code under jax.jit with XLA (jax 0.10.2, jaxlib 0.10.2) on cpu.
Subnormal inputs are read by their bits (exactly); a result is as the device's arithmetic makes it (CPU: subnormal results flushed to 0). Another jax version or device: `evo verify --jax` measures it there.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_K = (
    np.float32(float.fromhex("0x1.3eed38p-5")),  # c1 = 0.038931474
    np.float32(float.fromhex("0x1.7bf34p-6")),  # c2 = 0.02319032
    np.float32(float.fromhex("-0x1.160bbep+2")),  # c4 = -4.3444667
    np.float32(float.fromhex("0x1.b574d6p-1")),  # c7 = 0.854407
    np.float32(float.fromhex("0x1.a7da8ep-2")),  # c9 = 0.41391966
    np.float32(float.fromhex("0x1.000002p+0")),  # c11 = 1.0000001
    np.float32(float.fromhex("0x1p+0")),  # c13 = 1
)


def _kernel(x):
    c1, c2, c4, c7, c9, c11, c13 = _K
    t3 = (x * c1 + c2)
    t5 = (x - c4)
    t6 = (t3 * t5)
    t8 = (x * t3 + c7)
    t10 = (t6 * t8 + c9)
    t12 = (x * t10 + c11)
    t14 = (x * t12 + c13)
    return t14


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
    t = _fma(x, LOG2E, MAGIC)
    k = _sub(t, MAGIC)
    y = _kernel(_fma(-k, LN2_LO, _fma(-k, LN2_HI, x)))
    res = _u2f(_f2u(y) + (_f2u(t) << 23))
    res = _where(x < np.float32(-87.33654022216797), ZERO, res)
    return _where(x <= np.float32(88.72283172607422), res, x + INF)


@jax.custom_jvp
def _f32(x):
    return _full_range(x)


@_f32.defjvp
def _f32_jvp(primals, tangents):
    """The derivative from the function's own value: e^x = y."""
    (x,), (t,) = primals, tangents
    y = _f32(x)
    ONE, ZERO, NAN, INF, LIM, MAGIC, LOG2E, LN2_HI, LN2_LO = _consts()
    return y, (y) * t


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


def exp(x):
    """float32 exp on every float32 input.

    Under XLA: max error 0.9632 ULP over every float32 input whose result is normal (4,294,967,296 inputs, 2,180,453 of them with a subnormal result: 2,180,453 of those came out 0, as XLA on CPU flushes subnormals), measured by running this code under jax.jit with XLA (jax 0.10.2, jaxlib 0.10.2) on cpu. Subnormal inputs are read by their bits (exactly); a result is as the device's arithmetic makes it (CPU: subnormal results flushed to 0). Another jax version or device: `evo verify --jax` measures it there.
    """
    x32, dtype = _float32_input(x, "exp")
    return _compiled(x32).astype(dtype)
