"""evo/verification/yardstick.py: the exhaustive check over every float32 of an interval, compared with an
independent computation (interpreter + mpmath) on small intervals, and `evo verify --json`."""
from __future__ import annotations

import json
import subprocess

import mpmath
import numpy as np
import pytest
from support import f32_grid, mp_round_f32, mp_ulp_error, same_f32

from evo.backends.llvm import compile_kernel
from evo.core.interp import evaluate
from evo.core.ir import Instr, Program, dumps
from evo.errors import EvoError
from evo.verification.fused import verify_program
from evo.verification.yardstick import CHUNK, exhaustive
from targets import TARGETS, get_target

F32 = np.float32


def independent(p: Program, fn, lo: float, hi: float) -> dict:
    """Every float32 in [lo, hi] through the interpreter, errors and correct rounding by mpmath."""
    x = f32_grid(lo, hi)
    y = evaluate(p, x)
    err, ncr = np.empty(x.size), 0
    with mpmath.workprec(150):
        for i, (xi, yi) in enumerate(zip(x, y)):
            v = fn(mpmath.mpf(float(xi)))
            err[i] = mp_ulp_error(float(yi), v)
            ncr += float(yi) != mp_round_f32(v)
    i = int(np.argmax(err))
    return {"max_ulp": err[i], "mean_ulp": err.mean(), "argmax": float(x[i]),
            "not_correctly_rounded": ncr, "inputs": x.size}


def check(r, want: dict) -> None:
    assert r.inputs == want["inputs"]
    assert r.max_ulp == pytest.approx(want["max_ulp"], rel=1e-7)   # float64 reference: ~1e-9 ulp off
    if want["max_ulp"] > 1e-6:  # (where every error is ~0 the float64 reference ties)
        assert r.argmax == want["argmax"]
    assert r.mean_ulp == pytest.approx(want["mean_ulp"], rel=1e-7)
    assert r.not_correctly_rounded == want["not_correctly_rounded"]
    assert r.exhaustive and "float64" in r.reference


def test_exhaustive_exp2_small_interval(exp2_fma6):
    r = verify_program(exp2_fma6, TARGETS["exp2"], (1.0, 1.001))
    want = independent(exp2_fma6, mpmath.exp2, 1.0, 1.001)
    assert want["inputs"] == 8389  # 1 + floor(0.001 / 2^-23)
    check(r, want)
    assert 0 < r.not_correctly_rounded < r.inputs
    assert r.interval == (1.0, float(f32_grid(1.0, 1.001)[-1]))
    from evo.verification.fused import (
        CROSS_CHECK_STRIDE,  # the fused verifier's own sample of the interpreter
    )

    assert r.cross_checked >= r.inputs // CROSS_CHECK_STRIDE
    assert r.seconds >= 0


def test_exhaustive_near_zero_with_subnormals():
    """[0, 2^-140]: zero and the subnormals are inputs too (and must not be flushed)."""
    lo, hi = 0.0, 2.0 ** -140  # 2^-140 / 2^-149 + 1 = 513 floats, all subnormal or zero
    prog = Program((Instr("x"), Instr("const", (), float(F32(np.pi))), Instr("mul", (0, 1))), 2)
    r = verify_program(prog, get_target("x * pi", (0.0, 1.0)), (lo, hi))
    want = independent(prog, lambda x: x * mpmath.pi, lo, hi)
    assert want["inputs"] == 513
    check(r, want)
    assert 0.4 < r.max_ulp <= 0.5 and r.not_correctly_rounded == 0  # small multiples of pi round right


def test_exhaustive_at_an_exact_zero():
    """log2 on [1, 1.0001]: the exact value is 0 at x = 1; a result of 2^-24 there is far off."""
    prog = Program((Instr("x"), Instr("const", (), float(F32(1 - 2.0 ** -24))), Instr("sub", (0, 1)),
                    Instr("const", (), 1.4426950408889634), Instr("mul", (2, 3))), 4)
    r = verify_program(prog, TARGETS["log2"], (1.0, 1.0001))
    want = independent(prog, mpmath.log2, 1.0, 1.0001)
    check(r, want)
    assert r.argmax == 1.0 and r.max_ulp > 2.0 ** 100


def test_custom_target_exact_program():
    """x - 1 on [1, 2] is exact in float32 (Sterbenz): 0 ULP, every result correctly rounded."""
    prog = Program((Instr("x"), Instr("const", (), 1.0), Instr("sub", (0, 1))), 2)
    t = get_target("x - 1", (1.0, 2.0))
    r = verify_program(prog, t, (1.0, 1.01))
    assert (r.max_ulp, r.mean_ulp, r.not_correctly_rounded) == (0.0, 0.0, 0)
    assert r.inputs == 83887 and r.argmax == 1.0


def test_non_finite_results_are_worst(exp2_fma6):
    """A program that divides by zero at x = 0 only: max is inf there, the count says so."""
    prog = Program((Instr("x"), Instr("const", (), 1.0), Instr("div", (1, 0))), 2)  # 1/x
    r = verify_program(prog, get_target("1/x", (1.0, 2.0)), (1.0, 1.0001))
    assert r.max_ulp <= 0.5 and r.not_correctly_rounded == 0
    r = verify_program(prog, TARGETS["exp2"], (0.0, 2.0 ** -148))
    assert r.max_ulp == np.inf and r.argmax == 0.0 and r.mean_ulp == np.inf
    assert r.to_dict()["max_ulp"] == "inf"


def test_chunks_merge_like_one_pass(exp2_fma6):
    """An interval over two chunks, one and two threads: the same answer as a single numpy pass."""
    t = TARGETS["exp2"]
    a = int(F32(0.25).view(np.uint32))
    b = a + CHUNK + 1000
    kernel = compile_kernel(exp2_fma6)
    r1 = exhaustive(kernel, t, ordinals=(a, b), threads=1)
    r2 = exhaustive(kernel, t, ordinals=(a, b), threads=2)
    x = np.arange(a, b + 1, dtype=np.uint32).view(F32)
    y = kernel(x)
    assert same_f32(y[::997], evaluate(exp2_fma6, x[::997])).all()
    ref = np.exp2(x.astype(np.float64))
    from evo.core.scoring import error_ulp
    err = error_ulp(y, ref)
    for r in (r1, r2):
        assert r.inputs == x.size
        assert r.max_ulp == err.max() and r.argmax == float(x[int(np.argmax(err))])
        assert r.mean_ulp == pytest.approx(err.mean(), rel=1e-12)
        assert r.not_correctly_rounded == int(np.count_nonzero(y != ref.astype(F32)))


def test_progress_is_reported(exp2_fma6):
    seen = []
    r = verify_program(exp2_fma6, TARGETS["exp2"], (0.5, 0.5 + 2.0 ** -10), progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (r.inputs, r.inputs)
    assert all(d1 <= d2 for (d1, _), (d2, _) in zip(seen, seen[1:]))


def test_backend_disagreement_is_detected(exp2_fma6):
    """The cross-check catches a kernel that is off by one ulp anywhere in its sample."""
    kernel = compile_kernel(exp2_fma6)

    def off_by_one(x):
        y = kernel(x)
        return np.where(x == F32(1.0), np.nextafter(y, F32(np.inf)), y)

    check_fn = lambda x: evaluate(exp2_fma6, x)  # noqa: E731
    with pytest.raises(EvoError, match=r"^backend disagrees with the interpreter at x = 1\.0: "):
        exhaustive(off_by_one, TARGETS["exp2"], (1.0, 1.001), check=check_fn)
    exhaustive(kernel, TARGETS["exp2"], (1.0, 1.001), check=check_fn)  # the real one passes


def test_llvm_kernel_bit_exact_with_interpreter(exp2_fma6, exp2_horner6):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2 ** 32, 300_000, dtype=np.uint32).view(F32)
    for p in (exp2_fma6, exp2_horner6):
        assert same_f32(compile_kernel(p)(x), evaluate(p, x)).all()


def test_evo_verify_cli_json(exp2_fma6, tmp_path, evo_cmd):
    path = tmp_path / "p.json"
    path.write_text(dumps(exp2_fma6))
    r = subprocess.run([*evo_cmd, "verify", str(path), "--target", "exp2", "--interval", "1,1.001", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    d = json.loads(r.stdout)
    want = independent(exp2_fma6, mpmath.exp2, 1.0, 1.001)
    assert d["inputs"] == want["inputs"] == 8389
    assert d["max_ulp"] == pytest.approx(want["max_ulp"], rel=1e-7)
    assert d["argmax"] == want["argmax"]
    assert d["not_correctly_rounded"] == want["not_correctly_rounded"]
    assert d["mean_ulp"] == pytest.approx(want["mean_ulp"], rel=1e-7)
    assert isinstance(d["seconds"], float) and d["exhaustive"] is True
    assert d["target"] == {"name": "exp2", "expr": "exp2(x)", "interval": [1.0, 1.001]}
