"""bfloat16 and float16: rounding against ml_dtypes, misrounded counts against an independent
mpmath check of every input, the C measuring loop against numpy, goals and their errors."""
from __future__ import annotations

import subprocess

import mpmath
import numpy as np
import pytest

from evo.core.formats import FORMATS
from evo.core.interp import evaluate
from evo.core.ir import Builder
from evo.errors import EvoError
from evo.platforms import get_platform
from targets import get_target

FA4 = (1.0, 0.695146, 0.227564, 0.077119)    # FlashAttention-4's exp2 on [0, 1), lowest first


def poly(coeffs) -> "Program":  # noqa: F821
    b = Builder()
    return b.program(b.horner([float(np.float32(c)) for c in coeffs], 0))


def _specials() -> np.ndarray:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 1 << 32, 200_000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 65504.0, 65520.0, 65519.996,
                      3.3895314e38, 3.4e38, 5.96e-8, 2.98e-8, 2.9802322e-08, 1.1754942e-38], np.float32)
    return np.concatenate([x, edges])


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
def test_rounding_to_the_format_is_ml_dtypes_rounding(name):
    f = FORMATS[name]
    x = _specials()
    np.seterr(all="ignore")
    mine = f.round(x).astype(np.float64)
    theirs = x.astype(f.numpy_dtype).astype(np.float64)
    same = (mine == theirs) | (np.isnan(mine) & np.isnan(theirs))
    assert same.all(), x[~same][:5]
    assert f.every_value().size == 65536


def _independent_misrounded(p, name: str, lo: float, hi: float) -> int:
    """For each input of the format in [lo, hi]: is the program's float32 result, rounded to
    the format (ml_dtypes), the value nearest 2^x (mpmath, 80 bits; ties to even)?"""
    dt = FORMATS[name].numpy_dtype
    xs = np.arange(1 << 16, dtype=np.uint16).view(dt)
    xs = np.unique(xs[np.isfinite(xs.astype(np.float32)) & (xs >= lo) & (xs <= hi)].astype(np.float32))
    got = evaluate(p, xs, np.float32).astype(dt)
    bits = got.view(np.uint16).astype(np.int64)
    wrong = 0
    with mpmath.workprec(80):
        for xi, gi, b in zip(xs, got, bits):
            exact = mpmath.power(2, mpmath.mpf(float(xi)))
            r = mpmath.mpf(float(gi))
            # the neighbours of r in the format (positive results: bits +- 1)
            down, up = (np.array([b - 1, b + 1], np.uint16).view(dt).astype(np.float64))
            d = abs(exact - r)
            if abs(exact - down) < d or abs(exact - up) < d:
                wrong += 1
            elif abs(exact - down) == d or abs(exact - up) == d:
                wrong += int(b) & 1      # a tie: the even one is right
    return wrong


@pytest.mark.parametrize("name,coeffs", [("bfloat16", FA4), ("bfloat16", (1.0, 0.6565, 0.3435)),
                                         ("float16", FA4)])
def test_misrounded_counts_equal_an_independent_mpmath_check(name, coeffs):
    p = poly(coeffs)
    t = get_target("exp2", (0.0, 0.99999994))
    r = get_platform(name).verify(p, t)
    assert r.not_correctly_rounded == _independent_misrounded(p, name, 0.0, 0.99999994)
    assert r.inputs == FORMATS[name].values(0.0, 0.99999994).size
    assert (r.max_ulp < 0.5) == (r.not_correctly_rounded == 0)


def test_the_c_measuring_loop_agrees_with_numpy():
    from evo.verification.formats import _measure, _measure_chunk, _native_measure

    if _native_measure() is None:
        pytest.skip("no gcc: numpy measures (the C loop is what is checked here)")
    rng = np.random.default_rng(3)
    ref = np.concatenate([rng.uniform(-3, 3, 20000), np.exp2(rng.uniform(-140, 130, 20000)),
                          [0.0, np.inf, -np.inf, np.nan, 1e-40, 3.3e38]])
    y = (ref * (1 + rng.normal(0, 2e-3, ref.size))).astype(np.float32)
    y[-3:] = [np.nan, 0.0, np.inf]
    for name in FORMATS:
        f = FORMATS[name]
        d, e, w = _measure(f, y, ref, np.zeros_like(ref))
        dmax, i, dsum, wrong, emax = _measure_chunk(f, y, ref)
        assert wrong == int(w.sum()) and dmax == pytest.approx(float(d.max()), rel=1e-12)
        assert emax == pytest.approx(float(e.max()), rel=1e-12) and dsum == pytest.approx(float(d.sum()), rel=1e-9)


def test_fa4_on_float32_inputs_is_faithful_in_bf16_ulps():
    """FlashAttention-4's polynomial, float32 in and bfloat16 out, on a slice of [0, 1)
    (the whole 2^30 is bench/fa4.py): faithful, and misrounded on some inputs."""
    t = get_target("exp2", (0.5, 0.5078125))
    r = get_platform("float32-bfloat16").verify(poly(FA4), t)
    assert r.inputs == 2**17 + 1 and r.rounded_max_ulp < 1.0 and r.not_correctly_rounded > 0


def test_goals_and_formats_fail_in_one_line(evo_cmd, tmp_path):
    with pytest.raises(EvoError, match=r"^unknown format 'bf8' \(known: float32, float32-xla, reals, bfloat16"):
        get_platform("bf8")
    r = subprocess.run([*evo_cmd, "search", "exp2", "--goal", "correctly-rounded", "--evals", "10",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "goal 'correctly-rounded' is not offered on the float32 platform" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not any(tmp_path.iterdir())
    r = subprocess.run([*evo_cmd, "search", "exp2", "--format", "bf8", "--evals", "10", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "unknown format 'bf8'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_bf16_search_stops_at_its_goal_with_a_verified_correctly_rounded_member(tmp_path):
    import evo

    run = evo.search("exp2", (0.0, 0.99999994), budget=None, max_evals=6000, workers=0, out=tmp_path, name="cr",
                     progress=False, platform="bfloat16", goal="correctly-rounded", seed=0)
    goal = run.front.meta["goal"]
    assert goal["id"] is not None and goal["evals"] < 6000, goal
    m = next(m for m in run.front if m.id == goal["id"])
    assert m.exhaustive["not_correctly_rounded"] == 0 and m.exhaustive["inputs"] == 16256
    # an independent check of the member the search calls correctly rounded
    assert _independent_misrounded(m.program, "bfloat16", 0.0, 0.99999994) == 0
    assert evo.verify(m).not_correctly_rounded == 0      # a member is verified on its run's platform


def test_a_bf16_members_export_says_its_figures_in_bfloat16(tmp_path):
    """The C header of a bfloat16 run's member states the bfloat16 figures (misrounded of every
    bfloat16 input), not a float32 ULP; --full-range is refused in one line (the ready library
    is the full-range form)."""
    import evo

    run = evo.search("exp2", (-0.5, 0.5), budget=None, max_evals=400, workers=0, out=tmp_path, name="e",
                     progress=False, platform="bfloat16", seed=0, verify_below=0.7)
    m = next(m for m in run.front if m.exhaustive)
    src = evo.export(m, lang="c")
    assert (f"{m.exhaustive['not_correctly_rounded']:,} of {m.exhaustive['inputs']:,} bfloat16 inputs of the "
            "interval not correctly rounded") in src and "round it to bfloat16" in src
    with pytest.raises(EvoError, match="^a bfloat16 kernel has no float32 full-range export: evo lib --format bfloat16"):
        evo.export(m, lang="c", full_range=True)
