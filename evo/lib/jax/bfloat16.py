"""evo's bfloat16 functions, correctly rounded on every one of the 65,536 bfloat16 inputs:
exp2: 4-op kernel (member 3363 of bench/kernels/exp2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
exp: 5-op kernel (member 1390 of bench/kernels/exp2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
log2: 6-op kernel (member 12551 of bench/kernels/log2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
log: 9-op kernel (member 9820 of bench/kernels/log2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
sigmoid: 4-op kernel (member 3363 of bench/kernels/exp2-bf16-front, 4 hard cases by select); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
tanh: 6-op kernel (member 1575 of bench/kernels/exp2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked
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
    np.float32(float.fromhex("-0x1.f55478p-1")),  # c1 = -0.9791601
    np.float32(float.fromhex("0x1.0ab796p+2")),  # c2 = 4.167455
    np.float32(float.fromhex("0x1.62df3p-1")),  # c5 = 0.69310904
    np.float32(float.fromhex("0x1.ffffc6p-1")),  # c6 = 0.9999983
)


def _kernel_exp2(x):
    c1, c2, c5, c6 = _K_exp2
    t3 = (x * c1 + c2)
    t4 = (x / t3)
    t7 = (x * c5 + c6)
    t8 = (x * t4 + t7)
    return t8


def _reduce_exp2(x):
    """The exact reduction."""
    x = jnp.maximum(x, -160.0)   # below it every result is the same
    magic = lax.optimization_barrier(MAGIC)   # or XLA folds x - ((x + M) - M) to 0
    t = x + magic
    return x - (t - magic), t


def _rebuild_exp2(x, y, t):
    bits = _f2i(y) + (_f2i(t) << 23)
    scale = _i2f((_f2i(t) + (7 - -126 + 127 - 0x4B400000)) << 23)   # 2^(k + bits - emin); k >= -160
    m = _f2i(_fma(y, scale, lax.optimization_barrier(MAGIC)))     # MAGIC's bits + m; << 16 drops MAGIC's
    bits = jnp.where(t <= MAGIC + np.float32(-126), m << 16, bits)
    out = jnp.where(x >= np.float32(128.0), np.float32(np.inf), _i2f(bits))
    return jnp.where(x != x, x, out)


@jax.custom_jvp
def _exp2_f(x):
    x32 = x.astype(jnp.float32)
    r, t = _reduce_exp2(x32)
    y = _kernel_exp2(r)
    out = _rebuild_exp2(x32, y, t)
    return out.astype(jnp.bfloat16)


@_exp2_f.defjvp
def _exp2_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _exp2_f(x)
    return y, ((y.astype(jnp.float32) * np.float32(0.6931472)) * t.astype(jnp.float32)).astype(jnp.bfloat16)


_exp2_jit = jax.jit(_exp2_f)


def exp2(x):
    """bfloat16 exp2(x), correctly rounded on every bfloat16 input (its kernel: 4-op kernel (member 3363 of bench/kernels/exp2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to bfloat16 first; the result is bfloat16; jit, vmap and grad apply."""
    return _exp2_jit(jnp.asarray(x).astype(jnp.bfloat16))


_K_exp = (
    np.float32(float.fromhex("0x1.289b9ap-9")),  # c1 = 0.002262938
    np.float32(float.fromhex("0x1.4c0afcp-7")),  # c2 = 0.010133145
    np.float32(float.fromhex("0x1.c636f6p-5")),  # c4 = 0.05544613
    np.float32(float.fromhex("0x1.ebcf0ep-3")),  # c6 = 0.24014102
    np.float32(float.fromhex("0x1.62e2e2p-1")),  # c8 = 0.6931372
    np.float32(float.fromhex("0x1.00003ap+0")),  # c10 = 1.0000035
)


def _kernel_exp(x):
    c1, c2, c4, c6, c8, c10 = _K_exp
    t3 = (x * c1 + c2)
    t5 = (t3 * x + c4)
    t7 = (t5 * x + c6)
    t9 = (t7 * x + c8)
    t11 = (x * t9 + c10)
    return t11


def _reduce_exp(x):
    """The exact reduction."""
    x = jnp.maximum(x, -110.90354888959125)   # below it every result is the same
    s = x * np.float32(1.44268798828125)
    magic = lax.optimization_barrier(MAGIC)   # or XLA folds s - ((s + M) - M) to 0
    t = s + magic
    return _fma(x, np.float32(7.052607543300837e-06), s - (t - magic)), t


def _rebuild_exp(x, y, t):
    bits = _f2i(y) + (_f2i(t) << 23)
    scale = _i2f((_f2i(t) + (7 - -126 + 127 - 0x4B400000)) << 23)   # 2^(k + bits - emin); k >= -160
    m = _f2i(_fma(y, scale, lax.optimization_barrier(MAGIC)))     # MAGIC's bits + m; << 16 drops MAGIC's
    bits = jnp.where(t <= MAGIC + np.float32(-126), m << 16, bits)
    out = jnp.where(x >= np.float32(89.0), np.float32(np.inf), _i2f(bits))
    return jnp.where(x != x, x, out)


@jax.custom_jvp
def _exp_f(x):
    x32 = x.astype(jnp.float32)
    r, t = _reduce_exp(x32)
    y = _kernel_exp(r)
    out = _rebuild_exp(x32, y, t)
    return out.astype(jnp.bfloat16)


@_exp_f.defjvp
def _exp_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _exp_f(x)
    return y, ((y.astype(jnp.float32)) * t.astype(jnp.float32)).astype(jnp.bfloat16)


_exp_jit = jax.jit(_exp_f)


def exp(x):
    """bfloat16 exp(x), correctly rounded on every bfloat16 input (its kernel: 5-op kernel (member 1390 of bench/kernels/exp2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to bfloat16 first; the result is bfloat16; jit, vmap and grad apply."""
    return _exp_jit(jnp.asarray(x).astype(jnp.bfloat16))


_K_log2 = (
    np.float32(float.fromhex("-0x1.0170b4p-5")),  # c3 = -0.03142581
    np.float32(float.fromhex("0x1.3e3642p-3")),  # c4 = 0.15537693
    np.float32(float.fromhex("-0x1.2012bep-1")),  # c6 = -0.562643
    np.float32(float.fromhex("-0x1.049f48p-2")),  # c8 = -0.25451386
)


def _kernel_log2(x):
    c3, c4, c6, c8 = _K_log2
    t1 = (x / x)
    t2 = (t1 - x)
    t5 = (x * c3 + c4)
    t7 = (x * t5 + c6)
    t9 = (x * t7 + c8)
    t10 = (t2 / t9)
    return t10


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
    return out.astype(jnp.bfloat16)


@_log2_f.defjvp
def _log2_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _log2_f(x)
    return y, ((np.float32(1.442695) / x.astype(jnp.float32)) * t.astype(jnp.float32)).astype(jnp.bfloat16)


_log2_jit = jax.jit(_log2_f)


def log2(x):
    """bfloat16 log2(x), correctly rounded on every bfloat16 input (its kernel: 6-op kernel (member 12551 of bench/kernels/log2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to bfloat16 first; the result is bfloat16; jit, vmap and grad apply."""
    return _log2_jit(jnp.asarray(x).astype(jnp.bfloat16))


_K_log = (
    np.float32(float.fromhex("-0x1.5815fep-8")),  # c3 = -0.0052503343
    np.float32(float.fromhex("0x1.4c394p-4")),  # c4 = 0.081109285
    np.float32(float.fromhex("-0x1.478238p-3")),  # c6 = -0.15991634
    np.float32(float.fromhex("0x1.d2efbap-3")),  # c8 = 0.2279963
    np.float32(float.fromhex("0x1.0a474ep-2")),  # c10 = 0.26003763
    np.float32(float.fromhex("0x1.4d3292p-1")),  # c12 = 0.65077645
    np.float32(float.fromhex("-0x1.c06088p-5")),  # c14 = -0.05473353
)


def _kernel_log(x):
    c3, c4, c6, c8, c10, c12, c14 = _K_log
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
    return out.astype(jnp.bfloat16)


@_log_f.defjvp
def _log_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _log_f(x)
    return y, ((1 / x.astype(jnp.float32)) * t.astype(jnp.float32)).astype(jnp.bfloat16)


_log_jit = jax.jit(_log_f)


def log(x):
    """bfloat16 log(x), correctly rounded on every bfloat16 input (its kernel: 9-op kernel (member 9820 of bench/kernels/log2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to bfloat16 first; the result is bfloat16; jit, vmap and grad apply."""
    return _log_jit(jnp.asarray(x).astype(jnp.bfloat16))


_K_sigmoid = (
    np.float32(float.fromhex("-0x1.f55478p-1")),  # c1 = -0.9791601
    np.float32(float.fromhex("0x1.0ad096p+2")),  # c2 = 4.168981
    np.float32(float.fromhex("0x1.62d43p-1")),  # c5 = 0.6930251
    np.float32(float.fromhex("0x1.000006p+0")),  # c6 = 1.0000004
)


def _kernel_sigmoid(x):
    c1, c2, c5, c6 = _K_sigmoid
    t3 = (x * c1 + c2)
    t4 = (x / t3)
    t7 = (x * c5 + c6)
    t8 = (x * t4 + t7)
    return t8


def _reduce_sigmoid(x):
    """The exact reduction."""
    x = -jnp.abs(x)   # e^z, z = -|x|
    x = jnp.maximum(x, -110.90354888959125)   # below it every result is the same
    s = x * np.float32(1.44268798828125)
    magic = lax.optimization_barrier(MAGIC)   # or XLA folds s - ((s + M) - M) to 0
    t = s + magic
    return _fma(x, np.float32(7.052607543300837e-06), s - (t - magic)), t


def _rebuild_sigmoid(x, y, t):
    """E = e^-|x| = y * 2^k; sigmoid = 1 / (1 + E) for x >= 0, E / (1 + E) below. Where the
    result is subnormal (bfloat16, x < -87) it is e^x's rounding, built from the bits."""
    bits = _f2i(y) + (_f2i(t) << 23)
    scale = _i2f((_f2i(t) + (7 - -126 + 127 - 0x4B400000)) << 23)   # 2^(k + bits - emin); k >= -160
    m = _f2i(_fma(y, scale, lax.optimization_barrier(MAGIC)))     # MAGIC's bits + m; << 16 drops MAGIC's
    bits = jnp.where(t <= MAGIC + np.float32(-126), m << 16, bits)
    e = _i2f(bits)
    out = jnp.where(x >= 0, np.float32(1), e) / (np.float32(1) + e)
    out = jnp.where((t <= MAGIC + np.float32(-126)) & (x < 0), e, out)
    return jnp.where(x != x, x, out)


@jax.custom_jvp
def _sigmoid_f(x):
    x32 = x.astype(jnp.float32)
    r, t = _reduce_sigmoid(x32)
    y = _kernel_sigmoid(r)
    y = jnp.where(r == np.float32(-0.1021634042263031), np.float32(0.9296875), y)   # hard case
    y = jnp.where(r == np.float32(0.46713653206825256), np.float32(1.3753373622894287), y)   # hard case
    y = jnp.where(r == np.float32(0.4815314710140228), np.float32(1.390737771987915), y)   # hard case
    y = jnp.where(r == np.float32(0.4877301752567291), np.float32(1.3984375), y)   # hard case
    out = _rebuild_sigmoid(x32, y, t)
    return out.astype(jnp.bfloat16)


@_sigmoid_f.defjvp
def _sigmoid_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _sigmoid_f(x)
    return y, ((y.astype(jnp.float32) * (1 - y.astype(jnp.float32))) * t.astype(jnp.float32)).astype(jnp.bfloat16)


_sigmoid_jit = jax.jit(_sigmoid_f)


def sigmoid(x):
    """bfloat16 sigmoid(x), correctly rounded on every bfloat16 input (its kernel: 4-op kernel (member 3363 of bench/kernels/exp2-bf16-front, 4 hard cases by select); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to bfloat16 first; the result is bfloat16; jit, vmap and grad apply."""
    return _sigmoid_jit(jnp.asarray(x).astype(jnp.bfloat16))


_K_tanh = (
    np.float32(float.fromhex("0x1.2f37fp-7")),  # c1 = 0.009253494
    np.float32(float.fromhex("-0x1.2ff5fcp-8")),  # c2 = -0.004638075
    np.float32(float.fromhex("0x1.323cb8p-8")),  # c4 = 0.0046728086
    np.float32(float.fromhex("0x1.cab8c6p-5")),  # c6 = 0.05599631
    np.float32(float.fromhex("0x1.ec872ep-3")),  # c8 = 0.24049221
    np.float32(float.fromhex("0x1.62f7d6p-1")),  # c10 = 0.6932971
    np.float32(float.fromhex("0x1.0002cp+0")),  # c12 = 1.000042
)


def _kernel_tanh(x):
    c1, c2, c4, c6, c8, c10, c12 = _K_tanh
    t3 = (c1 * x + c2)
    t5 = (t3 * x + c4)
    t7 = (x * t5 + c6)
    t9 = (x * t7 + c8)
    t11 = (t9 * x + c10)
    t13 = (x * t11 + c12)
    return t13


def _reduce_tanh(x):
    """The exact reduction."""
    x = -2 * jnp.abs(x)   # e^z, z = -2|x| (exact)
    x = jnp.maximum(x, -83.0)   # below it every result is the same
    s = x * np.float32(1.44268798828125)
    magic = lax.optimization_barrier(MAGIC)   # or XLA folds s - ((s + M) - M) to 0
    t = s + magic
    return _fma(x, np.float32(7.052607543300837e-06), s - (t - magic)), t


def _rebuild_tanh(x, y, t):
    """E = e^-2|x| = y * 2^k (a normal float32); tanh = sign(x) (1 - E) / (1 + E), and x itself
    where |x| is small enough for tanh(x) to round to it (and 1 - E to cancel)."""
    e = _i2f(_f2i(y) + (_f2i(t) << 23))
    out = jnp.where(jnp.abs(x) < np.float32(0.03125), x, jnp.copysign((1 - e) / (1 + e), x))
    return jnp.where(x != x, x, out)


@jax.custom_jvp
def _tanh_f(x):
    x32 = x.astype(jnp.float32)
    r, t = _reduce_tanh(x32)
    y = _kernel_tanh(r)
    out = _rebuild_tanh(x32, y, t)
    return out.astype(jnp.bfloat16)


@_tanh_f.defjvp
def _tanh_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _tanh_f(x)
    return y, ((1 - y.astype(jnp.float32) * y.astype(jnp.float32)) * t.astype(jnp.float32)).astype(jnp.bfloat16)


_tanh_jit = jax.jit(_tanh_f)


def tanh(x):
    """bfloat16 tanh(x), correctly rounded on every bfloat16 input (its kernel: 6-op kernel (member 1575 of bench/kernels/exp2-bf16-front); 0 of 65,536 misrounded under jax.jit on the CPU; its C form 0 misrounded, every input checked).
    The input is cast to bfloat16 first; the result is bfloat16; jit, vmap and grad apply."""
    return _tanh_jit(jnp.asarray(x).astype(jnp.bfloat16))


__all__ = ['exp2', 'exp', 'log2', 'log', 'sigmoid', 'tanh']
