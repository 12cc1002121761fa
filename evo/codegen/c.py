"""C99 export: `float FN(float x)` and `void FN_n(const float *x, float *y, size_t n)`.

The kernel is the one C lowering (evo.backends.c, shared with the gcc backend): each
op is one statement from the op table's `c` template, so every operation is rounded
to float32 exactly where the interpreter rounds. GNU C contracts a
separate * and + into an fma by default (-ffp-contract=fast outside ISO modes):
the file turns that off itself (#pragma STDC FP_CONTRACT OFF for clang, GCC's
optimize("fp-contract=off") for gcc), so any flags short of -ffast-math keep the
result bit-exact. The array form is a plain loop over the inlined scalar code with
selects instead of branches, which gcc -O3 -march=native vectorises; with a full-range
wrapper that has a fast path (exp2, exp; log2, log on [sqrt(1/2), sqrt 2]), it runs
blocks of inputs through the fast path alone when they are all ones it serves (|x|
within its limit; positive normal x for the logs): the same results, element by element,
as FN.
"""
from __future__ import annotations

from string import Template

from targets import Target

from ..backends.c import c_function
from ..core.ir import Program
from .code import Provenance, header_lines
from .fullrange import Wrapper, c_wrapper, fast_block_subs

C_NOTES = [
    "C99. Bit-exact with the evo float32 interpreter (IEEE binary32, round to nearest",
    "even, fmaf = one rounding) at any optimisation level WITHOUT -ffast-math / -Ofast",
    "(no reassociation, no flush-to-zero). Contraction of a separate * and + into an",
    "fma is switched off below for gcc and clang; other compilers: -ffp-contract=off.",
    "Needs FLT_EVAL_METHOD 0 or -fexcess-precision=standard (x87: -std=c99 gives it).",
    "Link with -lm. FN_n vectorises with gcc -O3 -march=native (fmaf -> vfmadd);",
    "without hardware fma, fmaf is a (correct but slow) libm call.",
    "Builds as C++ too (extern \"C\" linkage; restrict as the compiler's __restrict).",
]

_PRAGMAS_ON = """\
/* Keep a separate multiply and add apart (no fused contraction), whatever the flags.
   no-trapping-math / no-math-errno change no result (only FP exception flags and errno);
   they let gcc vectorise floorf, sqrtf and the selects. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off", "no-trapping-math", "no-math-errno")
#endif
"""

_PRAGMAS_OFF = """\
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
"""

# The file also builds as C++ (a C++ compiler sees the functions with C linkage, and C99's
# restrict as the compilers' own __restrict).
CXX_OPEN = """\
#ifdef __cplusplus
extern "C" {
#endif
"""
CXX_CLOSE = """\
#ifdef __cplusplus
}
#endif
"""
_RESTRICT = """\
#ifndef EVO_RESTRICT
#if defined(__cplusplus) && defined(_MSC_VER)
#define EVO_RESTRICT __restrict
#elif defined(__cplusplus)
#define EVO_RESTRICT __restrict__
#else
#define EVO_RESTRICT restrict
#endif
#endif
"""


# The array form with a fast path. Checking a block costs two integer ops per vector;
# skipping the special-value work (clamps, two-factor scaling, selects) saves far more.
_BLOCKED = """\
/* One block. Optimistic: the fast path on every element while checking that every x is
   one it serves ($FAST_WHAT;
   that is, the largest $FAST_KEY is at most $FAST_MAX), and again through ${fn}_inl if not.
   check_first: check before choosing (after a block that needed ${fn}_inl, so that runs of
   such blocks do not pay for a fast pass thrown away). Returns whether the block needed
   ${fn}_inl. Each loop is unconditional inside: a store under a condition would make gcc
   use masked stores, which are slow on some CPUs (AMD Zen 3: vmaskmovps, ~3x slower here). */
static inline int ${fn}_block(const float *EVO_RESTRICT x, float *EVO_RESTRICT y, size_t len, int check_first) {
    uint32_t amax = 0;
    size_t j;
    if (check_first) {
        for (j = 0; j < len; j++) {
            const uint32_t a = $FAST_KEY;
            amax = a > amax ? a : amax;
        }
    } else {
        for (j = 0; j < len; j++) {
            const uint32_t a = $FAST_KEY;
            amax = a > amax ? a : amax;
            y[j] = ${fn}_fast(x[j]);
        }
    }
    if (amax > $FAST_MAX) {
        for (j = 0; j < len; j++) y[j] = ${fn}_inl(x[j]);
        return 1;
    }
    if (check_first)
        for (j = 0; j < len; j++) y[j] = ${fn}_fast(x[j]);
    return 0;
}

/* y[i] = ${fn}(x[i]); x and y may be the same array (other overlaps are not supported). */
void ${fn}_n(const float *x, float *y, size_t n) {
    float copy[256];  /* the block's inputs, when y overwrites x */
    const uintptr_t xa = (uintptr_t)x, ya = (uintptr_t)y, bytes = n * sizeof *x;
    const int apart = xa + bytes <= ya || ya + bytes <= xa;
    int slow = 0;
    size_t i, len;
    for (i = 0; i < n; i += len) {
        len = n - i < 256 ? n - i : 256;
        if (apart) {
            slow = ${fn}_block(x + i, y + i, len, slow);
        } else {
            memcpy(copy, x + i, len * sizeof *x);
            slow = ${fn}_block(copy, y + i, len, slow);
        }
    }
}
"""


def c_source(p: Program, target: Target, fn: str, prov: Provenance, wrapper: Wrapper | None) -> str:
    summary = wrapper.described if wrapper else None
    head = header_lines(p, target, prov, "C99", fn, summary, C_NOTES)
    parts = ["/*\n" + "\n".join(f" * {line}".rstrip() for line in head) + "\n */\n",
             "#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n",
             CXX_OPEN + f"float {fn}(float x);\nvoid {fn}_n(const float *x, float *y, size_t n);\n",
             _PRAGMAS_ON]
    parts.append((f"/* The kernel: {wrapper.kernel}. */\n" if wrapper else "")
                 + c_function(p, f"{fn}_kernel", static=True))
    inner = f"{fn}_kernel"
    if wrapper:
        parts.append(c_wrapper(wrapper, fn))
        inner = f"{fn}_inl"
    # Both entry points use the static inline body: gcc inlines it into the loop and vectorises.
    parts.append(f"float {fn}(float x) {{\n    return {inner}(x);\n}}\n")
    if wrapper and wrapper.c_fast:
        parts.append(_RESTRICT + Template(_BLOCKED).substitute(fast_block_subs(wrapper, fn), fn=fn))
    else:
        parts.append(f"void {fn}_n(const float *x, float *y, size_t n) {{\n"
                     f"    size_t i;\n    for (i = 0; i < n; i++) y[i] = {inner}(x[i]);\n}}\n")
    parts += [_PRAGMAS_OFF, CXX_CLOSE]
    return "\n".join(parts)
