"""Full-range float32 wrappers: range reduction + reconstruction + special values
around a kernel found on a target's reduced interval.

One wrapper per registered target that has `full_range` set (exp2, exp, log2,
log), plus exp2 for a kernel on [-0.5, 0.5] and log2 / log for a kernel on
[sqrt(1/2), sqrt(2)]. Each is written once in C (the
product) and once in array Python shared by the NumPy and JAX exports; all use
only IEEE float32 operations, fma and 32-bit integer bit manipulation, so they
agree bit for bit (the JAX export carries float32 values in float64, so XLA's
flushing of subnormals cannot touch them; see evo.codegen.python).

    exp2  k = floor(x), r = x - k in [0, 1]; 2^x = K(r) * 2^k.
          r is exact except for -0.5 < x < 0, where 1 + x is rounded: up to
          ~0.35 ULP more there (a kernel on [0, 1] cannot avoid it). With a
          kernel on [-0.5, 0.5] (target exp2 --interval -0.5,0.5): k = round(x),
          r = x - k exact for every x, so the full range has the kernel's error.
    exp   k = round(x / ln2), r = x - k*ln2 (Cody-Waite: ln2 = hi + lo, the
          first step exact by fma) in [-ln2/2, ln2/2] (a few ulp beyond, from
          rounding k); e^x = K(r) * 2^k.
    log2  x = m * 2^e, m in [1, 2): log2 x = e + K(m); for x in [sqrt(1/2), 1)
          log2 x = -log2(q) - d*log2(e), q = 1/x rounded, d = 1 - q*x exact (fma),
          so values near 1 keep their relative accuracy (no cancellation).
    log   x = m * 2^e, m in [0.5, 1): log x = e*ln2 + K(m); for x in [1, sqrt 2]
          log x = -log(q) - d likewise.
    log2, log with a kernel on [sqrt(1/2), sqrt(2)] (--interval 0.7071068,1.4142136):
          x = 2^k * m, m in [sqrt(1/2), sqrt 2] by integer operations on the bits
          (exact); log2 x = k + K(m), log x = k*ln2 + K(m). No division, no
          reciprocal path, and a fast path for positive normal x; see LOG_BUDGET
          for why this interval and the error budget.

2^k is applied as two exact power-of-two factors, so subnormal results are
rounded once (correctly) and overflow gives inf; for |x| <= a limit (125 for exp2,
86 for exp), where the result is normal, 2^k is added to the exponent bits of K(r)
instead (exact there), in every language, so `evo verify` certifies that way too.
The C array form runs blocks of inputs all within the limit (for the [sqrt(1/2),
sqrt 2] logs: all positive, normal and finite) through a fast path: the same
operations without the clamp or the special-value selects. Subnormal inputs of the logs
are normalised exactly (their integer significand as a float). Special values: NaN ->
NaN (the exps let it flow through the arithmetic: no select on the fast path),
exp(+-inf) = +inf / +0, log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, log(1) = +0.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from string import Template

import numpy as np

from primitives.float32 import f32_range
from targets import TARGETS, Target

from ..backends.c import f32_hex
from ..errors import EvoError

F32_MAX = float(np.finfo(np.float32).max)
TINY = 2.0 ** -149          # smallest subnormal
MIN_NORMAL = 2.0 ** -126


# Constants shared by the C and Python wrappers, as exact float32 hex literals.
CONSTANTS = {
    "MAGIC": f32_hex(1.5 * 2 ** 23),            # x + MAGIC rounds x to an integer (|x| < 2^22)
    "LOG2E": f32_hex(1 / math.log(2)),
    "LN2_HI": f32_hex(math.log(2)),
    "LN2_LO": f32_hex(math.log(2) - float(np.float32(math.log(2)))),
}


@dataclass(frozen=True)
class Wrapper:
    name: str                       # the target it wraps
    kernel: str                     # what the kernel must approximate, for messages
    c_body: str                     # Template: $fn (function prefix), constants
    py_body: str                    # Template: array Python (numpy and JAX)
    summary: str                    # one line for file headers
    interval: tuple[float, float] = ()  # the kernel's interval; () = the target's registered one
    c_fast: str = ""                # Template: $fn_fast(x), fn_inl for |x| <= fast_limit ("" = none)
    fast_limit: float = 0.0
    # The array form's block test: max over a block of FAST_KEY (C, of `u`, the bits of x) <= FAST_MAX
    # means every x of the block may take fn_fast. Default: |x| <= fast_limit.
    fast_key: str = ""
    fast_max: str = ""
    fast_what: str = ""             # the fast inputs, in words (comments)
    preference: int = 0             # wrapper_for: among wrappers a kernel fits, the lowest wins
    # Template: the native JAX form (evo.codegen.jax_native), "" = py_body. XLA computes both
    # sides of a select, so it has no fast path: one formula, with selects for the ends.
    py_native: str = ""
    # Where the reduction itself rounds (so the full range can be worse than the kernel): what
    # the header and `evo export` say, and which kernel interval to search instead.
    caveat: str = ""

    @property
    def described(self) -> str:
        """The header's line on the reduction, with its caveat if it has one."""
        return f"{self.summary}. CAUTION: {self.caveat}" if self.caveat else self.summary

    def __post_init__(self) -> None:
        if not self.interval:
            object.__setattr__(self, "interval", TARGETS[self.name].interval)


# -- C ---------------------------------------------------------------------------

C_HELPERS = Template("""\
static inline uint32_t ${fn}_f2u(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }
static inline float ${fn}_u2f(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }

/* y * 2^(nb - 256) for nb - 256 in [-200, 200]: two exact power-of-two factors, so a
   subnormal result is rounded once and an overflow gives inf. */
static inline float ${fn}_ldexp(float y, uint32_t nb) {
    const uint32_t h = nb >> 1;
    return (y * ${fn}_u2f((h - 1u) << 23)) * ${fn}_u2f((nb - h - 1u) << 23);
}

/* y * 2^k for a normal y and result, tb the bits of k + MAGIC: k << 23 added to the
   exponent field (MAGIC's own bits vanish in the shift). */
static inline float ${fn}_pow2k(float y, uint32_t tb) {
    return ${fn}_u2f(${fn}_f2u(y) + (tb << 23));
}
""")

# The exps: a clamp (full path only), a reduction to y = K(r) and t = k + MAGIC (shared),
# then y * 2^k. `fn_inl` (what FN computes) scales through the exponent bits when |x| is
# within the wrapper's fast limit and by two factors otherwise; `fn_fast` is fn_inl for
# |x| within the limit, without the clamp (a no-op there) and the choice.
_CLAMP_160 = """\
    /* |x| > 160 -> +-160, past overflow (128) and underflow (-150); NaN passes through
       (gcc makes these selects vmaxps/vminps, a little faster than the exp's bit test) */
    float xc = x > 160.0f ? 160.0f : x;
    xc = xc < -160.0f ? -160.0f : xc;
"""

_CORE_EXP2 = """\
    const float k = floorf(xc);
    const float t = k + $MAGIC;
    const float y = ${fn}_kernel(xc - k);  /* 2^r, r in [0, 1] */
"""

# exp2 with a kernel on [-0.5, 0.5]: k = round(x), so r = x - k is exact for every x and
# the full-range error is the kernel's own (a [0, 1] kernel adds up to ~0.35 ULP on -0.5 < x < 0).
_CORE_EXP2_SYM = """\
    const float t = xc + $MAGIC;  /* round(x) + MAGIC */
    const float k = t - $MAGIC;
    const float y = ${fn}_kernel(xc - k);  /* 2^r, r in [-0.5, 0.5], exact */
"""

_CLAMP_EXP = """\
    const uint32_t ux = ${fn}_f2u(x), ax = ux & 0x7FFFFFFFu;
    /* 128 < |x| <= inf -> +-128: e^128 overflows, e^-128 underflows; NaN passes through */
    const float xc = ax - 0x43000001u < 0x7F800000u - 0x43000000u
                     ? ${fn}_u2f((ux & 0x80000000u) | 0x43000000u) : x;
"""

_CORE_EXP = """\
    const float t = fmaf(xc, $LOG2E, $MAGIC);  /* round(x / ln2) + MAGIC */
    const float k = t - $MAGIC;
    const float r = fmaf(-k, $LN2_LO, fmaf(-k, $LN2_HI, xc));  /* the inner fma is exact */
    const float y = ${fn}_kernel(r);  /* e^r, |r| <~ ln2/2 */
"""


def _exp_c(clamp: str, core: str) -> tuple[str, str]:
    """(fn_inl, fn_fast) of an exp wrapper."""
    inl = ("static inline float ${fn}_inl(float x) {\n" + clamp + core
           + "    return (${fn}_f2u(x) & 0x7FFFFFFFu) <= ${FAST_BITS}u ? ${fn}_pow2k(y, ${fn}_f2u(t))\n"
           "           : ${fn}_ldexp(y, ${fn}_f2u(t) - 0x4B400000u + 256u);\n}\n")
    fast = ("/* ${fn}_inl for |x| <= $LIMIT */\nstatic inline float ${fn}_fast(float x) {\n"
            "    const float xc = x;\n" + core + "    return ${fn}_pow2k(y, ${fn}_f2u(t));\n}\n")
    return inl, fast


_EXP2_C, _EXP2_SYM_C, _EXP_C = (_exp_c(_CLAMP_160, _CORE_EXP2), _exp_c(_CLAMP_160, _CORE_EXP2_SYM),
                                _exp_c(_CLAMP_EXP, _CORE_EXP))


# The logs share the reduction; $EXP_BIAS, $MANT_ONE, $REC_LO/$REC_HI and the two
# result lines differ.
_C_LOG = """\
static inline float ${fn}_inl(float x) {
    const uint32_t ux = ${fn}_f2u(x), ax = ux & 0x7FFFFFFFu;
    /* subnormal x: its integer significand as a float is exact and normal */
    const int sub = ux < 0x00800000u;
    const float xn = sub ? (float)(int32_t)ux : x;
    const uint32_t un = ${fn}_f2u(xn);
    const float e = (float)((int32_t)(un >> 23) - (sub ? $EXP_BIAS + 149 : $EXP_BIAS));
    const float m = ${fn}_u2f((un & 0x007FFFFFu) | $MANT_ONE);
    /* near 1 the kernel gets q = 1/x instead, on the side where it is relatively accurate */
    const int rec = ux - ${REC_LO}u <= ${REC_HI}u - ${REC_LO}u;
    const float q = 1.0f / x;
    const float d = fmaf(-q, x, 1.0f);  /* 1 - q*x, exact */
    const float k = ${fn}_kernel(rec ? q : m);
    float res = rec ? $REC_RESULT : $RESULT;
    res = ux >= 0x7F800000u ? x + x : res;  /* +inf, NaN */
    res = ux > 0x80000000u && ax <= 0x7F800000u ? NAN : res;   /* x < 0 */
    return ax == 0u ? -INFINITY : res;  /* +-0 */
}
"""

_LOG2 = dict(EXP_BIAS="127", MANT_ONE="0x3F800000u", REC_LO="0x3F3504F3", REC_HI="0x3F7FFFFF")
_LN = dict(EXP_BIAS="126", MANT_ONE="0x3F000000u", REC_LO="0x3F800000", REC_HI="0x3FB504F3")

# The logs with a kernel on [sqrt(1/2), sqrt 2]. LOG_BUDGET says why this interval and how
# large the error can get.
LOG_BUDGET = """\
Why m in [sqrt(1/2), sqrt 2]: |K(m)| <= 1/2 (log2) or ln2/2 (log), so k + K (k*ln2 + K)
never cancels: for k != 0 the result is at least 1/2 (log2) or ln2/2 (log) in magnitude,
and the rounding of the reconstruction falls on a grid at least as coarse as the kernel's.
With m in [0.75, 1.5) instead, log2 x for k = -1, m in [sqrt 2, 1.5) is -1 + K with K in
[1/2, 0.585): the subtraction is exact (Sterbenz) but K's error, counted in ulp(K) = 2^-24,
lands on a result of ulp 2^-25: twice the kernel's error. The ends are the float32 values
of the real interval [sqrt(1/2), sqrt 2], 0x3F3504F4 to 0x3FB504F3: the float32 nearest
sqrt(1/2), 0x3F3504F3, lies below it, and with it as the lower end log2 x for
x = 0x3FB504F3 would be 1 + K(0x3F3504F3), K = -0.50000002 (ulp 2^-24), that same case.

Error budget, e = the kernel's max error in ulp(K) on its interval (`evo verify`), for
x = 2^k m; the reconstruction is one rounding (log2: k + K) or two fmas (log:
fma(k, LN2_HI, fma(k, LN2_LO, K)), LN2_HI = ln2 rounded, |LN2_LO| = 0.064 ulp of 1/4..1/2):
  k = 0       the kernel alone: e (log(1) = +0 needs K(1) = 0, which e < 1 implies).
  log2, k = +-1: |K| < 1/2 has ulp <= 2^-25, k + K in [1/2, 1) has ulp 2^-24:
              <= 0.5 + e/2.  |k| >= 2: <= 0.5 + e/4.
  log, k = +-1 and |K| >= 1/4 (m in [sqrt(1/2), e^-1/4] for k = 1, [e^1/4, sqrt 2] for
              k = -1): K and k*ln2 + K in the same binade [1/4, 1/2): the sum is exact and
              k*LN2_LO (0.064 ulp) is lost in the inner rounding: <= e + 0.064. This is the
              only place where the kernel's own error is not halved: a kernel for log
              needs e < 0.936 there.
  log, k = +-1 otherwise: ulp(K) <= ulp(result) / 2: <= 0.5 + e/2 + 0.064.
  log, |k| >= 2: |result| >= 1.04: <= 0.5 + e/4 + 0.125.
So log2 is within max(e, 0.5 + e/2) and log within max(e + 0.064, 0.564 + e/2): < 1 ULP
over all 2^32 inputs for any kernel with e < 0.87 (log2 for any e < 1). An error-free
sum (Fast2Sum of k*LN2_HI and K, then k*LN2_LO + the error) would take log to
max(e, 0.5 + e/2) for four more operations; the gain measured with the stand-in kernel
(k = 1: 0.93 -> 0.81 ULP) is not worth 20% more work in the array form.
Subnormal x = u * 2^-149: the integer u as a float is exact and normal; k -= 149. The fast path (array form, blocks of
positive normal finite x) is the same code without the subnormal and special selects.
"""

_C_LOG_SQRT2 = """\
/* x = 2^k * m, m in [sqrt(1/2), sqrt 2]: d = bits - bits(first float32 above sqrt(1/2));
   k = d >> 23 (arithmetic), m = bits - (k << 23). Exact. */
static inline float ${fn}_inl(float x) {
    const uint32_t ux = ${fn}_f2u(x), ax = ux & 0x7FFFFFFFu;
    /* +0 and positive subnormals x = ux * 2^-149: their integer significand ux as a float is
       exact and normal (an integer conversion: no arithmetic on a subnormal, which costs a
       microcode assist on some CPUs); k is corrected by 149 */
    const int sub = ux < 0x00800000u;
    const uint32_t u = sub ? ${fn}_f2u((float)(int32_t)ux) : ux;
    const uint32_t d = u - 0x3F3504F4u;
    const float k = (float)(((int32_t)d >> 23) - (sub ? 149 : 0));
    const float y = ${fn}_kernel(${fn}_u2f(u - (d & 0xFF800000u)));
    const float xn = ${fn}_u2f(u);  /* x, but normal: xn + xn below touches no subnormal */
    float res = $RESULT;
    res = ux >= 0x7F800000u ? xn + xn : res;  /* +inf, NaN (and x < 0: next line) */
    res = ux > 0x80000000u && ax <= 0x7F800000u ? NAN : res;   /* x < 0 */
    return ax == 0u ? -INFINITY : res;  /* +-0 */
}
"""

_C_LOG_SQRT2_FAST = """\
/* ${fn}_inl for positive, normal, finite x */
static inline float ${fn}_fast(float x) {
    const uint32_t u = ${fn}_f2u(x), d = u - 0x3F3504F4u;
    const float k = (float)((int32_t)d >> 23);
    const float y = ${fn}_kernel(${fn}_u2f(u - (d & 0xFF800000u)));
    return $RESULT;
}
"""

# -- array Python (numpy and JAX) ---------------------------------------------------
# Written against a small vocabulary each export defines (evo.codegen.python): values
# are "float32" in that export's representation (numpy: float32 arrays; JAX: float64
# arrays holding float32 values, so XLA's contraction and flushing cannot touch them).
# _add/_sub/_div/_fma/_floor: one correctly rounded float32 operation; _f2u/_u2f: bit casts
# to/from uint32; _i32: uint32 -> int32 bits; _i2f: small integer -> float;
# _ldexp(y, nb): y * 2^(nb - 256) rounded once; _consts(): the constants below.
# Comparisons, negation and integer arithmetic are exact and written as operators.

_PY_CONSTS = "    ONE, ZERO, NAN, INF, LIM, MAGIC, LOG2E, LN2_HI, LN2_LO = _consts()\n"

# y * 2^k, t = k + MAGIC: as the C code, through the exponent bits within the fast limit.
_PY_SCALE = """\
def _scale(x, y, t):
    fast = _u2f(_f2u(y) + (_f2u(t) << 23))
    return _where((_f2u(x) & 0x7FFFFFFF) <= $FAST_BITS, fast, _ldexp(y, _f2u(t) - 0x4B400000 + 256))
"""

_PY_EXP2 = """\
def $fn(x):
""" + _PY_CONSTS + """\
    xc = _where(x > LIM, LIM, x)
    xc = _where(xc < -LIM, -LIM, xc)
    k = _floor(xc)
    y = _kernel(_sub(xc, k))
    return _scale(x, y, _add(k, MAGIC))
"""

_PY_EXP2_SYM = """\
def $fn(x):
""" + _PY_CONSTS + """\
    xc = _where(x > LIM, LIM, x)
    xc = _where(xc < -LIM, -LIM, xc)
    t = _add(xc, MAGIC)
    k = _sub(t, MAGIC)
    y = _kernel(_sub(xc, k))
    return _scale(x, y, t)
"""

_PY_EXP = """\
def $fn(x):
""" + _PY_CONSTS + """\
    ux = _f2u(x)
    ax = ux & 0x7FFFFFFF
    xc = _where((ax - 0x43000001) < (0x7F800000 - 0x43000000), _u2f((ux & 0x80000000) | 0x43000000), x)
    t = _fma(xc, LOG2E, MAGIC)
    k = _sub(t, MAGIC)
    r = _fma(-k, LN2_LO, _fma(-k, LN2_HI, xc))
    y = _kernel(r)
    return _scale(x, y, t)
"""

_PY_LOG = """\
def $fn(x):
""" + _PY_CONSTS + """\
    ux = _f2u(x)
    ax = ux & 0x7FFFFFFF
    sub = ux < 0x00800000
    xn = _where(sub, _i2f(_i32(ux)), x)
    un = _f2u(xn)
    e = _i2f(_i32(un >> 23) - _where(sub, $EXP_BIAS + 149, $EXP_BIAS))
    m = _u2f((un & 0x007FFFFF) | $MANT_ONE)
    rec = (ux - $REC_LO) <= ($REC_HI - $REC_LO)
    q = _div(ONE, x)
    d = _fma(-q, x, ONE)
    k = _kernel(_where(rec, q, m))
    res = _where(rec, $REC_RESULT, $RESULT)
    res = _where(ux >= 0x7F800000, _add(x, x), res)
    res = _where((ux > 0x80000000) & (ax <= 0x7F800000), NAN, res)
    return _where(ax == 0, -INF, res)
"""

_PY_LOG_SQRT2 = """\
def $fn(x):
""" + _PY_CONSTS + """\
    ux = _f2u(x)
    ax = ux & 0x7FFFFFFF
    sub = ux < 0x00800000
    u = _where(sub, _f2u(_i2f(_i32(ux))), ux)
    d = u - 0x3F3504F4
    k = _i2f((_i32(d) >> 23) - _where(sub, 149, 0))
    y = _kernel(_u2f(u - (d & 0xFF800000)))
    xn = _u2f(u)
    res = $RESULT
    res = _where(ux >= 0x7F800000, _add(xn, xn), res)
    res = _where((ux > 0x80000000) & (ax <= 0x7F800000), NAN, res)
    return _where(ax == 0, -INF, res)
"""


# -- native JAX (float32 arithmetic, XLA's) -----------------------------------------------
# XLA computes both sides of every select and fuses the whole function into one loop, so
# these are written for the fewest instructions. k = round(...) by the MAGIC addition (t = k
# + MAGIC; XLA cannot fold (x + MAGIC) - MAGIC back into x: its constants pass a barrier),
# and y * 2^k straight into the exponent bits (t's bits shifted by 23 are k << 23: cheaper
# than XLA's saturating float -> int conversion), right wherever the result is normal. Below
# the first input with a normal result the result is 0 (as XLA on CPU flushes a subnormal);
# where x is not <= the last input with a finite result, x + inf: inf above it, a NaN itself
# (its payload, shifted, would land in the exponent). Huge or infinite x only reach those
# selects. $LO and $HI: those two inputs (native_thresholds).
_NATIVE_SCALE = """\
    res = _u2f(_f2u(y) + (_f2u(t) << 23))
    res = _where(x < $LO, ZERO, res)
    return _where(x <= $HI, res, x + INF)
"""

_NATIVE_EXP2_SYM = """\
def $fn(x):
""" + _PY_CONSTS + """\
    t = _add(x, MAGIC)
    y = _kernel(_sub(x, _sub(t, MAGIC)))
""" + _NATIVE_SCALE

_NATIVE_EXP = """\
def $fn(x):
""" + _PY_CONSTS + """\
    t = _fma(x, LOG2E, MAGIC)
    k = _sub(t, MAGIC)
    y = _kernel(_fma(-k, LN2_LO, _fma(-k, LN2_HI, x)))
""" + _NATIVE_SCALE

# The [sqrt(1/2), sqrt 2] logs: the reduction of _PY_LOG_SQRT2, the special values in two
# selects. Every test on the bits must be one LLVM cannot turn into a float comparison that
# XLA's flush-to-zero would then answer wrongly for a subnormal: it rewrites "the bits of x,
# sign dropped, are 0" (and what it can prove equal to it) into x == 0, true under DAZ for
# every subnormal. So +0 is told from the positive subnormals by float arithmetic on their
# integer significand (fm, never subnormal itself: fm + 1 == 1 only for fm = 0).
_NATIVE_LOG_SQRT2 = """\
def $fn(x):
""" + _PY_CONSTS + """\
    ux = _f2u(x)
    sub = ux < 0x00800000
    fm = _i2f(_i32(ux))
    u = _where(sub, _f2u(fm), ux)
    d = u - 0x3F3504F4
    k = _i2f((_i32(d) >> 23) - _where(sub, 149, 0))
    y = _kernel(_u2f(u - (d & 0xFF800000)))
    res = $RESULT
    res = _where(ux < 0x7F800000, res, _where(ux == 0x7F800000, x, NAN))
    return _where((sub & (_add(fm, ONE) == ONE)) | (ux == 0x80000000), -INF, res)
"""


def native_thresholds(target: Target) -> dict[str, str]:
    """$LO: the first float32 whose exp result is normal; $HI: the last whose result is finite."""
    with np.errstate(all="ignore"):
        sub = _edge(target.f64, lambda y: y < MIN_NORMAL, -200.0, 0.0)    # last input with a subnormal result
        hi = _edge(target.f64, np.isfinite, 0.0, 200.0)                   # last finite result
    return {"LO": f"np.float32({_next(sub)!r})", "HI": f"np.float32({hi!r})"}


def _log_wrapper(name: str, kernel: str, consts: dict[str, str], c: tuple[str, str], py: tuple[str, str],
                 summary: str, preference: int = 0) -> Wrapper:
    """A log wrapper: the shared reduction with this log's constants and its two result
    lines (x near 1, other x) in C and in Python."""
    return Wrapper(name, kernel, Template(_C_LOG).safe_substitute(consts, REC_RESULT=c[0], RESULT=c[1]),
                   Template(_PY_LOG).safe_substitute(consts, MANT_ONE=consts["MANT_ONE"].rstrip("u"),
                                                     REC_RESULT=py[0], RESULT=py[1]),
                   summary, preference=preference)


SQRT2_INTERVAL = (math.sqrt(0.5), math.sqrt(2.0))  # its float32 values: 0x3F3504F4 .. 0x3FB504F3


def _log_sqrt2_wrapper(name: str, c_result: str, py_result: str, summary: str) -> Wrapper:
    """A log wrapper for a kernel on [sqrt(1/2), sqrt 2]: the shared reduction, the
    reconstruction from k and y = K(m) in C and in Python."""
    what = {"log2": "log2(x)", "log": "log(x)"}[name]
    return Wrapper(name, f"{what} on [sqrt(1/2), sqrt(2)]", Template(_C_LOG_SQRT2).safe_substitute(RESULT=c_result),
                   Template(_PY_LOG_SQRT2).safe_substitute(RESULT=py_result), summary, SQRT2_INTERVAL,
                   c_fast=Template(_C_LOG_SQRT2_FAST).safe_substitute(RESULT=c_result),
                   fast_key="${fn}_f2u(x[j]) - 0x00800000u", fast_max="0x7EFFFFFFu",
                   fast_what="x positive, normal and finite",
                   py_native=Template(_NATIVE_LOG_SQRT2).safe_substitute(RESULT=py_result))


EXP2_FLOOR_CAVEAT = ("r = x - floor(x) = x + 1 is rounded for x in (-1, 0), and the kernel's slope adds about 1/3 "
                     "ULP there (issue 22: a 0.995 ULP kernel gave 1.338 ULP over all 2^32 inputs); a kernel "
                     "searched on [-0.5, 0.5] (evo search exp2 --interval=-0.5,0.5) gets the exact reduction "
                     "r = x - round(x)")

WRAPPERS: dict[str, Wrapper] = {
    # fast limits: k in [-125, 125] and K(r) within [0.5, 2) keep y * 2^k normal
    "exp2": Wrapper("exp2", "2^x on [0, 1]", _EXP2_C[0], _PY_EXP2,
                    "2^x = K(r) * 2^k, k = floor(x), r = x - k in [0, 1]",
                    c_fast=_EXP2_C[1], fast_limit=125.0, preference=1, caveat=EXP2_FLOOR_CAVEAT),
    "exp2-sym": Wrapper("exp2", "2^x on [-0.5, 0.5]", _EXP2_SYM_C[0], _PY_EXP2_SYM,
                        "2^x = K(r) * 2^k, k = round(x), r = x - k in [-0.5, 0.5] (exact)", (-0.5, 0.5),
                        c_fast=_EXP2_SYM_C[1], fast_limit=125.0, py_native=_NATIVE_EXP2_SYM),
    "exp": Wrapper("exp", "e^x on [-ln2/2, ln2/2]", _EXP_C[0], _PY_EXP,
                   "e^x = K(r) * 2^k, k = round(x/ln2), r = x - k*ln2 (Cody-Waite, fma)",
                   c_fast=_EXP_C[1], fast_limit=86.0, py_native=_NATIVE_EXP),
    "log2": _log_wrapper("log2", "log2(x) on [1, 2]", _LOG2, ("fmaf(-d, $LOG2E, 0.0f - k)", "e + k"),
                         ("_fma(-d, LOG2E, _sub(ZERO, k))", "_add(e, k)"),
                         "log2 x = e + K(m), m in [1, 2); for x in [sqrt(1/2), 1): -K(1/x) - d*log2(e)",
                         preference=1),
    "log": _log_wrapper("log", "log(x) on [0.5, 1]", _LN, ("(0.0f - k) - d", "fmaf(e, $LN2_HI, fmaf(e, $LN2_LO, k))"),
                        ("_sub(_sub(ZERO, k), d)", "_fma(e, LN2_HI, _fma(e, LN2_LO, k))"),
                        "log x = e*ln2 + K(m), m in [0.5, 1); for x in [1, sqrt 2]: -K(1/x) - d",
                        preference=1),
    # m in [sqrt(1/2), sqrt 2]: preferred when a kernel fits both (no reciprocal, no division,
    # a fast path); LOG_BUDGET
    "log2-sqrt2": _log_sqrt2_wrapper("log2", "k + y", "_add(k, y)",
                                     "log2 x = k + K(m), x = 2^k m, m in [sqrt(1/2), sqrt 2]"),
    "log-sqrt2": _log_sqrt2_wrapper("log", "fmaf(k, $LN2_HI, fmaf(k, $LN2_LO, y))",
                                    "_fma(k, LN2_HI, _fma(k, LN2_LO, y))",
                                    "log x = k*ln2 + K(m), x = 2^k m, m in [sqrt(1/2), sqrt 2]; "
                                    "k*ln2 = k*LN2_HI + k*LN2_LO by two fmas"),
}


# The derivative of each full-range function from its own value, in the wrappers' array
# vocabulary (x, y = the function's value, the _consts() names): what jax.custom_jvp uses.
JVP: dict[str, tuple[str, str]] = {
    "exp2": ("y * LN2_HI", "2^x ln 2 = y * ln 2"),
    "exp": ("y", "e^x = y"),
    "log2": ("LOG2E / x", "1 / (x ln 2) = log2(e) / x"),
    "log": ("ONE / x", "1 / x"),
}


def fits(w: Wrapper, interval: tuple[float, float]) -> bool:
    """Whether a kernel verified on `interval` covers every float32 the wrapper gives it:
    the float32 values of `interval` include those of the wrapper's reduced interval (so
    --interval 0.7071068,1.4142136 and [sqrt(1/2), sqrt 2] are the same kernel interval)."""
    a, b = f32_range(*interval)
    c, d = f32_range(*w.interval)
    return a <= c and d <= b


def wrapper_for(target: Target) -> Wrapper:
    """The full-range wrapper of `target` whose reduced interval the kernel's interval
    covers (the preferred one where several do); EvoError (one line) if the target has
    no wrapper or the kernel's interval covers none."""
    ws = [w for w in WRAPPERS.values() if w.name == target.full_range]
    if not ws:
        known = ", ".join(dict.fromkeys(w.name for w in WRAPPERS.values()))
        raise EvoError(f"target {target.name!r} has no full-range wrapper (wrappers exist for {known})")
    ok = [w for w in ws if fits(w, target.interval)]
    if ok:
        return min(ok, key=lambda w: w.preference)
    kinds = " or ".join(w.kernel for w in ws)
    raise EvoError(f"the {target.name} full-range wrapper needs a kernel for {kinds} (an interval holding "
                   f"every float32 of one of these); this one is for [{target.interval[0]!r}, {target.interval[1]!r}]")


def c_constants() -> dict[str, str]:
    return {k: v + "f" for k, v in CONSTANTS.items()}


def fast_limit_subs(w: Wrapper) -> dict[str, str]:
    """FAST_BITS (the float32 bits of the fast path's limit, a C / Python hex integer) and LIMIT."""
    return {"FAST_BITS": f"0x{int(np.float32(w.fast_limit).view(np.uint32)):08X}", "LIMIT": f"{w.fast_limit:g}"}


def fast_block_subs(w: Wrapper, fn: str) -> dict[str, str]:
    """The C array form's block test (evo.codegen.c): FAST_KEY, a uint32 of x[j] whose max over a
    block is at most FAST_MAX when every x may take fn_fast; FAST_WHAT says which x those are."""
    bits = fast_limit_subs(w)["FAST_BITS"]
    return {"FAST_KEY": Template(w.fast_key or "${fn}_f2u(x[j]) & 0x7FFFFFFFu").substitute(fn=fn),
            "FAST_MAX": w.fast_max or bits + "u",
            "FAST_WHAT": w.fast_what or f"|x| <= {w.fast_limit:g} (a NaN is larger than any number)"}


def c_wrapper(w: Wrapper, fn: str) -> str:
    """C helpers + `static inline float fn_inl(float x)` around `fn_kernel(float)`,
    and `fn_fast(float x)` where the wrapper has a fast path."""
    subs = dict(c_constants(), fn=fn, **fast_limit_subs(w))
    parts = [C_HELPERS.substitute(fn=fn), Template(w.c_body).substitute(subs)]
    if w.c_fast:
        parts.append(Template(w.c_fast).substitute(subs))
    return "\n".join(parts)


def py_wrapper(w: Wrapper, fn: str) -> str:
    """The array-Python wrapper `def fn(x)` around `_kernel` (numpy and JAX)."""
    body = Template(w.py_body).substitute(fn=fn)
    return Template(_PY_SCALE).substitute(fast_limit_subs(w)) + "\n\n" + body if w.fast_limit else body


def native_wrapper(w: Wrapper, fn: str, target: Target) -> str:
    """The native JAX wrapper `def fn(x)` around `_kernel` (its own form where it has one).
    Without x64, JAX reads a Python int as int32: bit patterns from 2^31 up are written as uint32."""
    subs = native_thresholds(target) if "$LO" in w.py_native else {}
    text = Template(w.py_native).substitute(fn=fn, **subs) if w.py_native else py_wrapper(w, fn)
    return re.sub(r"\b0x[0-9A-Fa-f]{8}\b", lambda m: f"np.uint32({m.group(0)})" if int(m.group(0), 16) >= 1 << 31
                  else m.group(0), text)


def py_constants() -> dict[str, float]:
    """Values of the names `_consts()` returns, in order."""
    return {"ONE": 1.0, "ZERO": 0.0, "NAN": math.nan, "INF": math.inf, "LIM": 160.0,
            **{k: float.fromhex(v) for k, v in CONSTANTS.items()}}


# -- what a full-range function is checked against ------------------------------------

def _prev(v: float) -> float:
    return float(np.nextafter(np.float32(v), np.float32(-np.inf)))


def _next(v: float) -> float:
    return float(np.nextafter(np.float32(v), np.float32(np.inf)))


def _edge(f64: "np.ufunc", pred: "callable", lo: float, hi: float) -> float:
    """The last float32 x in [lo, hi] with pred(float32(f(x))) true, pred monotone false->... (bisection)."""
    from primitives.float32 import from_ordinal, to_ordinal

    a, b = int(to_ordinal(np.float32(lo))), int(to_ordinal(np.float32(hi)))
    ok = lambda o: bool(pred(np.float32(f64(np.float64(from_ordinal(o))))))  # noqa: E731
    while b - a > 1:
        mid = (a + b) // 2
        a, b = (mid, b) if ok(mid) else (a, mid)
    return float(from_ordinal(a))


def special_inputs(target: Target) -> np.ndarray:
    """Inputs every full-range function is shown on: IEEE specials, binade edges and the
    target's overflow / underflow / subnormal-result thresholds."""
    base = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 0.5, 2.0, math.e, 10.0,
            TINY, -TINY, MIN_NORMAL - TINY, MIN_NORMAL, -MIN_NORMAL, F32_MAX, -F32_MAX]
    extra: list[float] = []
    f = target.f64
    if target.full_range in ("exp2", "exp"):
        with np.errstate(all="ignore"):
            ovf = _edge(f, np.isfinite, 0.0, 200.0)                      # last finite result
            sub = _edge(f, lambda y: y < MIN_NORMAL, -200.0, 0.0)         # last subnormal result
            zero = _edge(f, lambda y: y == 0, -200.0, 0.0)                # last input giving +0
        lim = max(w.fast_limit for w in WRAPPERS.values() if w.name == target.full_range)  # where paths switch
        extra = [ovf, _next(ovf), sub, _next(sub), zero, _next(zero), -1e-7, 1e-7, -0.5, 100.0, -100.0,
                 -200.0, 200.0, lim, _next(lim), -lim, -_next(lim)]
    elif target.full_range in ("log2", "log"):
        extra = [_prev(1.0), _next(1.0), math.sqrt(0.5), _prev(math.sqrt(0.5)), math.sqrt(2.0), _next(math.sqrt(2.0)),
                 2.0 ** -140, -2.0,
                 # the [sqrt(1/2), sqrt 2] reduction's ends (0x3F3504F4, 0x3FB504F3) scaled to
                 # k = -1, 1 and the subnormal, and where log(m) crosses +-1/4
                 _next(math.sqrt(0.5)), 2 * _next(math.sqrt(0.5)), 0.5 * math.sqrt(2.0), 2 * math.sqrt(2.0),
                 float(np.float32(math.sqrt(0.5) * 2.0 ** -130)), float(np.float32(math.sqrt(2.0) * 2.0 ** -140)),
                 2 * math.exp(-0.25), 0.5 * math.exp(0.25), MIN_NORMAL * 1.5, F32_MAX / 2, -math.nan]
    x = np.array(base + extra, dtype=np.float32)
    return x
