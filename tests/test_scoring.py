"""evo/core/scoring.py: ULP error (the README's definition) checked against mpmath, fixed-ULP and
relative modes, worst scores for NaN/inf, training/validation sets, the Scorer end to end."""
from __future__ import annotations

import math
import pickle

import mpmath
import numpy as np
import pytest
from support import mp_round_f32, mp_ulp_error

from evo.core.interp import evaluate
from evo.core.ir import Instr, Program
from evo.core.scoring import (
    SPECIAL_INPUTS,
    ErrorStats,
    Scorer,
    error_relative,
    error_ulp,
    stats,
    training_inputs,
    ulp32,
    validation_inputs,
)
from evo.platforms import FLOAT32, REALS
from primitives.float32 import from_ordinal, to_ordinal
from targets import TARGETS, get_target

F32 = np.float32


def P(*instrs):
    return Program((Instr("x"), *instrs), len(instrs))


def C(v):
    return Instr("const", (), v)


@pytest.mark.parametrize("v, lo, want", [
    (1.0, 0.0, 2.0 ** -23),
    (1.5, 0.0, 2.0 ** -23),
    (1.9999999, 0.0, 2.0 ** -23),
    (2.0, 0.0, 2.0 ** -22),
    (0.75, 0.0, 2.0 ** -24),
    (-3.0, 0.0, 2.0 ** -22),
    (3.4e38, 0.0, 2.0 ** 104),
    (2.0 ** -126, 0.0, 2.0 ** -149),         # smallest normal
    (2.0 ** -130, 0.0, 2.0 ** -149),         # subnormal: the floor E >= -126
    (1e-45, 0.0, 2.0 ** -149),
    (0.0, 0.0, 2.0 ** -149),                 # zero: the same floor
    (-0.0, 0.0, 2.0 ** -149),
    (2.0, -1e-30, 2.0 ** -23),               # v just below 2 (hi rounded up to 2): ulp of [1, 2)
    (-2.0, 1e-30, 2.0 ** -23),
    (2.0, 1e-30, 2.0 ** -22),                # just above 2
    (0.5, -2.0 ** -80, 2.0 ** -25),
    (2.0 ** -126, -2.0 ** -200, 2.0 ** -149),
])
def test_ulp32(v, lo, want):
    assert float(ulp32(np.float64(v), lo)) == want
    assert float(ulp32(np.array([v]), np.array([lo]))[0]) == want


@pytest.mark.parametrize("name", list(TARGETS))
def test_ulp_error_against_mpmath(name):
    """For float32 results around the exact value: the correctly rounded one scores <= 0.5,
    its neighbours about 1 and more, all equal to |y - v| / ulp(v) computed in mpmath."""
    t = TARGETS[name]
    rng = np.random.default_rng(17)
    x = np.unique(np.concatenate([rng.uniform(*t.interval, 60).astype(F32), np.array(t.interval, F32)]))
    x = x[(x >= t.interval[0]) & (x <= t.interval[1])]
    hi, lo = t.exact(x)
    fn = {"exp2": mpmath.exp2, "exp": mpmath.exp, "log2": mpmath.log2, "log": mpmath.log, "erf": mpmath.erf,
          "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)), "tanh": mpmath.tanh}[name]
    with mpmath.workprec(300):
        v = [fn(mpmath.mpf(float(xi))) for xi in x]
        cr = np.array([mp_round_f32(vi) for vi in v], F32)
        for k in (-3, -2, -1, 0, 1, 2, 3):
            y = from_ordinal(to_ordinal(cr) + k)
            got = error_ulp(y, hi, lo)
            want = np.array([mp_ulp_error(float(yi), vi) for yi, vi in zip(y, v)])
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
            if k == 0:
                assert np.all(got <= 0.5)
            elif abs(k) == 1:
                assert np.all((got >= 0.5) & (got < 1.5))  # 0.5 only below an exact power of two
            else:
                assert np.all(got >= (abs(k) - 1) / 2)     # spacing halves below a power of two


@pytest.mark.parametrize("offset", ["- 2**-60", "+ 2**-60", "- 2**-30", "+ 2**-30"])
def test_power_of_two_boundary(offset):
    """v = 2 -/+ tiny: below 2 the ulp is 2^-23 (hi is then exactly 2.0 and lo negative)."""
    t = get_target(f"exp2(x) {offset}", (0.5, 1.0))
    hi, lo = t.exact(np.array([1.0], F32))
    below = offset.startswith("-")
    if offset.endswith("60"):
        assert hi[0] == 2.0 and (lo[0] < 0) == below  # the case the ulp32 power-of-two rule is for
    with mpmath.workprec(200):
        v = 2 + (-1 if below else 1) * mpmath.mpf(2) ** int(offset.split("**")[1])
        for y in (F32(2.0), np.nextafter(F32(2.0), F32(0)), np.nextafter(F32(2.0), F32(4))):
            got = float(error_ulp(np.array([y]), hi, lo)[0])
            assert got == pytest.approx(mp_ulp_error(float(y), v), rel=1e-12, abs=1e-15)
    two = float(error_ulp(np.array([F32(2.0)]), hi, lo)[0])
    tiny = 2.0 ** int(offset.split("**")[1])
    assert two == pytest.approx(tiny / (2.0 ** -23 if below else 2.0 ** -22), rel=1e-12)


def test_subnormal_results_use_the_floor():
    """A target whose values are subnormal float32: x * 2^-135 on [0.5, 1]."""
    t = get_target("x * 2**-135", (0.5, 1.0))
    p = P(C(2.0 ** -135), Instr("mul", (0, 1)))
    s = Scorer(t, FLOAT32)
    st = s.score(p)
    assert st.max <= 0.5  # float32 multiplication rounds correctly, subnormals kept
    x = s.validation.x
    y = evaluate(p, x)
    assert np.all((y != 0) & (np.abs(y) < 2.0 ** -126))
    with mpmath.workprec(100):
        want = [mp_ulp_error(float(yi), mpmath.mpf(float(xi)) * mpmath.mpf(2) ** -135) for xi, yi in zip(x, y)]
    np.testing.assert_allclose(s.errors(y, s.validation), want, rtol=1e-12, atol=1e-12)
    assert st.max == pytest.approx(max(want), rel=1e-12)


def test_error_at_an_exact_zero():
    """v = 0 exactly (log2 at 1): the ulp is the smallest subnormal, not 2^-24."""
    assert float(error_ulp(np.array([F32(2.0 ** -149)]), np.array([0.0]))[0]) == 1.0
    assert float(error_ulp(np.array([F32(0.0)]), np.array([0.0]))[0]) == 0.0
    s = Scorer(TARGETS["log2"], FLOAT32)
    assert s.train.x[0] == 1.0 and s.train.hi[0] == 0.0
    p = P(C(float(F32(1 - 2.0 ** -24))), Instr("sub", (0, 1)))  # x - (1 - 2^-24): 2^-24 at x = 1
    err = s.errors(evaluate(p, s.train.x), s.train)
    assert err[0] == 2.0 ** 125


def test_non_finite_results_score_worst():
    hi = np.array([1.0, 1.0, 1.0, 2.0])
    y = np.array([np.nan, np.inf, -np.inf, 2.0], F32)
    err = error_ulp(y, hi)
    assert list(err) == [np.inf, np.inf, np.inf, 0.0]
    assert list(error_ulp(y, hi, fixed_ulp=2.0 ** -23)) == [np.inf, np.inf, np.inf, 0.0]
    rel = error_relative(y.astype(np.float64), hi)
    assert list(rel) == [np.inf, np.inf, np.inf, 0.0]
    st = stats(err, np.array([0.1, 0.2, 0.3, 0.4]))
    assert (st.max, st.mean, st.argmax, st.n) == (np.inf, np.inf, 0.1, 4)
    assert st.to_dict() == {"max_ulp": "inf", "mean_ulp": "inf", "argmax": 0.1, "inputs": 4}


@pytest.mark.parametrize("program", [
    P(Instr("sub", (0, 0)), Instr("div", (0, 1))),                            # x / 0
    P(C(-2.0), Instr("add", (0, 1)), Instr("sqrt", (2,))),                    # sqrt(x - 2): NaN
    P(C(1e38), Instr("mul", (0, 1)), Instr("mul", (2, 1))),                   # overflow
    P(C(0.0), C(0.0), Instr("div", (1, 2)), Instr("add", (0, 3))),            # NaN constant subexpression
])
@pytest.mark.parametrize("metric", ["ulp", "fixed"])
def test_scorer_never_raises_and_gives_worst_score(program, metric):
    s = Scorer(TARGETS["exp2"], FLOAT32, metric=metric)
    st = s.score(program)
    assert st.max == np.inf and st.mean == np.inf and st.n == s.validation.x.size
    assert s.score(program, "train").max == np.inf
    r = Scorer(TARGETS["exp2"], REALS).score(program)
    assert r.max > 1e30  # float64 does not overflow at 1e76: huge, not inf


def test_scorer_matches_independent_computation(exp2_fma6):
    s = Scorer(TARGETS["exp2"], FLOAT32)
    for on, pts in (("validation", s.validation), ("train", s.train)):
        st = s.score(exp2_fma6, on)
        y = evaluate(exp2_fma6, pts.x)
        with mpmath.workprec(200):
            want = np.array([mp_ulp_error(float(yi), mpmath.exp2(mpmath.mpf(float(xi)))) for xi, yi in zip(pts.x, y)])
        assert st.n == pts.x.size
        assert st.max == pytest.approx(want.max(), rel=1e-12)
        assert st.argmax == float(pts.x[int(np.argmax(want))])
        assert st.mean == pytest.approx(want.mean(), rel=1e-9)
    # sanity figure (README, "Definitions"): a good degree-6 polynomial in fma Horner form is just under 1 ULP
    assert 0.5 < s.score(exp2_fma6).max < 1.0


def test_plain_horner_is_worse_than_fma(exp2_fma6, exp2_horner6):
    s = Scorer(TARGETS["exp2"], FLOAT32)
    assert s.score(exp2_horner6).max > 1.0 > s.score(exp2_fma6).max


@pytest.mark.parametrize("ref, unit", [(1.5, 2.0 ** -23), (0.75, 2.0 ** -24), (3.0, 2.0 ** -22)])
def test_fixed_ulp_mode(exp2_fma6, ref, unit):
    s = Scorer(TARGETS["exp2"], FLOAT32, metric="fixed", fixed_ref=ref)
    st = s.score(exp2_fma6)
    x = s.validation.x
    y = evaluate(exp2_fma6, x)
    with mpmath.workprec(200):
        want = np.array([float(abs(mpmath.mpf(float(yi)) - mpmath.exp2(mpmath.mpf(float(xi)))) / unit)
                         for xi, yi in zip(x, y)])
    assert st.max == pytest.approx(want.max(), rel=1e-12)
    assert st.argmax == float(x[int(np.argmax(want))])
    assert s.unit == "ulp"


def test_relative_mode_float64(exp2_fma6):
    s = Scorer(TARGETS["exp2"], REALS)
    assert s.metric == "relative" and s.unit == "rel" and s.np_dtype is np.float64
    x = s.validation.x
    assert x.dtype == np.float64
    st = s.score(exp2_fma6)
    y = evaluate(exp2_fma6, x, np.float64)
    with mpmath.workprec(200):
        want = []
        for xi, yi in zip(x, y):
            v = mpmath.exp2(mpmath.mpf(float(xi)))
            want.append(float(abs(mpmath.mpf(float(yi)) - v) / v))
    want = np.array(want)
    assert st.max == pytest.approx(want.max(), rel=1e-9)
    assert st.argmax == float(x[int(np.argmax(want))])
    assert 1e-9 < st.max < 1e-5  # float32 coefficients: relative error of the polynomial itself
    assert st.to_dict("rel").keys() == {"max_rel", "mean_rel", "argmax", "inputs"}


def test_relative_error_at_zero():
    assert list(error_relative(np.array([0.0, 1e-300]), np.array([0.0, 0.0]))) == [0.0, np.inf]
    assert float(error_relative(np.array([1.5]), np.array([1.0]))[0]) == 0.5


@pytest.mark.parametrize("name", list(TARGETS))
def test_training_and_validation_sets(name):
    t = TARGETS[name]
    lo, hi = t.interval
    tr = training_inputs(t)
    assert tr.dtype == F32 and np.all(np.diff(tr) > 0)
    assert float(tr[0]) >= lo and float(tr[-1]) <= hi
    a, b = t.f32_inputs()
    assert tr[0] == from_ordinal(a) and tr[-1] == from_ordinal(b)  # both endpoints
    assert 1024 <= tr.size <= 1024 + 256 + 2 + SPECIAL_INPUTS.size
    inside = SPECIAL_INPUTS[(SPECIAL_INPUTS >= lo) & (SPECIAL_INPUTS <= hi)]
    assert np.all(np.isin(inside, tr))  # 0, subnormals, +-1: where c / x and x - x programs break
    va = validation_inputs(t, seed=1)
    assert va.dtype == F32 and np.all(np.diff(va) > 0) and float(va[0]) >= lo and float(va[-1]) <= hi
    assert va.size > 15_000
    assert np.array_equal(va, validation_inputs(t, seed=1))         # fixed by seed
    assert not np.array_equal(va, validation_inputs(t, seed=2))
    # half the points are uniform in ordinal: small magnitudes are reached where the interval has them
    if lo == 0.0:
        assert np.mean(va < 1e-3) > 0.3
    s1, s2 = Scorer(t, FLOAT32, seed=1), Scorer(t, FLOAT32, seed=1)
    assert np.array_equal(s1.validation.x, s2.validation.x) and np.array_equal(s1.train.x, tr)


def test_custom_interval_sets():
    t = get_target("sin(x)", (-2.0, 3.0))
    tr = training_inputs(t)
    assert tr[0] == -2.0 and tr[-1] == 3.0 and np.any(tr < 0) and np.any(tr > 0)
    d = training_inputs(t, dtype=np.float64)
    assert d.dtype == np.float64 and d[0] == -2.0 and d[-1] == 3.0


def test_scorer_pickles(exp2_fma6):
    s = Scorer(get_target("exp2", (0.25, 0.5)), FLOAT32, metric="fixed", fixed_ref=0.75, seed=3, n_validation=2000)
    u = pickle.loads(pickle.dumps(s))
    assert u == s
    assert u.score(exp2_fma6) == s.score(exp2_fma6)
    assert isinstance(u.score(exp2_fma6), ErrorStats)


def test_identity_program_error_at_zero():
    """f(x) = x on exp2: at x = 0 the result 0 is 1 away from 2^0 = 1, i.e. 2^23 ulp."""
    s = Scorer(TARGETS["exp2"], FLOAT32)
    err = s.errors(evaluate(Program.identity(), s.train.x), s.train)
    assert s.train.x[0] == 0.0 and err[0] == 2.0 ** 23
    assert math.isfinite(s.score(Program.identity()).max)
