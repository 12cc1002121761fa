"""log2: float32 log2 (log2(x)), exported by evo 0.1.0 as JAX (native float32).
Kernel: t1 = x - 1; fma(fma(t1, fma(t1, fma(t1, fma(t1, fma(fma(t1, fma(t1, fma(fma(-0.11345035, t1, 0.18599992), t1, -0.1891732), 0.20441625), -0.23986757), t1, 0.28859645), -0.3606849), 0.48089707), -0.7213475), 0.44269505), t1, t1)  [11 ops]
Kernel interval: [0.7071068, 1.4142136]; max error on the interval: 0.9767 ULP, verified exhaustively on every float32 input.
Produced by: bench/kernels/log2-sqrt2-11ops-fma, member 4200, found by `evo search log2 --interval=0.7071068,1.4142136 --seed 0`.
Full range: every float32 input; log2 x = k + K(m), x = 2^k m, m in [sqrt(1/2), sqrt 2].
Its error under XLA is stated below.
JAX, native float32: plain jnp/lax code (no float64, no x64), for any JAX backend.
jax.jit, jax.vmap, jax.grad and jax.jvp apply; arrays of any shape. float32, bfloat16
and float16 are computed in float32 and returned in their dtype; float64 is refused.
fma(a, b, c) is written a * b + c: XLA fuses it into one fma (CPU, GPU) in compiled code;
the function is jitted itself, so even a call outside jax.jit runs the code measured below.
Under XLA: max error 0.9767 ULP over every float32 input (4,294,967,296 inputs), measured by running this code under jax.jit with XLA (jax 0.10.2, jaxlib 0.10.2) on cpu.
Subnormal inputs are read by their bits (exactly); a result is as the device's arithmetic makes it (CPU: subnormal results flushed to 0). Another jax version or device: `evo verify --jax` measures it there.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_K = (
    np.float32(float.fromhex("0x1p+0")),  # c1 = 1
    np.float32(float.fromhex("-0x1.d0b15p-4")),  # c3 = -0.11345035
    np.float32(float.fromhex("0x1.7ced86p-3")),  # c4 = 0.18599992
    np.float32(float.fromhex("-0x1.836d3ep-3")),  # c6 = -0.1891732
    np.float32(float.fromhex("0x1.a2a4fcp-3")),  # c8 = 0.20441625
    np.float32(float.fromhex("-0x1.eb3fbp-3")),  # c10 = -0.23986757
    np.float32(float.fromhex("0x1.2785d4p-2")),  # c12 = 0.28859645
    np.float32(float.fromhex("-0x1.715762p-2")),  # c14 = -0.3606849
    np.float32(float.fromhex("0x1.ec7048p-2")),  # c16 = 0.48089707
    np.float32(float.fromhex("-0x1.715476p-1")),  # c18 = -0.7213475
    np.float32(float.fromhex("0x1.c551dap-2")),  # c20 = 0.44269505
)


def _kernel(x):
    c1, c3, c4, c6, c8, c10, c12, c14, c16, c18, c20 = _K
    t2 = (x - c1)
    t5 = (c3 * t2 + c4)
    t7 = (t5 * t2 + c6)
    t9 = (t2 * t7 + c8)
    t11 = (t2 * t9 + c10)
    t13 = (t11 * t2 + c12)
    t15 = (t2 * t13 + c14)
    t17 = (t2 * t15 + c16)
    t19 = (t2 * t17 + c18)
    t21 = (t2 * t19 + c20)
    t22 = (t21 * t2 + t2)
    return t22


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
    ux = _f2u(x)
    sub = ux < 0x00800000
    fm = _i2f(_i32(ux))
    u = _where(sub, _f2u(fm), ux)
    d = u - 0x3F3504F4
    k = _i2f((_i32(d) >> 23) - _where(sub, 149, 0))
    y = _kernel(_u2f(u - (d & np.uint32(0xFF800000))))
    res = _add(k, y)
    res = _where(ux < 0x7F800000, res, _where(ux == 0x7F800000, x, NAN))
    return _where((sub & (_add(fm, ONE) == ONE)) | (ux == np.uint32(0x80000000)), -INF, res)


@jax.custom_jvp
def _f32(x):
    return _full_range(x)


@_f32.defjvp
def _f32_jvp(primals, tangents):
    """The derivative from the function's own value: 1 / (x ln 2) = log2(e) / x."""
    (x,), (t,) = primals, tangents
    y = _f32(x)
    ONE, ZERO, NAN, INF, LIM, MAGIC, LOG2E, LN2_HI, LN2_LO = _consts()
    return y, (LOG2E / x) * t


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


def log2(x):
    """float32 log2 on every float32 input.

    Under XLA: max error 0.9767 ULP over every float32 input (4,294,967,296 inputs), measured by running this code under jax.jit with XLA (jax 0.10.2, jaxlib 0.10.2) on cpu. Subnormal inputs are read by their bits (exactly); a result is as the device's arithmetic makes it (CPU: subnormal results flushed to 0). Another jax version or device: `evo verify --jax` measures it there.
    """
    x32, dtype = _float32_input(x, "log2")
    return _compiled(x32).astype(dtype)
