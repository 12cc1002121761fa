"""evo/verification/fused.py and reference.py: the fused LLVM exhaustive verifier agrees with the
numpy verifier (evo.verification.yardstick.exhaustive, the float64 numpy reference) on every statistic, over
sub-ranges of ordinals; the piecewise-polynomial reference is as accurate as it says."""
from __future__ import annotations

import math
import re

import mpmath
import numpy as np
import pytest
from support import horner

from evo.backends.llvm import compile_kernel, vector_width
from evo.core.interp import evaluate
from evo.core.ir import Instr, Program
from evo.core.scoring import error_ulp
from evo.errors import EvoError
from evo.verification import fused as fv
from evo.verification import reference as ref
from evo.verification.yardstick import exhaustive, verify_program_numpy
from primitives.float32 import from_ordinal, to_ordinal
from targets import TARGETS, get_target

F32 = np.float32


def ordinal(x: float) -> int:
    return int(to_ordinal(F32(x)))


def prog(*instrs: tuple, out: int | None = None) -> Program:
    """Program from (op, args...) / ("const", value) tuples after the implicit x."""
    body = [Instr("x")]
    for t in instrs:
        body.append(Instr("const", (), float(F32(t[1]))) if t[0] == "const" else Instr(t[0], tuple(t[1:])))
    return Program(tuple(body), len(body) - 1 if out is None else out)


def old(p: Program, target, ords: tuple[int, int], **kw):
    """The numpy verifier on the same ordinals, cross-checked like verify_program."""
    return exhaustive(compile_kernel(p), target, ordinals=ords, check=lambda x: evaluate(p, x), **kw)


def agree(p: Program, target, ords: tuple[int, int], **kw) -> fv.FastVerifyResult:
    """fast_verify == the numpy verifier: inputs, max (1e-6 ULP), argmax, mean, count."""
    r = fv.fast_verify(p, target, ordinals=ords, **kw)
    o = old(p, target, ords)
    assert r.inputs == o.inputs == ords[1] - ords[0] + 1
    assert r.interval == o.interval
    if np.isinf(o.max_ulp):
        assert np.isinf(r.max_ulp)
    else:
        assert abs(r.max_ulp - o.max_ulp) <= 1e-6
    if o.max_ulp > 1e-6 or o.max_ulp == 0:
        assert r.argmax == o.argmax
    if np.isfinite(o.mean_ulp):
        assert r.mean_ulp == pytest.approx(o.mean_ulp, rel=1e-9, abs=1e-12)
    else:
        assert r.mean_ulp == o.mean_ulp
    assert r.not_correctly_rounded == o.not_correctly_rounded
    assert r.exhaustive and r.cross_checked >= r.inputs // fv.CROSS_CHECK_STRIDE
    assert r.worst and r.worst[0] == (r.argmax, r.max_ulp)
    return r


check = agree


@pytest.fixture(scope="module")
def pade_div() -> Program:
    """exp2 on [0, 1] as (1 + a x + b x^2) / (1 - c x): a div, and a few ULP of error."""
    ln2 = np.log(2.0)
    return prog(("const", 1.0), ("const", ln2 / 2), ("mul", 0, 2), ("sub", 1, 3),      # 4: 1 - c x
                ("const", ln2 * ln2 / 12), ("fma", 0, 5, 2), ("fma", 0, 6, 1),       # 7: 1 + (c + b x) x
                ("div", 7, 4))


# -- agreement with the numpy verifier ---------------------------------------------------------

@pytest.mark.parametrize("lo", [0.25, 0.5 - 2.0 ** -10, 0.9])
def test_exp2_agrees(exp2_fma6, exp2_horner6, pade_div, lo):
    """Good (fma), plain Horner and a div program, a binade edge included (0.5 - 2^-10)."""
    a = ordinal(lo)
    for p in (exp2_fma6, exp2_horner6, pade_div):
        check(p, TARGETS["exp2"], (a, a + (1 << 20) + 12345))


def test_exp2_tiny_and_subnormal_inputs(exp2_fma6):
    """Ordinals 0 .. 3 * 2^22: zero, every subnormal and the smallest normal binades (one piece each)."""
    r = check(exp2_fma6, TARGETS["exp2"], (0, 3 << 22))
    assert r.fallback_inputs == 0


def test_negative_and_across_zero(exp2_fma6, pade_div):
    """exp2 on [-0.5, 0.5] around 0 (negative ordinals run backwards in magnitude) and near -0.4."""
    t = TARGETS["exp2"].with_interval(-0.5, 0.5)
    for p in (exp2_fma6, pade_div):
        check(p, t, (-(1 << 21) - 77, (1 << 21) + 5))
        a = ordinal(-0.4)
        check(p, t, (a, a + (1 << 20)))


def test_exp_agrees(exp2_fma6):
    """A program for exp2 scored against exp (errors of many ULP), and an exp polynomial."""
    t = TARGETS["exp"]
    a = ordinal(-0.3)
    check(exp2_fma6, t, (a - (1 << 20), a))
    p = horner([1 / math.factorial(k) for k in range(8)], use_fma=True)
    check(p, t, (ordinal(0.1), ordinal(0.1) + (1 << 20)))


def test_log2_at_its_zero():
    """log2 on [0.75, 1.5] around x = 1 (the exact value 0 there; relative accuracy of the
    reference right up to it): a program (x - 1) * c0 + ... of a few ULP, and a crude one."""
    t = TARGETS["log2"].with_interval(0.75, 1.5)
    one = ordinal(1.0)
    ords = (one - (1 << 20), one + (1 << 20))
    # log2(x) ~ (x - 1) * (1/ln2 - (x - 1) / (2 ln2) + (x - 1)^2 / (3 ln2))
    l2 = 1 / np.log(2.0)
    good = prog(("const", 1.0), ("sub", 0, 1), ("const", l2 / 3), ("const", -l2 / 2), ("fma", 2, 3, 4),
                ("const", l2), ("fma", 5, 2, 6), ("mul", 7, 2))
    r = check(good, t, ords)
    assert r.reference_ulp < 1e-7
    crude = prog(("const", 1 - 2.0 ** -24), ("sub", 0, 1), ("const", l2), ("mul", 2, 3))  # off at x = 1
    r = check(crude, t, ords)
    assert r.argmax == 1.0 and r.max_ulp > 2.0 ** 100


def test_erf_from_zero():
    """erf on [0, 1] from 0: the subnormals (f(x) = x g(x) pieces) and up to the first normals."""
    t = TARGETS["erf"]
    c = 2 / np.sqrt(np.pi)
    p = prog(("const", c), ("mul", 0, 1), ("mul", 0, 0), ("const", -c / 3), ("fma", 3, 4, 1), ("mul", 0, 5))
    check(p, t, (0, 1 << 21))
    a = ordinal(0.3)
    check(p, t, (a, a + (1 << 20)))


def test_custom_expression():
    """x * exp(-x^2) on [0, 1] (a zero at 0, no cancellation in numpy either)."""
    t = get_target("x * exp(-x*x)", (0.0, 1.0))
    p = prog(("mul", 0, 0), ("const", -1.0), ("const", 0.5), ("fma", 1, 3, 2), ("mul", 0, 4))  # x (1 - x^2)
    check(p, t, (ordinal(2.0 ** -20), ordinal(2.0 ** -20) + (1 << 20)))
    check(p, t, (ordinal(0.05), ordinal(0.05) + (1 << 19)))


def test_negative_pieces_with_a_zero():
    """sin on [-1, 1]: negative pieces factored at the zero 0, across zero and near -0.5."""
    t = get_target("sin(x)", (-1.0, 1.0))
    p = prog(("mul", 0, 0), ("const", -1 / 6), ("const", 1.0), ("fma", 1, 2, 3), ("mul", 0, 4))  # x (1 - x^2/6)
    r = check(p, t, (-(1 << 21), 1 << 21))
    assert r.reference_ulp < 2e-8 and r.fallback_inputs == 0
    a = ordinal(-0.5)
    check(p, t, (a, a + (1 << 19)))


def test_interval_api_matches_the_numpy_verifier(exp2_fma6):
    r = fv.fast_verify(exp2_fma6, TARGETS["exp2"], (1.0, 1.001))
    o = verify_program_numpy(exp2_fma6, TARGETS["exp2"], (1.0, 1.001))
    assert (r.inputs, r.argmax, r.not_correctly_rounded, r.interval) == (o.inputs, o.argmax, o.not_correctly_rounded,
                                                                         o.interval)
    assert r.inputs == 8389 and r.interval[0] == 1.0
    assert abs(r.max_ulp - o.max_ulp) <= 1e-6 and r.mean_ulp == pytest.approx(o.mean_ulp, rel=1e-9)
    d = r.to_dict()
    assert d["worst"][0] == [r.argmax, r.max_ulp] and "piecewise" in d["reference"]


# -- non-finite results and references -----------------------------------------------------------

def test_division_by_zero_is_worst():
    """1/x: inf at x = 0 and for the subnormals whose reciprocal overflows: inf max and mean."""
    p = prog(("const", 1.0), ("div", 1, 0))
    r = check(p, TARGETS["exp2"], (0, 1 << 16))
    assert r.max_ulp == np.inf and r.argmax == 0.0 and r.mean_ulp == np.inf


def test_nan_results():
    """sqrt(x - 1) on log2 near 1: NaN below 1 (worst), finite above."""
    p = prog(("const", 1.0), ("sub", 0, 1), ("sqrt", 2))
    one = ordinal(1.0)
    r = check(p, TARGETS["log2"].with_interval(0.75, 1.5), (one - 5000, one + 5000))
    assert r.max_ulp == np.inf and r.argmax == float(from_ordinal(one - 5000))


def test_overflowing_results_and_references():
    """exp on [88, 89]: exp(x) overflows float32 above ~88.72; a program that returns inf
    there is right (error 0, correctly rounded), a finite one is measured against v."""
    t = get_target("exp(x)", (88.0, 89.0))
    a, b = t.f32_inputs()
    inf_prog = prog(("const", 1e38), ("mul", 0, 1))            # 88 * 1e38 = inf for every input
    r = check(inf_prog, t, (a, b))
    assert r.max_ulp == np.inf   # below 88.72 the exact value is finite
    big = prog(("const", 3e38), ("const", 0.0), ("fma", 0, 2, 1))   # 3e38: finite everywhere
    check(big, t, (a, b))


def test_special_values_through_the_numpy_path():
    """Every rule of the numpy yardstick on crafted data: the identity program over ordinals that
    reach FLT_MAX, inf and NaN patterns, and around zero, against a crafted float64
    reference (finite, overflowing, inf, NaN, zeros), through the fallback (numpy) loop."""
    def crafted(x: np.ndarray) -> np.ndarray:
        v = x * (1 + 2.0 ** -30)
        v = np.where(np.abs(x) < 2.0 ** -140, 0.0, v)             # exact zeros
        v = np.where((x > 3.0e38) & (x < 3.3e38), np.inf, v)       # infinite references
        v = np.where((x > 3.3e38) & (x < 3.38e38), np.nan, v)      # undefined references
        return v

    t = get_target("x", (0.0, 1.0))
    t.__dict__["f64"] = crafted   # the Target's cached float64 function, replaced
    ident = Program((Instr("x"),), 0)
    for ords in ((ordinal(2.9e38), ordinal(np.inf) + 3000), (-3000, 3000)):
        table = ref.numpy_table(t.expr, ords)
        r = fv.fast_verify(ident, t, ordinals=ords, table=table)
        o = exhaustive(compile_kernel(ident), t, ordinals=ords, reference=crafted)
        assert (r.max_ulp, r.argmax, r.not_correctly_rounded, r.inputs) == (o.max_ulp, o.argmax,
                                                                             o.not_correctly_rounded, o.inputs)
        assert r.mean_ulp == o.mean_ulp or r.mean_ulp == pytest.approx(o.mean_ulp, rel=1e-12)
        assert r.fallback_inputs == r.inputs and r.reference == "float64 numpy (error ~1e-9 float32 ULP)"


def test_error_rules_match_scoring():
    """error_rules (the numpy mirror the cross-check uses) on finite data is scoring.error_ulp."""
    rng = np.random.default_rng(3)
    v = rng.uniform(-3, 3, 10000) * 2.0 ** rng.integers(-140, 100, 10000)
    y = (v * (1 + rng.normal(0, 1e-7, v.size))).astype(F32)
    err, differ = fv.error_rules(y, v)
    assert np.array_equal(err, error_ulp(y, v))
    assert np.array_equal(differ, y != v.astype(F32))


def test_fallback_pieces_agree():
    """|x - 0.3| has a kink at 0.3 (not a float32): the pieces around it fall back to numpy."""
    t = get_target("abs(x - 0.3)", (0.0, 1.0))
    a = ordinal(0.3)
    ords = (a - (1 << 19), a + (1 << 19))
    p = prog(("const", 0.3), ("sub", 0, 1), ("mul", 2, 2), ("sqrt", 3))   # sqrt((x - 0.3)^2)
    r = check(p, t, ords)
    assert 0 < r.fallback_inputs < r.inputs
    assert "float64 numpy" in r.reference


def test_midpoint_decided_by_mpmath():
    """At x = -0.029743773862719536 the 6-op exp2 kernel of bench/kernels returns the float32
    below exp2(x), which lies 7e-18 above the midpoint; np.exp2 returns the midpoint itself
    (so the numpy verifier counts y as correctly rounded). fast_verify asks mpmath there."""
    import json
    from pathlib import Path

    from support import mp_round_f32

    from evo.core.ir import from_dict

    front = json.loads((Path(__file__).parents[1] / "bench/kernels/exp2-sym-6ops/front.json").read_text())
    p = from_dict(front["members"][0]["program"])
    t = TARGETS["exp2"].with_interval(-0.5, 0.5)
    x0 = F32(-0.029743773862719536)
    ords = (ordinal(x0) - 5000, ordinal(x0) + 5000)
    r = fv.fast_verify(p, t, ordinals=ords)
    o = old(p, t, ords)
    assert r.mpmath_decided >= 1 and r.undecided == 0
    assert r.not_correctly_rounded == o.not_correctly_rounded + 1
    y = float(evaluate(p, np.array([x0]))[0])
    with mpmath.workprec(200):
        assert mp_round_f32(mpmath.exp2(mpmath.mpf(float(x0)))) != y
    assert float(F32(np.exp2(np.float64(x0)))) == y


# -- blocks, threads, progress, cross-check ---------------------------------------------------------

def test_worst_blocks_and_threads(exp2_horner6):
    """worst: the largest maxima of distinct 2^16-ordinal blocks, as numpy finds them; one or
    two threads give the same result."""
    t = TARGETS["exp2"]
    a = ordinal(0.7) - 1000
    ords = (a, a + 20 * (1 << 16))
    r1 = fv.fast_verify(exp2_horner6, t, ordinals=ords, threads=1, top=5)
    r2 = fv.fast_verify(exp2_horner6, t, ordinals=ords, threads=2, top=5)
    assert r1.worst == r2.worst and (r1.max_ulp, r1.argmax, r1.mean_ulp) == (r2.max_ulp, r2.argmax, r2.mean_ulp)
    x = from_ordinal(np.arange(ords[0], ords[1] + 1))
    err = error_ulp(compile_kernel(exp2_horner6)(x), np.exp2(x.astype(np.float64)))
    block = to_ordinal(x) >> 16
    tops = []
    for k in np.unique(block):
        sel = np.flatnonzero(block == k)
        j = sel[int(np.argmax(err[sel]))]
        tops.append((float(x[j]), float(err[j])))
    tops.sort(key=lambda e: -e[1])
    assert len(r1.worst) == 5 and [w[1] for w in r1.worst] == sorted((w[1] for w in r1.worst), reverse=True)
    assert len({int(to_ordinal(F32(w[0]))) >> 16 for w in r1.worst}) == 5
    for (xw, ew), (xt, et) in zip(r1.worst, tops[:5]):
        assert xw == xt and abs(ew - et) < 1e-6


def test_progress_is_reported(exp2_fma6):
    seen = []
    a = ordinal(0.5)
    r = fv.fast_verify(exp2_fma6, TARGETS["exp2"], ordinals=(a, a + 3 * fv.CHUNK),
                       progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (r.inputs, r.inputs) and len(seen) >= 3
    assert all(d1 < d2 for (d1, _), (d2, _) in zip(seen, seen[1:]))


def test_kernel_disagreement_is_detected(exp2_fma6, monkeypatch):
    """The cross-check catches a loop that runs other code than the interpreter's program."""
    other = exp2_fma6.with_constants(exp2_fma6.constants * (1 + 2.0 ** -20))
    real = fv._kernel
    monkeypatch.setattr(fv, "_kernel", lambda key, p: real(other.hash(), other))
    with pytest.raises(EvoError, match=r"^backend disagrees with the interpreter at x = "):
        fv.fast_verify(exp2_fma6, TARGETS["exp2"], ordinals=(ordinal(0.5), ordinal(0.5) + 100_000))


def test_bad_stride_is_refused(exp2_fma6):
    with pytest.raises(EvoError, match="cross_check_stride must be odd"):
        fv.fast_verify(exp2_fma6, TARGETS["exp2"], (0.5, 0.6), cross_check_stride=64)


# -- the reference ---------------------------------------------------------------------------------------

def test_reference_is_as_accurate_as_it_says():
    """Table values against mpmath (targets' own ground truth) at random float32 inputs of
    exp2 (its top binade), log2 around 1 and erf from 0: within the certified bound (~1e-15)."""
    rng = np.random.default_rng(7)
    cases = (("exp2", (0.0, 1.0), (ordinal(0.5), ordinal(1.0))),
             ("log2", (0.75, 1.5), (ordinal(0.75), ordinal(1.5))),
             ("erf", (0.0, 1.0), (0, ordinal(2.0 ** -120))),
             ("erf", (0.0, 1.0), (ordinal(0.25), ordinal(1.0))))
    for name, iv, (a, b) in cases:
        t = TARGETS[name].with_interval(*iv)
        table = ref.build_table(t, (a, b))
        assert table.rel_error <= ref.TOL and table.fallback_pieces == 0
        o = np.concatenate([rng.integers(a, b + 1, 600), np.clip(ordinal(1.0) + np.arange(-40, 40), a, b)])
        x = from_ordinal(o)
        v = ref.table_values(table, x)
        hi, lo = t.exact(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs((v - hi) - lo) / np.abs(hi)
        rel = np.where(hi == 0, np.where(v == 0, 0.0, np.inf), rel)
        assert rel.max() <= table.rel_error, name
        assert table.ulp_error < 2e-8


def test_a_wrong_coefficient_is_caught():
    """Mutating one coefficient of one piece: its check fails, and so does a verification
    that uses the table (the sample's reference disagrees with numpy, then with mpmath)."""
    t = TARGETS["exp2"]
    a = ordinal(0.6)
    ords = (a, a + (1 << 18))
    table = ref.build_table(t, ords)
    bounds, measured = ref.check_table(table, t)
    assert np.array_equal(bounds, table.rel_bound) and np.array_equal(measured, table.rel_err)
    params = table.params.copy()
    params[0, ref.NPARAM + 2] *= 1 + 1e-9
    bad = table.with_params(params)
    bounds, measured = ref.check_table(bad, t)
    assert measured[0] > ref.TOL and not bounds[0] <= ref.TOL
    p = horner([1.0, np.log(2.0)], use_fma=True)
    with pytest.raises(EvoError, match=r"^reference table wrong at x = "):
        fv.fast_verify(p, t, ordinals=ords, table=bad)


def test_table_cache_on_disk(cache_dir):
    t = get_target("exp(x) - x", (0.0, 1.0))
    ords = (ordinal(0.25), ordinal(0.25) + 1000)
    first = ref.build_table(t, ords)
    ref._cached.cache_clear()
    again = ref.build_table(t, ords)
    assert again is not first and again.seconds == first.seconds   # loaded, not rebuilt
    assert np.array_equal(again.params, first.params) and again.describe() == first.describe()
    assert list((cache_dir / "reference").glob("*.npz"))


def test_pieces_follow_the_float32_layout():
    """Each piece: one sign, one exponent, the top m mantissa bits; pieces tile the range."""
    t = TARGETS["log2"].with_interval(0.75, 1.5)
    table = ref.build_table(t)
    lo, hi = table.ordinal_bounds()
    a, b = t.f32_inputs()
    assert lo[0] <= a and hi[-1] >= b and np.all(lo[1:] == hi[:-1] + 1)
    length = table.length
    assert np.all(length & (length - 1) == 0) and np.all(table.mag0 % length == 0)
    assert np.all((table.mag0 >> 23) == ((table.mag0 + length - 1) >> 23))
    assert set(table.kind) <= {ref.POLY, ref.FACTORED}
    assert table.kind[np.flatnonzero((lo <= ordinal(1.0)) & (ordinal(1.0) <= hi + 1))].tolist().count(ref.FACTORED) >= 1


# -- vectorised code -----------------------------------------------------------------------------------

def test_loop_is_vectorised(exp2_fma6):
    text = fv.optimised_ir()
    assert f"<{fv.VW} x double>" in text
    assert re.search(r"call .*@llvm\.fma\.v\d+f64", text)
    assert vector_width(exp2_fma6) >= 8   # the program's kernel: evo.backends.llvm's own build


def test_table_values_match_the_loop(exp2_fma6):
    """The sample's v (from the vectorised loop) is bit-identical to the scalar evaluator
    the accuracy check used."""
    t = TARGETS["log2"].with_interval(0.75, 1.5)
    one = ordinal(1.0)
    ords = (one - 300_000, one + 300_000)
    table = ref.build_table(t, ords)
    comp = fv.compile_verifier(exp2_fma6, table.degree)
    plan = fv._plan(table, *ords)
    captured = {}
    real = fv._check_reference

    def spy(target, table_, piece, counts, x, v):
        captured["x"], captured["v"] = x.copy(), v.copy()
        return real(target, table_, piece, counts, x, v)

    fv._check_reference = spy
    try:
        fv._chunk(comp, exp2_fma6, t, table, plan, 0, plan.n.size, 101)
    finally:
        fv._check_reference = real
    assert captured["x"].size > 5000
    want = ref.table_values(table, captured["x"])
    assert np.array_equal(want.view(np.uint64), captured["v"].view(np.uint64))
    mp = [float(mpmath.log(mpmath.mpf(float(xi)), 2)) for xi in captured["x"][:200]]
    assert np.allclose(captured["v"][:200], mp, rtol=1e-15, atol=0)
