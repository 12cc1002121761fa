"""The compiled fitter (evo.fit.native) against its definition, the numpy path (evo.fit.lm,
evo.core.interp): the same values and Jacobian, float32 outputs bit for bit, and the same fit
quality on real children saved from a search (bench/fit_children.json)."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from evo.backends.findings import random_program
from evo.core.interp import evaluate
from evo.core.ir import Instr, Program
from evo.fit.config import FitConfig
from evo.fit.lm import _max_abs, _weighted, compiled, fit_float64
from evo.fit.native import _dual_emitter, compiled_ops, native, tape
from primitives import OPS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def nat():
    n = native()
    assert n is not None, "the compiled fitter failed to build"
    return n


def _problem(n: int = 97):
    x = np.linspace(0.01, 1.0, n)
    v = np.exp2(x)
    return x, v, 1.0 / np.spacing(v.astype(np.float32)).astype(np.float64)


def test_every_op_of_the_table_is_compiled():
    assert set(compiled_ops()) == set(OPS)


def test_an_op_whose_partials_cannot_be_traced_is_left_to_numpy():
    exp = replace(OPS["neg"], name="exp", f64=np.exp, partials=lambda a: (np.exp(a),))
    assert _dual_emitter(exp) is None
    assert _dual_emitter(replace(OPS["neg"], partials=None)) is None


def test_residuals_and_jacobian_match_the_dual_numbers_on_random_programs(nat):
    rng = np.random.default_rng(0)
    x, v, w = _problem()
    checked = 0
    for _ in range(300):
        p = random_program(rng, int(rng.integers(1, 14)))
        free = (rng.random(len(p.const_slots)) < 0.7).astype(float)
        with np.errstate(all="ignore"):
            r0, j0 = _weighted(p, x, v, w, p.constants, free)
        r1, j1 = nat.residuals(tape(p), x, v, w, p.constants, free)
        assert np.allclose(r0, r1, rtol=1e-13, atol=0, equal_nan=True)
        # Reverse mode multiplies no zero gradient by an infinite partial: where the dual
        # numbers get inf * 0 = nan the compiled Jacobian may hold a number, never the reverse.
        # (atol: 1e-13 of the weights, ~1e7, for derivatives that cancel to about zero)
        fin = np.isfinite(j0)
        assert np.allclose(j0[fin], j1[fin], rtol=1e-10, atol=1e-13 * w.max())
        assert not np.isfinite(j1[np.isinf(j0)]).any()
        checked += bool(fin.all() and p.const_slots)
    assert checked > 100


def test_float32_evaluation_is_the_interpreters_bit_for_bit(nat):
    rng = np.random.default_rng(1)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-42, 3e38, 1e-45, -1.0, 1.0], np.float32)
    x = np.concatenate([rng.standard_normal(300).astype(np.float32), special])
    for _ in range(300):
        p = random_program(rng, int(rng.integers(1, 14)))
        cs = (p.constants[None, :] * (1 + 1e-3 * rng.standard_normal((3, len(p.const_slots))))).astype(np.float32)
        want = evaluate(p, x, np.float32, cs)
        got = nat.evaluate32(tape(p), x, cs)
        same = (want.view(np.uint32) == got.view(np.uint32)) | (np.isnan(want) & np.isnan(got))
        assert same.all(), str(p)


def test_fit_float64_reaches_the_numpy_paths_error(nat):
    rng = np.random.default_rng(2)
    x, v, w = _problem(427)
    ratios = []
    for _ in range(120):
        p = random_program(rng, int(rng.integers(2, 12)), ("add", "sub", "mul", "div", "fma", "neg"))
        if not p.const_slots:
            continue
        with np.errstate(all="ignore"):
            e0 = _max_abs(_weighted(p, x, v, w, fit_float64(p, x, v, w, FitConfig(native=False)))[0])
            e1 = _max_abs(_weighted(p, x, v, w, fit_float64(p, x, v, w, FitConfig()))[0])
        assert np.isfinite(e0) == np.isfinite(e1)
        if np.isfinite(e0) and e0 > 0:
            ratios.append(e1 / e0)
    assert len(ratios) > 50
    assert np.median(ratios) == pytest.approx(1.0, rel=1e-6)
    assert max(ratios) < 1.05


def test_programs_without_constants_and_constant_outputs(nat):
    x, v, w = _problem()
    const_out = Program((Instr("x"), Instr("const", (), 1.5)), 1)
    r, jac = nat.residuals(tape(const_out), x, v, w, const_out.constants)
    assert np.array_equal(jac, (np.ones_like(x) * w)[None, :])
    assert np.allclose(fit_float64(const_out, x, v, w, FitConfig()), fit_float64(const_out, x, v, w,
                                                                                  FitConfig(native=False)))
    dead = Program((Instr("x"), Instr("const", (), 2.0), Instr("mul", (0, 0))), 2)  # a constant nothing uses
    r, jac = nat.residuals(tape(dead), x, v, w, dead.constants)
    assert np.array_equal(jac, np.zeros((1, x.size)))
    assert compiled(dead, FitConfig(native=False)) is None


def test_fit_quality_on_saved_children_matches_the_numpy_path():
    """The fixed children of a real run (bench/fit_children.json), fitted by both paths: the
    max errors agree at the median; a few rounding-sensitive children move either way (the
    numpy path's own summation order moves as many, by as much: bench/fit_speed.py)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import fit_speed

    scorer, children = fit_speed.load()
    _, before = fit_speed.fit_all(scorer, children, FitConfig(native=False))
    _, after = fit_speed.fit_all(scorer, children, FitConfig())
    q = fit_speed.quality(before, after)
    assert q["finite_mismatch"] == 0
    assert abs(q["median_diff"]) <= 0.01 and q["median_abs_diff"] <= 0.01
    assert q["worse_by_over_0.05"] <= 0.1 * q["children"]
    small = np.isfinite(before) & (before < 64)
    assert small.sum() >= 20
    assert np.mean(after[small] - before[small]) <= 0.1


def test_a_child_reports_whether_numpy_fitted_it():
    from evo.evolution.state import Stats
    from evo.fit.lm import numpy_fallback

    p = Program((Instr("x"), Instr("const", (), 1.5), Instr("mul", (0, 1))), 2)
    assert not numpy_fallback(p, FitConfig())                  # compiled
    assert not numpy_fallback(p, FitConfig(native=False))      # numpy asked for
    assert not numpy_fallback(Program.identity(), FitConfig())  # nothing to fit
    assert Stats.from_dict({"evals": 3}).numpy_fits == 0        # a checkpoint from before the counter
