#!/usr/bin/env python3
"""Max error of glibc libmvec's AVX-512 logf / log2f, the rivals of our full-range exports.

    .venv/bin/python bench/libmvec_accuracy.py            # ~1 min; needs AVX-512 and libmvec

SAMPLED, not exhaustive: every 16th positive normal float32 (133 million inputs), against
numpy's float64 log / log2 (error ~1e-16 relative: far below the ULP figures shown). Calls
_ZGVeN16v_logf / _ZGVeN16v_log2f directly, 16 lanes at a time, as the benchmark's
`#pragma omp simd` loop does (bench/bench_export.py).
"""
from __future__ import annotations

import ctypes
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # evo, from a checkout

from evo.backends.gcc import GccError, run_gcc  # noqa: E402
from evo.core.scoring import ulp32  # noqa: E402

C = """#include <immintrin.h>
#include <stddef.h>
__m512 _ZGVeN16v_logf(__m512);
__m512 _ZGVeN16v_log2f(__m512);
void mv_logf(const float *x, float *y, size_t n) { for (size_t i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _ZGVeN16v_logf(_mm512_loadu_ps(x + i))); }
void mv_log2f(const float *x, float *y, size_t n) { for (size_t i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _ZGVeN16v_log2f(_mm512_loadu_ps(x + i))); }
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = Path(tmp) / "mv.c", Path(tmp) / "mv.so"
        src.write_text(C)
        try:
            run_gcc(["-O2", "-mavx512f", "-shared", "-fPIC", "-o", str(lib), str(src), "-lmvec", "-lm"],
                    "the libmvec harness")
        except GccError as e:
            sys.exit(f"error: {e}")
        so = ctypes.CDLL(str(lib))
        x = np.arange(0x00800000, 0x7F800000, 16, dtype=np.uint32).view(np.float32)  # multiple of 16 long
        for name, ref in (("logf", np.log), ("log2f", np.log2)):
            y = np.empty_like(x)
            getattr(so, "mv_" + name)(x.ctypes.data_as(ctypes.c_void_p), y.ctypes.data_as(ctypes.c_void_p),
                                      ctypes.c_size_t(x.size))
            exact = ref(x.astype(np.float64))
            ok = exact != 0
            err = np.abs(y[ok].astype(np.float64) - exact[ok]) / ulp32(exact[ok])
            i = int(np.argmax(err))
            print(f"libmvec _ZGVeN16v_{name}: max {err[i]:.3f} ULP at x = {float(x[ok][i])!r} "
                  f"(SAMPLED: every 16th positive normal float32, {int(ok.sum()):,} inputs)")


if __name__ == "__main__":
    main()
