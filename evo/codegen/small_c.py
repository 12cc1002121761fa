"""The ready bfloat16 / float16 functions as C (evo lib --lang c --format bfloat16|float16):
`uint16_t evo_exp2_bf16(uint16_t)` on bit patterns, an array form, and `_Float16` / `__bf16`
forms where the compiler has the type. The same steps as the native JAX form
(evo.codegen.small_native), operation for operation, so the C function is checked on all
65,536 inputs like the JAX one (evo.lib.small.check_c)."""
from __future__ import annotations

from ..backends.c import c_function
from .small_native import (LN2_HI, LN2_LO, SQRT_HALF_BITS, SmallFunction, log2e_split, overflow_from, reduce_limit,
                           tanh_small)

SUFFIX = {"bfloat16": "bf16", "float16": "f16"}

C_HEAD = r"""#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline float evo_u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t evo_f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline int32_t evo_f2i(float f) { int32_t i; memcpy(&i, &f, 4); return i; }

/* bfloat16: float32's top 16 bits; to it by round to nearest even on the bits */
static inline float evo_from_bf16(uint16_t b) { return evo_u2f((uint32_t)b << 16); }
static inline uint16_t evo_to_bf16(float f) {
    uint32_t u = evo_f2u(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u);   /* NaN stays NaN */
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* float16 <-> float32, exact one way and rounded to nearest even the other, subnormals kept */
static inline float evo_from_f16(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0) { float v = (float)m * 5.9604644775390625e-08f; return sign ? -v : v; }
    if (e == 31) return evo_u2f(sign | 0x7F800000u | (m << 13));
    return evo_u2f(sign | ((e + 112u) << 23) | (m << 13));
}
static inline uint16_t evo_to_f16(float f) {
    uint32_t u = evo_f2u(f), sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u);
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);          /* 65520 and up: inf */
    if (a < 0x38800000u) return (uint16_t)(sign | (uint32_t)nearbyintf(evo_u2f(a) * 16777216.0f));
    uint32_t b = a - (112u << 23);
    return (uint16_t)(sign | ((b + 0xFFFu + ((b >> 13) & 1u)) >> 13));
}

"""

C_TAIL = """#ifdef __cplusplus
}
#endif
"""

_EXP = """uint16_t {fn}(uint16_t in) {{
    const float x = evo_from_{sfx}(in), magic = 12582912.0f;
    const float xc = x > -{clip}f ? x : -{clip}f;
{reduce}    float y = {kernel}(r);
{exceptions}    int32_t bits = evo_f2i(y) + (int32_t)((uint32_t)evo_f2i(t) << 23);
{subnormal}    float out = evo_u2f((uint32_t)bits);
    if (x >= {overflow}f) out = INFINITY;
    if (x != x) out = x;
{fixes}    return evo_to_{sfx}(out);
}}
"""

_SIGMOID = """uint16_t {fn}(uint16_t in) {{
    const float x = evo_from_{sfx}(in), magic = 12582912.0f, z = -fabsf(x);
    const float xc = z > -{clip}f ? z : -{clip}f;
{reduce}    float y = {kernel}(r);
{exceptions}    int32_t bits = evo_f2i(y) + (int32_t)((uint32_t)evo_f2i(t) << 23);
{subnormal}    const float e = evo_u2f((uint32_t)bits);
    float out = (x >= 0 ? 1.0f : e) / (1.0f + e);
{tiny}    if (x != x) out = x;
{fixes}    return evo_to_{sfx}(out);
}}
"""

_TANH = """uint16_t {fn}(uint16_t in) {{
    const float x = evo_from_{sfx}(in), magic = 12582912.0f, z = -2.0f * fabsf(x);
    const float xc = z > -{clip}f ? z : -{clip}f;
{reduce}    float y = {kernel}(r);
{exceptions}    const float e = evo_u2f((uint32_t)(evo_f2i(y) + (int32_t)((uint32_t)evo_f2i(t) << 23)));
    float out = fabsf(x) < {small}f ? x : copysignf((1.0f - e) / (1.0f + e), x);
    if (x != x) out = x;
{fixes}    return evo_to_{sfx}(out);
}}
"""

_EXP2_REDUCE = "    const float t = xc + magic, r = xc - (t - magic);\n"
_EXP_REDUCE = ("    const float s = xc * {hi}f, t = s + magic;\n"
               "    const float r = fmaf(xc, {lo}f, s - (t - magic));\n")
_SUBNORMAL = ("    if (t <= magic + ({emin})) {{\n"
              "        const float scale = evo_u2f((uint32_t)(evo_f2i(t) + ({bits} - ({emin}) + 127 - 0x4B400000)) << 23);\n"
              "        bits = (int32_t)((uint32_t)evo_f2i(fmaf(y, scale, magic)) << 16);\n"
              "    }}\n")

_LOG = """uint16_t {fn}(uint16_t in) {{
    const float x = evo_from_{sfx}(in);
    const int32_t i0 = evo_f2i(x);
    int32_t i = i0;
    if (i < 0x00800000) i = evo_f2i((float)i) - (149 << 23);     /* +0, subnormals: by the bits */
    const int32_t j = i - {sqrt_half:#x};
    const float r = evo_u2f((uint32_t)((j & 0x7FFFFF) + {sqrt_half:#x})), e = (float)(j >> 23);
    float y = {kernel}(r);
{exceptions}    float out = {combine};
    if (i0 >= 0x7F800000) out = x;
    if (i0 < 0) out = NAN;
    if ((i0 & 0x7FFFFFFF) == 0) out = -INFINITY;
{fixes}    return evo_to_{sfx}(out);
}}
"""

_TYPED = """#if {guard}
{ctype} {fn}_{short}({ctype} x) {{
    uint16_t b, r;
    {ctype} out;
    memcpy(&b, &x, 2);
    r = {fn}(b);
    memcpy(&out, &r, 2);
    return out;
}}
#endif
"""


def c_name(fn: SmallFunction) -> str:
    return f"evo_{fn.function}_{SUFFIX[fn.format]}"


def _function(fn: SmallFunction) -> str:
    f, name, sfx = fn.fmt, c_name(fn), SUFFIX[fn.format]
    kernel = f"{name}_kernel"
    exceptions = "".join(f"    if (r == {float(r)!r}f) y = {float(y)!r}f;   /* hard case */\n" for r, y in fn.exceptions)
    fixes = "".join(f"    if (x == {float(v)!r}f) out = {float(c)!r}f;   /* hard input */\n" for v, c in fn.fixes)
    parts = [c_function(fn.program, kernel, static=True)]
    if fn.function == "tanh":
        hi, lo = log2e_split(f)
        parts.append(_TANH.format(fn=name, sfx=sfx, clip=repr(reduce_limit(fn)), small=repr(tanh_small(f)),
                                  reduce=_EXP_REDUCE.format(hi=repr(hi), lo=repr(lo)), kernel=kernel,
                                  exceptions=exceptions, fixes=fixes))
    elif fn.function in ("exp2", "exp", "sigmoid"):
        hi, lo = log2e_split(f)
        reduce = _EXP2_REDUCE if fn.function == "exp2" else _EXP_REDUCE.format(hi=repr(hi), lo=repr(lo))
        sub = _SUBNORMAL.format(bits=f.bits, emin=f.emin) if f.emin <= -126 else ""
        lim = reduce_limit(fn)
        if fn.function == "sigmoid":
            tiny = f"    if (t <= magic + ({f.emin}) && x < 0) out = e;\n" if sub else ""
            parts.append(_SIGMOID.format(fn=name, sfx=sfx, clip=repr(float(lim)), reduce=reduce, kernel=kernel,
                                         exceptions=exceptions, subnormal=sub, tiny=tiny, fixes=fixes))
        else:
            parts.append(_EXP.format(fn=name, sfx=sfx, clip=repr(float(lim)), reduce=reduce, kernel=kernel,
                                     exceptions=exceptions, subnormal=sub, overflow=repr(overflow_from(fn)), fixes=fixes))
    else:
        combine = "e + y" if fn.function == "log2" else f"fmaf(e, {LN2_HI!r}f, fmaf(e, {LN2_LO!r}f, y))"
        parts.append(_LOG.format(fn=name, sfx=sfx, sqrt_half=SQRT_HALF_BITS, kernel=kernel, exceptions=exceptions,
                                 combine=combine, fixes=fixes))
    parts.append(f"void {name}_array(const uint16_t *x, uint16_t *y, size_t n) {{\n"
                 f"    for (size_t i = 0; i < n; i++) y[i] = {name}(x[i]);\n}}\n")
    typed = (("defined(__FLT16_MAX__)", "_Float16", "h") if fn.format == "float16"
             else ("defined(__BFLT16_MAX__)", "__bf16", "b"))
    parts.append(_TYPED.format(guard=typed[0], ctype=typed[1], fn=name, short=typed[2]))
    return "\n".join(parts)


def c_source(functions: list[SmallFunction], doc: str) -> str:
    """One C file: the helpers, then each function, its array form and its typed form."""
    return "/* " + doc.replace("*/", "* /") + " */\n" + C_HEAD + "\n".join(_function(f) for f in functions) + C_TAIL
