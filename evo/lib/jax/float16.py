"""evo's float16 functions, correctly rounded on every one of the 65,536 float16 inputs:
exp2: 5-op kernel (STAND-IN: Horner quintic, written by hand, 2 hard cases by select); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
exp: 5-op kernel (STAND-IN: Horner quintic, written by hand, 5 hard cases by select); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
log2: 9-op kernel (member 9820 of bench/kernels/log2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
log: 10-op kernel (member 11844 of bench/kernels/log2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
sigmoid: 5-op kernel (STAND-IN: Horner quintic, written by hand, 1 hard inputs by select); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
"""
from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


MAGIC = np.float32(12582912.0)     # 1.5 * 2^23: t = v + MAGIC rounds v to an integer k, held in t's low bits


def _f2i(v):
    return lax.bitcast_convert_type(v, jnp.int32)


def _i2f(i):
    return lax.bitcast_convert_type(i, jnp.float32)


def _contracted(a, b, c):
    return a * b + c   # XLA contracts it into one fused multiply-add


_fma = _contracted


_K_exp2 = (
    np.float32(float.fromhex("0x1.7ec93ap-10")),  # c1 = 0.0014602129
    np.float32(float.fromhex("0x1.39c646p-7")),  # c2 = 0.009575638
    np.float32(float.fromhex("0x1.c676e2p-5")),  # c4 = 0.05547661
    np.float32(float.fromhex("0x1.ec016p-3")),  # c6 = 0.240237
    np.float32(float.fromhex("0x1.62e46cp-1")),  # c8 = 0.693149
    np.float32(float.fromhex("0x1p+0")),  # c10 = 1
)


def _kernel_exp2(x):
    c1, c2, c4, c6, c8, c10 = _K_exp2
    t3 = (c1 * x + c2)
    t5 = (t3 * x + c4)
    t7 = (t5 * x + c6)
    t9 = (t7 * x + c8)
    t11 = (t9 * x + c10)
    return t11


def _reduce_exp2(x):
    """The exact reduction."""
    x = jnp.maximum(x, -27.0)   # below it every result is the same
    magic = lax.optimization_barrier(MAGIC)   # or XLA folds x - ((x + M) - M) to 0
    t = x + magic
    return x - (t - magic), t


def _rebuild_exp2(x, y, t):
    bits = _f2i(y) + (_f2i(t) << 23)
    out = jnp.where(x >= np.float32(16.0), np.float32(np.inf), _i2f(bits))
    return jnp.where(x != x, x, out)


@jax.custom_jvp
def _exp2_f(x):
    x32 = x.astype(jnp.float32)
    r, t = _reduce_exp2(x32)
    y = _kernel_exp2(r)
    y = jnp.where(r == np.float32(-0.034576416015625), np.float32(0.9765625), y)   # hard case
    y = jnp.where(r == np.float32(0.0007042884826660156), np.float32(1.0009765625), y)   # hard case
    out = _rebuild_exp2(x32, y, t)
    return out.astype(jnp.float16)


@_exp2_f.defjvp
def _exp2_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _exp2_f(x)
    return y, ((y.astype(jnp.float32) * np.float32(0.6931472)) * t.astype(jnp.float32)).astype(jnp.float16)


_exp2_jit = jax.jit(_exp2_f)


def exp2(x):
    """float16 exp2(x), correctly rounded on every float16 input (its kernel: 5-op kernel (STAND-IN: Horner quintic, written by hand, 2 hard cases by select); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to float16 first; the result is float16; jit, vmap and grad apply."""
    return _exp2_jit(jnp.asarray(x).astype(jnp.float16))


_K_exp = (
    np.float32(float.fromhex("0x1.5dd46ap-10")),  # c1 = 0.0013344946
    np.float32(float.fromhex("0x1.3e5b98p-7")),  # c2 = 0.009715509
    np.float32(float.fromhex("0x1.c6befep-5")),  # c4 = 0.055510994
    np.float32(float.fromhex("0x1.ebf6e4p-3")),  # c6 = 0.240217
    np.float32(float.fromhex("0x1.62e426p-1")),  # c8 = 0.6931469
    np.float32(float.fromhex("0x1p+0")),  # c10 = 1
)


def _kernel_exp(x):
    c1, c2, c4, c6, c8, c10 = _K_exp
    t3 = (c1 * x + c2)
    t5 = (t3 * x + c4)
    t7 = (t5 * x + c6)
    t9 = (t7 * x + c8)
    t11 = (t9 * x + c10)
    return t11


def _reduce_exp(x):
    """The exact reduction."""
    x = jnp.maximum(x, -18.714973875118524)   # below it every result is the same
    s = x * np.float32(1.442626953125)
    magic = lax.optimization_barrier(MAGIC)   # or XLA folds s - ((s + M) - M) to 0
    t = s + magic
    return _fma(x, np.float32(6.808776379330084e-05), s - (t - magic)), t


def _rebuild_exp(x, y, t):
    bits = _f2i(y) + (_f2i(t) << 23)
    out = jnp.where(x >= np.float32(11.09375), np.float32(np.inf), _i2f(bits))
    return jnp.where(x != x, x, out)


@jax.custom_jvp
def _exp_f(x):
    x32 = x.astype(jnp.float32)
    r, t = _reduce_exp(x32)
    y = _kernel_exp(r)
    y = jnp.where(r == np.float32(-0.2801831364631653), np.float32(0.82373046875), y)   # hard case
    y = jnp.where(r == np.float32(-0.1754387766122818), np.float32(0.8857421875), y)   # hard case
    y = jnp.where(r == np.float32(0.01052809040993452), np.float32(1.0068359375), y)   # hard case
    y = jnp.where(r == np.float32(0.03273449093103409), np.float32(1.0224609375), y)   # hard case
    y = jnp.where(r == np.float32(0.22701433300971985), np.float32(1.1708984375), y)   # hard case
    out = _rebuild_exp(x32, y, t)
    return out.astype(jnp.float16)


@_exp_f.defjvp
def _exp_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _exp_f(x)
    return y, ((y.astype(jnp.float32)) * t.astype(jnp.float32)).astype(jnp.float16)


_exp_jit = jax.jit(_exp_f)


def exp(x):
    """float16 exp(x), correctly rounded on every float16 input (its kernel: 5-op kernel (STAND-IN: Horner quintic, written by hand, 5 hard cases by select); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to float16 first; the result is float16; jit, vmap and grad apply."""
    return _exp_jit(jnp.asarray(x).astype(jnp.float16))


_K_log2 = (
    np.float32(float.fromhex("-0x1.79144ep-15")),  # c3 = -4.4951357e-05
    np.float32(float.fromhex("-0x1.526b6ap-9")),  # c4 = -0.0025819365
    np.float32(float.fromhex("0x1.5d9ae6p-7")),  # c6 = 0.0106691
    np.float32(float.fromhex("-0x1.4cb704p-4")),  # c8 = -0.081229225
    np.float32(float.fromhex("0x1.dcf844p-2")),  # c10 = 0.4657908
    np.float32(float.fromhex("0x1.41e02cp-2")),  # c12 = 0.3143317
    np.float32(float.fromhex("-0x1.c3cf74p-7")),  # c14 = -0.013788158
)


def _kernel_log2(x):
    c3, c4, c6, c8, c10, c12, c14 = _K_log2
    t1 = (x * x)
    t2 = (t1 - x)
    t5 = (t1 * c3 + c4)
    t7 = (t5 * x + c6)
    t9 = (t1 * t7 + c8)
    t11 = (x * t9 + c10)
    t13 = (t11 * x + c12)
    t15 = (x * t13 + c14)
    t16 = (t2 / t15)
    return t16


def _reduce_log2(x):
    """The exact reduction."""
    i = _f2i(x)
    sub = i < 0x00800000           # +0 and the positive subnormals (negative inputs: NaN below)
    i = jnp.where(sub, _f2i(i.astype(jnp.float32)) - (149 << 23), i)
    j = i - 0x3f3504f3
    return _i2f((j & 0x7FFFFF) + 0x3f3504f3), (j >> 23).astype(jnp.float32)


def _rebuild_log2(x, y, e):
    i = _f2i(x)
    out = e + y
    out = jnp.where(i >= 0x7F800000, x, out)          # +inf, NaN
    out = jnp.where(i < 0, np.float32(np.nan), out)   # negative (-0 is caught next)
    return jnp.where((i & 0x7FFFFFFF) == 0, np.float32(-np.inf), out)


@jax.custom_jvp
def _log2_f(x):
    x32 = x.astype(jnp.float32)
    r, t = _reduce_log2(x32)
    y = _kernel_log2(r)
    out = _rebuild_log2(x32, y, t)
    return out.astype(jnp.float16)


@_log2_f.defjvp
def _log2_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _log2_f(x)
    return y, ((np.float32(1.442695) / x.astype(jnp.float32)) * t.astype(jnp.float32)).astype(jnp.float16)


_log2_jit = jax.jit(_log2_f)


def log2(x):
    """float16 log2(x), correctly rounded on every float16 input (its kernel: 9-op kernel (member 9820 of bench/kernels/log2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to float16 first; the result is float16; jit, vmap and grad apply."""
    return _log2_jit(jnp.asarray(x).astype(jnp.float16))


_K_log = (
    np.float32(float.fromhex("-0x1.553dd6p-9")),  # c3 = -0.0026034664
    np.float32(float.fromhex("0x1.ed0f8ap-6")),  # c4 = 0.030094037
    np.float32(float.fromhex("-0x1.e8dd24p-3")),  # c6 = -0.23870304
    np.float32(float.fromhex("0x1.9faf1p-2")),  # c8 = 0.40594125
    np.float32(float.fromhex("-0x1.669186p-1")),  # c10 = -0.700329
    np.float32(float.fromhex("0x1.50448cp+0")),  # c12 = 1.313546
    np.float32(float.fromhex("0x1.4b25e8p-3")),  # c14 = 0.1616934
    np.float32(float.fromhex("0x1.f163a6p-6")),  # c16 = 0.03035823
)


def _kernel_log(x):
    c3, c4, c6, c8, c10, c12, c14, c16 = _K_log
    t1 = (x * x)
    t2 = (t1 - x)
    t5 = (t1 * c3 + c4)
    t7 = (t5 * t1 + c6)
    t9 = (x * t7 + c8)
    t11 = (t9 * t1 + c10)
    t13 = (x * t11 + c12)
    t15 = (x * t13 + c14)
    t17 = (x * t15 + c16)
    t18 = (t2 / t17)
    return t18


def _reduce_log(x):
    """The exact reduction."""
    i = _f2i(x)
    sub = i < 0x00800000           # +0 and the positive subnormals (negative inputs: NaN below)
    i = jnp.where(sub, _f2i(i.astype(jnp.float32)) - (149 << 23), i)
    j = i - 0x3f3504f3
    return _i2f((j & 0x7FFFFF) + 0x3f3504f3), (j >> 23).astype(jnp.float32)


def _rebuild_log(x, y, e):
    i = _f2i(x)
    out = _fma(e, np.float32(0.693145751953125), _fma(e, np.float32(1.4286068e-06), y))
    out = jnp.where(i >= 0x7F800000, x, out)          # +inf, NaN
    out = jnp.where(i < 0, np.float32(np.nan), out)   # negative (-0 is caught next)
    return jnp.where((i & 0x7FFFFFFF) == 0, np.float32(-np.inf), out)


@jax.custom_jvp
def _log_f(x):
    x32 = x.astype(jnp.float32)
    r, t = _reduce_log(x32)
    y = _kernel_log(r)
    out = _rebuild_log(x32, y, t)
    return out.astype(jnp.float16)


@_log_f.defjvp
def _log_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _log_f(x)
    return y, ((1 / x.astype(jnp.float32)) * t.astype(jnp.float32)).astype(jnp.float16)


_log_jit = jax.jit(_log_f)


def log(x):
    """float16 log(x), correctly rounded on every float16 input (its kernel: 10-op kernel (member 11844 of bench/kernels/log2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to float16 first; the result is float16; jit, vmap and grad apply."""
    return _log_jit(jnp.asarray(x).astype(jnp.float16))


_K_sigmoid = (
    np.float32(float.fromhex("0x1.68d5c8p-10")),  # c1 = 0.0013764766
    np.float32(float.fromhex("0x1.3e6792p-7")),  # c2 = 0.009716936
    np.float32(float.fromhex("0x1.c69bcep-5")),  # c4 = 0.055494215
    np.float32(float.fromhex("0x1.ebf506p-3")),  # c6 = 0.24021344
    np.float32(float.fromhex("0x1.62e41cp-1")),  # c8 = 0.6931466
    np.float32(float.fromhex("0x1.000002p+0")),  # c10 = 1.0000001
)


def _kernel_sigmoid(x):
    c1, c2, c4, c6, c8, c10 = _K_sigmoid
    t3 = (c1 * x + c2)
    t5 = (t3 * x + c4)
    t7 = (t5 * x + c6)
    t9 = (t7 * x + c8)
    t11 = (t9 * x + c10)
    return t11


def _reduce_sigmoid(x):
    """The exact reduction."""
    x = -jnp.abs(x)   # e^z, z = -|x|
    x = jnp.maximum(x, -18.714973875118524)   # below it every result is the same
    s = x * np.float32(1.442626953125)
    magic = lax.optimization_barrier(MAGIC)   # or XLA folds s - ((s + M) - M) to 0
    t = s + magic
    return _fma(x, np.float32(6.808776379330084e-05), s - (t - magic)), t


def _rebuild_sigmoid(x, y, t):
    """E = e^-|x| = y * 2^k; sigmoid = 1 / (1 + E) for x >= 0, E / (1 + E) below. Where the
    result is subnormal (bfloat16, x < -87) it is e^x's rounding, built from the bits."""
    bits = _f2i(y) + (_f2i(t) << 23)
    e = _i2f(bits)
    out = jnp.where(x >= 0, np.float32(1), e) / (np.float32(1) + e)
    return jnp.where(x != x, x, out)


@jax.custom_jvp
def _sigmoid_f(x):
    x32 = x.astype(jnp.float32)
    r, t = _reduce_sigmoid(x32)
    y = _kernel_sigmoid(r)
    out = _rebuild_sigmoid(x32, y, t)
    out = jnp.where(x32 == np.float32(0.0068359375), np.float32(0.50146484375), out)   # hard input
    return out.astype(jnp.float16)


@_sigmoid_f.defjvp
def _sigmoid_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _sigmoid_f(x)
    return y, ((y.astype(jnp.float32) * (1 - y.astype(jnp.float32))) * t.astype(jnp.float32)).astype(jnp.float16)


_sigmoid_jit = jax.jit(_sigmoid_f)


def sigmoid(x):
    """float16 sigmoid(x), correctly rounded on every float16 input (its kernel: 5-op kernel (STAND-IN: Horner quintic, written by hand, 1 hard inputs by select); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to float16 first; the result is float16; jit, vmap and grad apply."""
    return _sigmoid_jit(jnp.asarray(x).astype(jnp.float16))


__all__ = ['exp2', 'exp', 'log2', 'log', 'sigmoid']
