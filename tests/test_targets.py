"""targets/: the registry, custom expressions, interval checks, mpmath ground truth, disk cache."""
from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest

from primitives.errors import EvoError
from primitives.float32 import from_ordinal
from targets import TARGETS, TargetError, get_target, parse_interval
from targets import cache_dir as truth_cache_dir
from targets.truth import exact_values

F32 = np.float32
KNOWN = "exp2, exp, log2, log, erf, sigmoid, tanh"
UNKNOWN_TARGET = f"(known: {KNOWN}; or an expression in x with --interval A,B)"


def test_registry():
    assert list(TARGETS) == ["exp2", "exp", "log2", "log", "erf", "sigmoid", "tanh"]
    ln2_half = float(F32(math.log(2) / 2))
    want = {"exp2": (0.0, 1.0), "exp": (-ln2_half, ln2_half), "log2": (1.0, 2.0),
            "log": (0.5, 1.0), "erf": (0.0, 1.0), "sigmoid": (0.0, 4.0), "tanh": (0.0, 1.0)}
    for name, t in TARGETS.items():
        assert t.name == name and t.interval == want[name]
        assert get_target(name) is t
        assert t.to_dict() == {"name": name, "expr": t.expr, "interval": list(t.interval)}


@pytest.mark.parametrize("name", list(TARGETS))
def test_registered_reference_functions(name):
    """mp (mpmath), f64 (numpy) and exact (double-double) agree on every registered target."""
    t = TARGETS[name]
    x = np.linspace(*t.interval, 33).astype(F32)
    x = x[(x >= t.interval[0]) & (x <= t.interval[1])]
    hi, lo = t.exact(x)
    with mpmath.workprec(200):
        mp = [t.mp(mpmath.mpf(float(v))) for v in x]
    assert np.allclose(t.f64(x.astype(np.float64)), hi, rtol=1e-15, atol=1e-300)
    assert np.allclose([float(v) for v in mp], hi, rtol=0, atol=0)


@pytest.mark.parametrize("name", list(TARGETS))
def test_ground_truth_agrees_with_mpmath_at_higher_precision(name):
    """hi + lo is the exact value to ~106 bits, hi is the nearest float64, |lo| <= ulp(hi) / 2."""
    t = TARGETS[name]
    rng = np.random.default_rng(3)
    lo_, hi_ = t.interval
    x = np.unique(np.concatenate([rng.uniform(lo_, hi_, 200).astype(F32),
                                  np.array([lo_, hi_], F32)]))
    x = x[(x >= lo_) & (x <= hi_)]
    hi, lo = t.exact(x)
    fn = {"exp2": mpmath.exp2, "exp": mpmath.exp, "log2": mpmath.log2, "log": mpmath.log,
          "erf": mpmath.erf, "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)), "tanh": mpmath.tanh}[name]
    with mpmath.workprec(300):
        for xi, h, l in zip(x, hi, lo):
            v = fn(mpmath.mpf(float(xi)))
            err = abs(mpmath.mpf(h) + mpmath.mpf(l) - v)
            assert err <= abs(v) * mpmath.ldexp(1, -104) or (v == 0 and h == 0 and l == 0), (xi, err)
            assert abs(l) <= np.spacing(abs(h)) / 2 if h != 0 else l == 0


def test_custom_expression_target():
    t = get_target("sin(x)+1", (0.0, 1.0))
    assert (t.name, t.expr, t.interval, t.description) == ("sin(x)+1", "sin(x)+1", (0.0, 1.0), "custom")
    assert get_target("sin(x)+1", "0,1") == t
    x = np.array([0.0, 0.25, 1.0], F32)
    hi, lo = t.exact(x)
    with mpmath.workprec(300):
        for xi, h, l in zip(x, hi, lo):
            v = mpmath.sin(mpmath.mpf(float(xi))) + 1
            assert abs(mpmath.mpf(h) + mpmath.mpf(l) - v) <= mpmath.ldexp(1, -104)
    assert np.allclose(t.f64(x.astype(np.float64)), np.sin(x.astype(np.float64)) + 1, rtol=1e-16)
    # constants, powers, unary minus and the other functions are available
    u = get_target("-x**2 + 2*pi*ln2 - e + erf(x)/exp2(x)", (-1, 1))
    with mpmath.workprec(200):
        v = u.mp(mpmath.mpf(0.5))
        w = -mpmath.mpf(0.25) + 2 * mpmath.pi * mpmath.ln2 - mpmath.e + mpmath.erf(0.5) / mpmath.exp2(0.5)
        assert abs(v - w) < mpmath.mpf(2) ** -190
    # a registered target on another interval keeps its expression
    e = get_target("exp2", (1.0, 1.5))
    assert (e.name, e.expr, e.interval) == ("exp2", "exp2(x)", (1.0, 1.5))
    assert get_target("exp2", "-1,0.5").interval == (-1.0, 0.5)


def test_f32_inputs_counts_every_float_in_the_interval():
    t = get_target("exp2", (1.0, 1.001))
    a, b = t.f32_inputs()
    assert float(from_ordinal(a)) == 1.0
    assert float(from_ordinal(b)) <= 1.001 < float(from_ordinal(b + 1))
    assert b - a + 1 == int((1.001 - 1.0) / 2.0 ** -23) + 1
    assert TARGETS["exp2"].f32_inputs() == (0, 0x3F800000)


@pytest.mark.parametrize("name, interval, message", [
    ("exp3", None, f"unknown target 'exp3' {UNKNOWN_TARGET}"),
    ("sine", (0, 1), f"unknown target 'sine' {UNKNOWN_TARGET}"),
    ("foo(x)", (0, 1), "expression 'foo(x)': unknown function 'foo' (known: "),
    ("sin(y)", (0, 1), "expression 'sin(y)': unknown name 'y' (use x, pi, e, ln2)"),
    ("sin(1)", (0, 1), "expression 'sin(1)' does not use x"),
    ("x +", (0, 1), "cannot parse expression 'x +'"),
    ("x.real", (0, 1), "expression 'x.real': Attribute is not allowed"),
    ("__import__('os')", (0, 1), "expression \"__import__('os')\": unknown function '__import__' (known: "),
    ("x if x else 1", (0, 1), "expression 'x if x else 1': IfExp is not allowed"),
    ("sin(x, 2)", (0, 1), "expression 'sin(x, 2)': sin() takes exactly one argument"),
    ("x + 'a'", (0, 1), "expression \"x + 'a'\": only numeric constants are allowed"),
    ("sin(x)", None, "custom target 'sin(x)' needs an interval (--interval A,B)"),
    ("exp2", (1.0, 1.0), "interval [1.0, 1.0] is empty or reversed"),
    ("exp2", (1.0, 0.0), "interval [1.0, 0.0] is empty or reversed"),
    ("sin(x)", (2.0, -2.0), "interval [2.0, -2.0] is empty or reversed"),
    ("exp2", (0.0, math.inf), "interval [0.0, inf] must be finite"),
    ("exp2", (math.nan, 1.0), "interval [nan, 1.0] must be finite"),
    ("exp2", (1.00000001, 1.00000005), "interval [1.00000001, 1.00000005] holds no float32 value"),
    ("log", (-1.0, 1.0), "interval [-1.0, 1.0] is outside the domain of log(x) (at x = -1.0)"),
    ("log2", (0.0, 1.0), "interval [0.0, 1.0] is outside the domain of log2(x) (at x = 0.0)"),
    ("sqrt(x)", (-1.0, 1.0), "interval [-1.0, 1.0] is outside the domain of sqrt(x) (at x = -1.0)"),
    ("1/x", (0.0, 1.0), "interval [0.0, 1.0] is outside the domain of 1/x (at x = 0.0)"),
    # poles and gaps between the 17 samples: found by interval arithmetic over the whole interval
    ("1/(x-0.40625)", (0.3, 0.5), "interval [0.3, 0.5] is outside the domain of 1/(x-0.40625): a pole near "
                                  "x = 0.40625 (found by interval arithmetic)"),
    ("1/(x-pi/8)", (0.3, 0.5), "interval [0.3, 0.5] is outside the domain of 1/(x-pi/8): a pole near "
                               "x = 0.3926991 (found by interval arithmetic)"),
    ("tan(x)", (1.0, 2.0), "interval [1.0, 2.0] is outside the domain of tan(x): a pole near x = 1.570796 "
                           "(found by interval arithmetic)"),
    ("sqrt((x-0.40625)**2-1e-6)", (0.3, 0.5), "interval [0.3, 0.5] is outside the domain of "
                                              "sqrt((x-0.40625)**2-1e-6): not real near x = 0.40525 "
                                              "(found by interval arithmetic)"),
    ("asin(x*1.01)", (0.0, 1.0), "interval [0.0, 1.0] is outside the domain of asin(x*1.01) (at x = 1.0)"),
    ("1/(log(x)-log(0.7))", (0.5, 1.0), "interval [0.5, 1.0] is outside the domain of 1/(log(x)-log(0.7)): "
                                        "a pole near x = 0.7 (found by interval arithmetic)"),
    # sizes bounded before Python evaluates anything (9**9**9 would never return)
    ("x**(9**9**9)", (0, 1), "expression 'x**(9**9**9)': 9 ** 9 ** 9 is too large (at most 2^1000 in magnitude)"),
    ("x**(10**400)", (0.5, 1), "expression 'x**(10**400)': 10 ** 400 is too large (at most 2^1000 in magnitude)"),
    ("x**2000", (0.5, 1), "expression 'x**2000': exponent 2000 is too large (at most 1024 in magnitude)"),
    ("x*" + "9" * 400, (0, 1), f"expression {'x*' + '9' * 35 + '...'!r}: constant {'9' * 37}... is too large "
                               "(at most 2^1000 in magnitude)"),
    ("x+" * 600 + "x", (0, 1), "expression of 1201 characters is too long (at most 1000)"),
    ("exp", "0", "interval '0' must be two numbers A,B"),
    ("exp", "a,b", "interval 'a,b' must be two numbers A,B"),
    ("exp", "1,2,3", "interval '1,2,3' must be two numbers A,B"),
])
def test_target_errors(name, interval, message):
    with pytest.raises(TargetError) as e:
        get_target(name, interval)
    # the command line names the flag, the Python API the parameter
    for text, want in ((e.value.cli_message(), message), (str(e.value), message.replace("--interval", "interval"))):
        assert text.startswith(want) if want.endswith("(known: ") else text == want
        assert "\n" not in text
    assert isinstance(e.value, EvoError)


def test_interval_arithmetic_accepts_what_only_its_overestimate_rejects():
    """1/(x*x - x + 1) on [0, 1]: x*x - x + 1 encloses 0 as one interval, never on its halves."""
    from targets.domain import find_singularity

    assert find_singularity("1/(x*x - x + 1)", 0.0, 1.0) is None
    for expr, lo, hi in (("erf(x)", 0.0, 1.0), ("acosh(x)", 1.0, 2.0), ("lgamma(x)", 0.5, 3.0), ("cbrt(x)", 0.0, 1.0),
                         ("x**x", 0.0, 1.0), ("atanh(x)", -0.9, 0.9), ("cosh(x)/sinh(x)", 0.1, 1.0)):
        assert get_target(expr, (lo, hi)).interval == (lo, hi)


def test_target_checks_have_a_time_limit(monkeypatch):
    monkeypatch.setenv("EVO_TARGET_TIME_LIMIT", "1e-9")
    with pytest.raises(TargetError) as e:
        get_target("sin(x)", (0.0, 1.0))
    assert str(e.value) == ("checking sin(x) on [0.0, 1.0] took over 1e-09 s (at x = 0.0): simplify the expression "
                            "or narrow the interval")


def test_unknown_function_lists_known_ones():
    with pytest.raises(TargetError) as e:
        get_target("foo(x)", (0, 1))
    assert "exp2" in str(e.value) and "erf" in str(e.value) and "sin" in str(e.value)


def test_parse_interval():
    assert parse_interval("0,1") == (0.0, 1.0)
    assert parse_interval(" -0.5 , 1e-3") == (-0.5, 0.001)


def test_exact_values_outside_the_domain_are_nan():
    f = get_target("log(x)", (0.5, 1)).mp
    hi, lo = exact_values(f, np.array([-1.0, 0.0, 1.0, 2.0]))
    assert np.isnan(hi[:2]).all() and np.isnan(lo[:2]).all()
    assert hi[2] == 0.0 and hi[3] == math.log(2.0)


def test_targets_pickle():
    """Targets travel to worker processes: the compiled evaluators are rebuilt there."""
    for t in [*TARGETS.values(), get_target("sin(x)+1", (0, 1))]:
        t.f64(np.zeros(1)), t.mp(mpmath.mpf(0.5))  # populate the cached compiled functions
        u = pickle.loads(pickle.dumps(t))
        assert u == t
        assert u.f64(np.array([0.75]))[0] == t.f64(np.array([0.75]))[0]


# -- the on-disk cache -------------------------------------------------------------------

def test_cache_is_written_and_read(cache_dir):
    assert Path(os.environ["EVO_CACHE_DIR"]) == cache_dir == truth_cache_dir()
    t = get_target("cos(x)*3", (0, 1))
    x = np.linspace(0, 1, 17).astype(F32)
    before = set((cache_dir / "truth").glob("*.npz")) if (cache_dir / "truth").exists() else set()
    hi, lo = t.exact(x)
    new = set((cache_dir / "truth").glob("*.npz")) - before
    assert len(new) == 1
    # the second call reads the file: overwrite it and see the planted values come back
    (path,) = new
    np.savez(path, hi=hi + 1.0, lo=lo)
    hi2, _ = t.exact(x)
    assert np.array_equal(hi2, hi + 1.0)
    # a corrupt or truncated cache file is recomputed (and rewritten), not fatal
    good = path.read_bytes()
    for junk in (b"garbage", good[: len(good) // 2]):
        path.write_bytes(junk)
        hi3, lo3 = t.exact(x)
        assert np.array_equal(hi3, hi) and np.array_equal(lo3, lo)

_CHILD = """
import numpy as np
from targets import get_target, cache_dir
get_target("tanh(x)", (0, 1)).exact(np.linspace(0, 1, 5).astype(np.float32))
print(cache_dir())
"""


def _run_child(env_overrides: dict[str, str], tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("EVO_CACHE_DIR", "XDG_CACHE_HOME")}
    env["HOME"] = str(tmp_path / "home")
    env |= env_overrides
    r = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_cache_honours_xdg_cache_home(tmp_path):
    xdg = tmp_path / "xdg"
    out = _run_child({"XDG_CACHE_HOME": str(xdg)}, tmp_path)
    assert Path(out) == xdg / "evo"
    assert len(list((xdg / "evo" / "truth").glob("*.npz"))) == 1
    assert not (tmp_path / "home").exists()


def test_cache_honours_evo_cache_dir_over_xdg(tmp_path):
    mine, xdg = tmp_path / "mine", tmp_path / "xdg"
    out = _run_child({"EVO_CACHE_DIR": str(mine), "XDG_CACHE_HOME": str(xdg)}, tmp_path)
    assert Path(out) == mine
    assert len(list((mine / "truth").glob("*.npz"))) == 1
    assert not xdg.exists() and not (tmp_path / "home").exists()


def test_cache_default_is_under_home(tmp_path):
    out = _run_child({}, tmp_path)
    assert Path(out) == tmp_path / "home" / ".cache" / "evo"
    assert len(list((tmp_path / "home" / ".cache" / "evo" / "truth").glob("*.npz"))) == 1


def test_unwritable_cache_only_costs_time(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = _run_child({"EVO_CACHE_DIR": str(blocker / "sub")}, tmp_path)
    assert Path(out) == blocker / "sub"
