"""Full-range bfloat16 and float16 functions as native JAX: a format's value in, the correctly
rounded value of the function out, on every one of its 65,536 inputs.

The arithmetic is float32 (as GPUs and FlashAttention compute activations) and the result is
rounded once to the format. Each function is a range reduction that is exact on the format's
inputs, a kernel K found by evo's search, and a reconstruction:

    exp2  k = round(x), r = x - k (exact);                          2^x = K(r) * 2^k
    exp   t = x * L_HI (exact: x has p bits, L_HI 24 - p), k = round(t),
          r = x * L_LO + (t - k) (one rounding, by fma);            e^x = K(r) * 2^k
    log2  x = m * 2^e, m in [sqrt(1/2), sqrt 2) from the bits;     log2 x = e + K(m)
    log   likewise;                                        log x = e ln2_hi + (e ln2_lo + K(m))

Scaling by 2^k is exact where the result is normal, so K(r) need only round correctly in
the kernel's own binade, to c / 2^k for the correctly rounded c (for the logs, to c - e or
c - e ln 2 with c's own gaps; evo.lib.small fits it so). A subnormal result is built from its bits: its integer significand is K(r) * 2^(k +
bits - emin) rounded once (XLA on CPU flushes float32 subnormals, and bfloat16's subnormals
are float32's). NaN stays NaN; exps: -inf gives 0, +inf inf; logs: +-0 give -inf, negative
inputs NaN, and a subnormal input is read by its bits (XLA on CPU reads it as 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.formats import FORMATS, Format
from ..core.ir import Program
from .jax_native import _constants, kernel_body

FUNCTIONS = ("exp2", "exp", "log2", "log", "sigmoid", "tanh")
TANH_CLIP = 83.0       # tanh: z = -2|x| >= -83, so that E = e^z is a normal float32 (k >= -120)


def tanh_small(f: Format) -> float:
    """Below it, tanh(x) = x - x^3/3 + ... rounds to x itself in the format (x^2/3 is under a
    quarter of the format's relative spacing), and 1 - E would cancel: the result is x."""
    return 2.0 ** -((f.precision + 3) // 2)
SQRT_HALF_BITS = 0x3F3504F3        # float32 sqrt(1/2): m = x / 2^e in [sqrt(1/2), sqrt 2)
LN2_HI, LN2_LO = 0.693145751953125, 1.4286068e-06    # ln 2 = hi + lo, hi of 16 bits: e * hi exact


def clip(f: Format) -> float:
    """The k below which every result is 0: with the subnormal path (bfloat16) k may go to
    -160; without it (float16, whose subnormals are float32 normals) k + 127 must stay
    positive for the exponent add, and below 2^-(bits - emin + 3) float16 rounds to 0 anyway."""
    return 160.0 if f.emin <= -126 else float(f.bits - f.emin + 3)


def log2e_split(f: Format) -> tuple[float, float]:
    """log2(e) = L_HI + L_LO with L_HI of 24 - p bits, so x * L_HI is exact for x of p bits."""
    keep = 24 - f.precision
    e = math.frexp(math.log2(math.e))[1]
    hi = round(math.log2(math.e) * 2.0 ** (keep - e)) / 2.0 ** (keep - e)
    return hi, float(np.float32(math.log2(math.e) - hi))


@dataclass(frozen=True)
class SmallFunction:
    function: str       # exp2 | exp | log2 | log
    format: str         # bfloat16 | float16
    program: Program    # the kernel: on [-0.5, 0.5] for the exps, sigmoid, tanh; [sqrt(1/2), sqrt 2] logs
    source: str = ""    # where the kernel came from and how its constants were fitted
    # (r, y): reduced arguments whose exact result lies within float32's own rounding of a
    # rounding boundary, and the kernel value that rounds correctly there (each a select)
    exceptions: tuple[tuple[float, float], ...] = ()
    # (x, result): inputs still misrounded by the float32 steps after the kernel, and their
    # correctly rounded results (each a select)
    fixes: tuple[tuple[float, float], ...] = ()

    @property
    def fmt(self) -> Format:
        return FORMATS[self.format]

    @property
    def name(self) -> str:
        return self.function


def reduce_limit(fn: SmallFunction) -> float:
    """How far below 0 the exps' reduction takes its argument (beyond, every result is the
    same: 0, or 1 for sigmoid and tanh): k >= -clip, and for tanh E = e^z stays normal."""
    lim = clip(fn.fmt) if fn.function == "exp2" else clip(fn.fmt) / math.log2(math.e)
    return min(lim, TANH_CLIP) if fn.function == "tanh" else lim


def _reduce_source(fn: SmallFunction) -> str:
    """(r, t): the reduced argument and, for the exps, t = k + MAGIC, whose low bits hold
    k = round(x * scale); for the logs, the exponent e (float32) of x = m * 2^e."""
    if fn.function in ("log2", "log"):
        return _LOG_REDUCE
    lim = reduce_limit(fn)
    clipped = f"    x = jnp.maximum(x, -{lim!r})   # below it every result is the same\n"
    if fn.function == "exp2":
        return (clipped + "    magic = lax.optimization_barrier(MAGIC)   # or XLA folds x - ((x + M) - M) to 0\n"
                "    t = x + magic\n"
                "    return x - (t - magic), t\n")
    hi, lo = log2e_split(fn.fmt)
    z = {"sigmoid": "    x = -jnp.abs(x)   # e^z, z = -|x|\n",
         "tanh": "    x = -2 * jnp.abs(x)   # e^z, z = -2|x| (exact)\n"}.get(fn.function, "")
    return (z + clipped + f"    s = x * np.float32({hi!r})\n"
            "    magic = lax.optimization_barrier(MAGIC)   # or XLA folds s - ((s + M) - M) to 0\n"
            "    t = s + magic\n"
            f"    return _fma(x, np.float32({lo!r}), s - (t - magic)), t\n")


def overflow_from(fn: SmallFunction) -> float:
    """The smallest input of the format whose correctly rounded result is +inf."""
    from targets import get_target

    from ..verification.formats import correctly_rounded_everywhere

    x, _, _, c = correctly_rounded_everywhere(get_target(fn.function), fn.fmt)
    return float(np.min(x[np.isfinite(x) & (c == np.inf)]))


_COMMON = '''
MAGIC = np.float32(12582912.0)     # 1.5 * 2^23: t = v + MAGIC rounds v to an integer k, held in t's low bits


def _f2i(v):
    return lax.bitcast_convert_type(v, jnp.int32)


def _i2f(i):
    return lax.bitcast_convert_type(i, jnp.float32)


def _contracted(a, b, c):
    return a * b + c   # XLA contracts it into one fused multiply-add


_fma = _contracted
'''

# y * 2^k, k in t's low bits: the exponent field gets k added (exact while the result is a
# normal float32: every result of float16, and bfloat16's down to 2^(emin+1)). Every select
# is on float32 or int32 (on bfloat16 XLA's CPU selects cost twice the whole function), and
# one conversion rounds at the end (XLA converts by integer arithmetic: subnormals survive it).
_REBUILD = '''
def _rebuild_{name}(x, y, t):
    bits = _f2i(y) + (_f2i(t) << 23)
{subnormal}    out = jnp.where(x >= np.float32({overflow!r}), np.float32(np.inf), _i2f(bits))
    return jnp.where(x != x, x, out)
'''

# The logs read x by its bits (a subnormal input, which XLA on CPU reads as 0, by the bits
# converted as an integer: exact), m = x / 2^e in [sqrt(1/2), sqrt 2) exactly.
_LOG_REDUCE = f'''    i = _f2i(x)
    sub = i < 0x00800000           # +0 and the positive subnormals (negative inputs: NaN below)
    i = jnp.where(sub, _f2i(i.astype(jnp.float32)) - (149 << 23), i)
    j = i - {SQRT_HALF_BITS:#x}
    return _i2f((j & 0x7FFFFF) + {SQRT_HALF_BITS:#x}), (j >> 23).astype(jnp.float32)
'''

_LOG_REBUILD = '''
def _rebuild_{name}(x, y, e):
    i = _f2i(x)
    out = {combine}
    out = jnp.where(i >= 0x7F800000, x, out)          # +inf, NaN
    out = jnp.where(i < 0, np.float32(np.nan), out)   # negative (-0 is caught next)
    return jnp.where((i & 0x7FFFFFFF) == 0, np.float32(-np.inf), out)
'''

# bfloat16's subnormals are float32's, which XLA on CPU flushes in arithmetic: below
# 2^(emin+1) the result is built from its bits, m = y * 2^(k + bits - emin) rounded to an
# integer (by adding MAGIC, in float32, where it is normal): bfloat16 bits m mean
# m * 2^(emin - bits) for every m < 2^(bits+1), and they are float32's top 16 bits.
_SUBNORMAL = '''    scale = _i2f((_f2i(t) + ({bits} - {emin} + 127 - 0x4B400000)) << 23)   # 2^(k + bits - emin); k >= -160
    m = _f2i(_fma(y, scale, lax.optimization_barrier(MAGIC)))     # MAGIC's bits + m; << 16 drops MAGIC's
    bits = jnp.where(t <= MAGIC + np.float32({emin}), m << 16, bits)
'''


def module_source(functions: list[SmallFunction], doc: str, lang: str = "jax") -> str:
    """One module with a function per SmallFunction (all of one format), e.g. `exp2(x)`, for
    arrays of that format (other dtypes are cast to it). JAX: each jitted and differentiable;
    NumPy (lang "numpy"): the same steps on numpy arrays (ml_dtypes for bfloat16), the kernel
    with an exact fma (XLA contracts a * b + c into one), so both give the same bits."""
    fmts = {f.format for f in functions}
    assert len(fmts) == 1, fmts
    fmt = FORMATS[fmts.pop()]
    jax_form = lang == "jax"
    dtype = ("jnp." if jax_form else ("ml_dtypes." if fmt.name == "bfloat16" else "np.")) + fmt.name
    parts = [f'"""{doc}"""\nfrom __future__ import annotations\n',
             "import jax\nimport jax.numpy as jnp\nimport numpy as np\nfrom jax import lax\n" if jax_form
             else "import ml_dtypes\nimport numpy as np\n", _COMMON if jax_form else _NUMPY_COMMON + _COMMON]
    for fn in functions:
        name = fn.function
        if jax_form:
            kernel = kernel_body(fn.program).replace("def _kernel(x):", f"def _kernel_{name}(x):")
        else:
            from .python import _impl_block, _kernel_body

            impl = _impl_block(fn.program, "numpy", {"fma"})    # the op table's exact float32 ops
            if impl not in parts:
                parts.append(impl)
            kernel = _kernel_body(fn.program, "numpy").replace("def _kernel(x):", f"def _kernel_{name}(x):")
        kernel = kernel.replace(" = _K\n", f" = _K_{name}\n")
        template = _PUBLIC if jax_form else _PUBLIC_NUMPY
        parts += [_constants(fn.program).replace("_K = ", f"_K_{name} = "), kernel,
                  f"def _reduce_{name}(x):\n    \"\"\"The exact reduction.\"\"\"\n{_reduce_source(fn)}",
                  _rebuild_source(fn, dtype),
                  template.format(name=name, dtype=dtype, bits=fmt.bits, emin=fmt.emin, fmt=fmt.name,
                                  deriv=DERIVATIVE[name], exceptions=_exception_source(fn), fixes=_fix_source(fn),
                                  source=fn.source)]
    if not jax_form:
        parts.append("_fma = fmaf\n")
    parts.append(f"__all__ = {[fn.function for fn in functions]!r}\n")
    return "\n\n".join(p.strip("\n") + "\n" for p in parts)


# The NumPy form runs the JAX form's text on numpy: `jnp` is numpy, and `lax` the two calls made.
_NUMPY_COMMON = '''
jnp = np


class lax:  # noqa: N801 - the jax.lax calls of the JAX form, on numpy arrays
    @staticmethod
    def bitcast_convert_type(v, dtype):
        return np.asarray(v).view(dtype)

    @staticmethod
    def optimization_barrier(v):
        return v
'''

# One body for both forms (jnp is numpy in the NumPy form): reduce, kernel, hard cases,
# rebuild in float32, hard inputs, and the one rounding to the format.
_BODY = '''def _{name}_f(x):
    x32 = x.astype(jnp.float32)
    r, t = _reduce_{name}(x32)
    y = _kernel_{name}(r)
{exceptions}    out = _rebuild_{name}(x32, y, t)
{fixes}    return out.astype({dtype})
'''

_PUBLIC_NUMPY = _BODY + '''


def {name}(x):
    """{fmt} {name}(x), correctly rounded on every {fmt} input (its kernel: {source}).
    The input is cast to {fmt} first; the result is a {fmt} array."""
    with np.errstate(all="ignore"):   # NaN and overflow lanes, selected away
        return _{name}_f(np.atleast_1d(np.asarray(x).astype({dtype}))).reshape(np.shape(x))
'''


_PUBLIC = "@jax.custom_jvp\n" + _BODY + '''

@_{name}_f.defjvp
def _{name}_jvp(primals, tangents):
    """The derivative from the function's own value."""
    (x,), (t,) = primals, tangents
    y = _{name}_f(x)
    return y, (({deriv}) * t.astype(jnp.float32)).astype({dtype})


_{name}_jit = jax.jit(_{name}_f)


def {name}(x):
    """{fmt} {name}(x), correctly rounded on every {fmt} input (its kernel: {source}).
    The input is cast to {fmt} first; the result is {fmt}; jit, vmap and grad apply."""
    return _{name}_jit(jnp.asarray(x).astype({dtype}))
'''


DERIVATIVE = {"exp2": "y.astype(jnp.float32) * np.float32(0.6931472)", "exp": "y.astype(jnp.float32)",
              "log2": "np.float32(1.442695) / x.astype(jnp.float32)", "log": "1 / x.astype(jnp.float32)",
              "sigmoid": "y.astype(jnp.float32) * (1 - y.astype(jnp.float32))",
              "tanh": "1 - y.astype(jnp.float32) * y.astype(jnp.float32)"}


_SIGMOID_REBUILD = '''
def _rebuild_{name}(x, y, t):
    """E = e^-|x| = y * 2^k; sigmoid = 1 / (1 + E) for x >= 0, E / (1 + E) below. Where the
    result is subnormal (bfloat16, x < -87) it is e^x's rounding, built from the bits."""
    bits = _f2i(y) + (_f2i(t) << 23)
{subnormal}    e = _i2f(bits)
    out = jnp.where(x >= 0, np.float32(1), e) / (np.float32(1) + e)
{tiny}    return jnp.where(x != x, x, out)
'''


_TANH_REBUILD = '''
def _rebuild_{name}(x, y, t):
    """E = e^-2|x| = y * 2^k (a normal float32); tanh = sign(x) (1 - E) / (1 + E), and x itself
    where |x| is small enough for tanh(x) to round to it (and 1 - E to cancel)."""
    e = _i2f(_f2i(y) + (_f2i(t) << 23))
    out = jnp.where(jnp.abs(x) < np.float32({small!r}), x, jnp.copysign((1 - e) / (1 + e), x))
    return jnp.where(x != x, x, out)
'''


def _rebuild_source(fn: SmallFunction, dtype: str) -> str:
    f = fn.fmt
    if fn.function == "tanh":
        return _TANH_REBUILD.format(name=fn.function, small=tanh_small(f))
    if fn.function == "sigmoid":
        sub = _SUBNORMAL.format(bits=f.bits, emin=f.emin, dtype=dtype) if f.emin <= -126 else ""
        tiny = (f"    out = jnp.where((t <= MAGIC + np.float32({f.emin})) & (x < 0), e, out)\n" if sub else "")
        return _SIGMOID_REBUILD.format(name=fn.function, dtype=dtype, subnormal=sub, tiny=tiny)
    if fn.function == "log2":
        return _LOG_REBUILD.format(name=fn.function, dtype=dtype, combine="e + y")
    if fn.function == "log":
        return _LOG_REBUILD.format(name=fn.function, dtype=dtype,
                                   combine=f"_fma(e, np.float32({LN2_HI!r}), _fma(e, np.float32({LN2_LO!r}), y))")
    sub = _SUBNORMAL.format(bits=f.bits, emin=f.emin, dtype=dtype) if f.emin <= -126 else ""
    return _REBUILD.format(name=fn.function, dtype=dtype, subnormal=sub, overflow=overflow_from(fn))


def _exception_source(fn: SmallFunction) -> str:
    return "".join(f"    y = jnp.where(r == np.float32({r!r}), np.float32({y!r}), y)   # hard case\n"
                   for r, y in fn.exceptions)


def _fix_source(fn: SmallFunction) -> str:
    return "".join(f"    out = jnp.where(x32 == np.float32({x!r}), np.float32({c!r}), out)   # hard input\n"
                   for x, c in fn.fixes)
