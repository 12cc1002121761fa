"""Baselines: float32 programs checked against an independent mpmath evaluation of the
same coefficients, Remez equioscillation, the exp2 reference figures (README, "Definitions"), the CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import mpmath
import numpy as np
import pytest

from evo.classical import baselines as classical
from evo.classical.baselines import (
    FORMS,
    KINDS,
    approximation,
    build_program,
    parse_degrees,
)
from evo.core.interp import evaluate
from evo.core.ir import CONST, from_dict
from evo.core.scoring import Scorer
from evo.errors import EvoError
from evo.platforms import FLOAT32
from evo.verification.yardstick import exhaustive


def baselines(target, degrees=range(2, 9), kinds=KINDS, forms=FORMS, scorer=None, on_skip=None):
    """evo.classical.baselines.baselines with the float32 platform's scorer by default."""
    return classical.baselines(target, scorer or Scorer(target, FLOAT32), degrees, kinds, forms, on_skip)
from targets import get_target

PREC = 256  # enough for every exact product and sum of float32 values met here


@pytest.fixture(scope="module", autouse=True)
def fresh_cache(tmp_path_factory: pytest.TempPathFactory):
    """A cold cache: the timings and the disk cache are exercised for real."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("evo-cache")
    mp.setenv("EVO_CACHE_DIR", str(path))
    yield path
    mp.undo()


# -- an independent float32 model in mpmath ---------------------------------------------

def r32(v: mpmath.mpf) -> mpmath.mpf:
    """Round an exact real to float32 (nearest, ties to even, subnormals kept)."""
    if v == 0:
        return mpmath.mpf(0)
    _, e = mpmath.frexp(v)                 # |v| = m 2^e, 1/2 <= m < 1
    q = e - 24 if e - 1 >= -126 else -149  # exponent of the last mantissa bit
    return mpmath.ldexp(mpmath.nint(mpmath.ldexp(v, -q)), q)


def ulp_err(y: mpmath.mpf, v: mpmath.mpf) -> mpmath.mpf:
    """|y - v| / ulp(v), ulp(v) = 2^(E-23), 2^E <= |v| < 2^(E+1), E >= -126 (README, "Definitions")."""
    _, e = mpmath.frexp(v) if v != 0 else (0, -1000)
    return abs(y - v) / mpmath.ldexp(1, max(e - 1, -126) - 23)


def horner_f32(coeffs: list[mpmath.mpf], t: mpmath.mpf, form: str) -> mpmath.mpf:
    acc = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        acc = r32(acc * t + c) if form == "fma" else r32(r32(acc * t) + c)
    return acc


def simulate(ap, form: str, x: float) -> mpmath.mpf:
    """The baseline's float32 evaluation, from its exact coefficients, in mpmath."""
    num = [r32(v) for v in ap.num]
    den = [r32(v) for v in ap.den]
    while len(num) > 1 and num[-1] == 0:
        num.pop()
    t = r32(mpmath.mpf(x) - ap.center)
    y = horner_f32(num, t, form)
    if len(den) > 1 and any(d != 0 for d in den[1:]):
        y = r32(y / horner_f32(den, t, form))
    return y


CASES = [("exp2", "minimax", 6), ("exp2", "taylor", 5), ("exp2", "pade", 6), ("exp2", "rational", 5),
         ("exp", "rational", 6), ("log", "minimax", 5), ("log2", "pade", 4), ("erf", "minimax", 7)]


@pytest.mark.parametrize("form", ["horner", "fma"])
@pytest.mark.parametrize("name,kind,degree", CASES)
def test_program_matches_independent_mpmath_float32(name: str, kind: str, degree: int, form: str) -> None:
    target = get_target(name)
    scorer = Scorer(target, FLOAT32, n_validation=400)
    (b,) = baselines(target, [degree], [kind], [form], scorer)
    ap = b.approximation
    xs = scorer.validation.x
    y_prog = evaluate(b.program, xs)
    errs = []
    with mpmath.workprec(PREC):
        for x, yp in zip(xs, y_prog):
            y = simulate(ap, form, float(x))
            assert float(y) == float(yp), f"x = {float(x)!r}: mpmath {y} vs program {float(yp)!r}"
            errs.append(ulp_err(y, target.mp(mpmath.mpf(float(x)))))
    assert float(max(errs)) == pytest.approx(b.max_error, rel=1e-9, abs=1e-12)
    assert float(mpmath.fsum(errs) / len(errs)) == pytest.approx(b.mean_error, rel=1e-9, abs=1e-12)
    assert b.stats.n == len(xs)


def test_coefficients_are_nearest_float32() -> None:
    ap = approximation(get_target("exp2"), "minimax", 6)
    consts = [ins.value for ins in build_program(ap, "fma").instrs if ins.op == CONST]
    with mpmath.workprec(PREC):
        want = [float(r32(v)) for v in reversed(ap.num)]
        for c, exact in zip(consts, reversed(ap.num)):
            # nearest: no float32 neighbour is closer to the exact coefficient
            f = np.float32(c)
            for nb in (np.nextafter(f, np.float32(-np.inf)), np.nextafter(f, np.float32(np.inf))):
                assert abs(mpmath.mpf(float(nb)) - exact) >= abs(mpmath.mpf(c) - exact)
    assert consts == want


# -- structure and op counts ---------------------------------------------------------------

def test_names_forms_and_op_counts() -> None:
    bs = {b.name: b for b in baselines(get_target("exp2"), range(2, 9))}
    assert len(bs) == 4 * 7 * 2
    for d in range(2, 9):
        assert bs[f"minimax{d}-fma"].ops == d            # one fma per degree, x - 0 needs no op
        assert bs[f"minimax{d}-horner"].ops == 2 * d     # a mul and an add per degree
        assert bs[f"taylor{d}-fma"].ops == d
        m, n = (d + 1) // 2, d // 2
        assert bs[f"rational{m}/{n}-fma"].ops == m + n + 1
        assert bs[f"pade{m}/{n}-horner"].ops == 2 * (m + n) + 1
    ops = [i.op for i in bs["minimax6-fma"].program.instrs if i.op not in ("x", CONST)]
    assert ops == ["fma"] * 6
    ops = [i.op for i in bs["minimax6-horner"].program.instrs if i.op not in ("x", CONST)]
    assert ops == ["mul", "add"] * 6


def test_log_keeps_its_zero_and_shifts_x() -> None:
    """log on [0.5, 1]: expansion at its zero 1, numerator t*N(t), t = x - 1 is one sub."""
    target = get_target("log")
    (b,) = baselines(target, [5], ["minimax"], ["fma"])
    ap = b.approximation
    assert ap.center == 1.0 and ap.factored and ap.num[0] == 0 and ap.weight == "relative"
    ops = [i.op for i in b.program.instrs if i.op not in ("x", CONST)]
    assert ops == ["sub", "fma", "fma", "fma", "fma", "mul"]
    assert evaluate(b.program, np.float32([1.0]))[0] == 0.0       # exact zero kept
    assert b.max_error < 1e3                                         # finite relative error


def test_taylor_and_pade_coefficients() -> None:
    ap = approximation(get_target("exp2"), "taylor", 8)
    with mpmath.workprec(120):
        for k, c in enumerate(ap.num):
            assert abs(c - mpmath.ln2 ** k / mpmath.factorial(k)) < mpmath.mpf(2) ** -100
    pade = approximation(get_target("exp"), "pade", 2)              # [1/1] of e^x: (1 + x/2) / (1 - x/2)
    assert [float(v) for v in pade.num] == pytest.approx([1, 0.5], abs=1e-25)
    assert [float(v) for v in pade.den] == pytest.approx([1, -0.5], abs=1e-25)


def test_minimax_beats_taylor_and_pade_in_exact_arithmetic() -> None:
    t = get_target("exp2")
    for d in (3, 5, 7):
        assert approximation(t, "minimax", d).error < approximation(t, "taylor", d).error / 10
        assert approximation(t, "rational", d).error < approximation(t, "pade", d).error / 5


# -- Remez -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,kind,degree", [("exp2", "minimax", 6), ("exp", "minimax", 4),
                                              ("exp2", "rational", 5), ("log", "minimax", 5),
                                              ("log2", "rational", 6)])
def test_remez_equioscillation(name: str, kind: str, degree: int) -> None:
    """The relative error of the exact minimax alternates in sign at (number of free
    coefficients + 1) points with equal magnitude, and is nowhere larger."""
    target = get_target(name)
    ap = approximation(target, kind, degree)
    npts = len(ap.num) + len(ap.den) - (1 if ap.factored else 0)   # free coefficients + 1
    assert len(ap.reference) == npts
    lo, hi = target.interval
    with mpmath.workprec(128):
        a, b = mpmath.mpf(lo), mpmath.mpf(hi)
        K = 2000
        xs = [a + (b - a) * (1 - mpmath.cos(mpmath.pi * j / K)) / 2 for j in range(K + 1)]
        # at a zero of f (log at 1) the relative error is its limit: step just inside
        eps = (b - a) * mpmath.mpf(10) ** -25
        xs[0], xs[-1] = xs[0] + eps * (target.mp(a) == 0), xs[-1] - eps * (target.mp(b) == 0)
        es = []
        for x in xs:
            fx = target.mp(x)
            es.append((ap(x) - fx) / fx)
    runs: list[float] = []          # max |error| of each run of equal sign
    sign = None
    for e in es:
        s = e >= 0
        if s != sign:
            runs.append(0.0)
            sign = s
        runs[-1] = max(runs[-1], abs(float(e)))
    top = max(runs)
    assert len(runs) >= npts, runs
    assert min(runs) > top * (1 - 1e-3), runs                  # levelled
    assert top == pytest.approx(ap.error, rel=1e-3)


# -- reference figures for exp2 (README, "Definitions") on [0, 1] --------------------------------------------

def test_exp2_sample_figures() -> None:
    """On the validation sample: fma minimax6 is faithful, plain Horner is not."""
    bs = {b.name: b for b in baselines(get_target("exp2"), range(2, 9), ["minimax"])}
    assert 1.1 < bs["minimax6-horner"].max_error < 1.6
    assert bs["minimax6-fma"].max_error < 1.0
    for d in range(2, 9):
        assert bs[f"minimax{d}-horner"].max_error > 1.1
        assert bs[f"minimax{d}-fma"].max_error <= bs[f"minimax{d}-horner"].max_error + 1e-9


def test_exp2_dense_figures_match_design() -> None:
    """Every float32 in [0.5, 1] (8.4e6 inputs, where the Horner error peaks), float64
    reference: the dense figures in the README (deg 6: Horner 1.38, fma 0.98; deg 7: 1.30,
    0.87), and plain Horner above 1.2 at every degree (degrees 2-4 are far above)."""
    target = get_target("exp2")
    bs = {b.name: b for b in baselines(target, range(5, 9), ["minimax"])}

    def dense(name: str) -> float:
        p = bs[name].program
        return exhaustive(lambda x: evaluate(p, x), target, interval=(0.5, 1.0)).max_ulp

    assert dense("minimax6-horner") == pytest.approx(1.38, abs=0.05)
    assert dense("minimax6-fma") == pytest.approx(0.98, abs=0.03)
    assert dense("minimax6-fma") < 1.0
    assert dense("minimax7-horner") == pytest.approx(1.30, abs=0.05)
    assert dense("minimax7-fma") == pytest.approx(0.87, abs=0.05)
    for d in (5, 8):
        assert dense(f"minimax{d}-horner") > 1.2


# -- cache, errors ------------------------------------------------------------------------------

def test_disk_cache_is_exact_and_honours_cache_dir(fresh_cache, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    target = get_target("exp", "-0.3,0.3")
    monkeypatch.setenv("EVO_CACHE_DIR", str(tmp_path))
    fresh = approximation(target, "rational", 4)                       # computed
    files = list((tmp_path / "baselines").glob("*.json"))
    assert files and all(f.parent == tmp_path / "baselines" for f in files)
    again = approximation(target, "rational", 4)                       # read back
    assert again == fresh and any(v < 0 for v in fresh.den + fresh.num)   # signs survive


def test_parse_degrees() -> None:
    assert parse_degrees("2-8") == list(range(2, 9))
    assert parse_degrees("6") == [6]
    assert parse_degrees("2,5-6") == [2, 5, 6]
    for bad in ("8-2", "x", "0-3", "", "3-"):
        with pytest.raises(EvoError):
            parse_degrees(bad)


def test_bad_kind_and_unavailable_baselines() -> None:
    with pytest.raises(EvoError, match="unknown kind 'cheb'"):
        baselines(get_target("exp2"), [3], ["cheb"])
    skipped: list[tuple[str, str]] = []
    got = baselines(get_target("erf"), [3], ["pade"], on_skip=lambda n, why: skipped.append((n, why)))
    assert got == [] and skipped[0][0] == "pade2/1" and "degenerate" in skipped[0][1]


def test_custom_target_with_irrational_zero_falls_back_to_absolute() -> None:
    target = get_target("sin(x)", "3,3.3")
    (b,) = baselines(target, [5], ["minimax"], ["fma"])
    assert b.approximation.weight == "absolute" and not b.approximation.factored
    assert b.approximation.error < 1e-6


# -- CLI ------------------------------------------------------------------------------------------

def evo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evo.cli", *args], capture_output=True, text=True, timeout=120)


def test_cli_json(tmp_path) -> None:
    r = evo("baselines", "exp2", "--degrees", "5-6", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    names = {d["name"] for d in rows}
    assert names == {f"{k}{d}-{f}" for k in ("taylor", "minimax") for d in (5, 6) for f in ("horner", "fma")} | \
        {f"{k}3/{n}-{f}" for k in ("pade", "rational") for n in (2, 3) for f in ("horner", "fma")}
    scorer = Scorer(get_target("exp2"), FLOAT32)
    for d in rows:
        assert {"name", "kind", "form", "degree", "ops", "max_ulp", "mean_ulp", "program"} <= set(d)
        p = from_dict(d["program"])
        assert p.n_ops == d["ops"]
        assert scorer.score(p).max == d["max_ulp"]
    # `evo score` reads a baseline record as it is
    rec = next(d for d in rows if d["name"] == "minimax6-fma")
    (tmp_path / "b.json").write_text(json.dumps(rec))
    r = evo("score", str(tmp_path / "b.json"), "--target", "exp2", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["max_ulp"] == rec["max_ulp"] < 1.0


def test_cli_table_says_sampled() -> None:
    r = evo("baselines", "exp2", "--degrees", "6", "--kinds", "minimax")
    assert r.returncode == 0, r.stderr
    assert "minimax6-fma" in r.stdout and "minimax6-horner" in r.stdout
    text = " ".join(r.stdout.split())
    assert "validation sample" in text and "not exhaustive (--verify checks every float32, as front members are)" in text
    n = Scorer(get_target("exp2"), FLOAT32).validation.x.size
    assert f"{n:,} random float32 inputs" in r.stdout


def test_baselines_checked_exhaustively_like_front_members(tmp_path, monkeypatch) -> None:
    """Like compared with like: a baseline's exhaustive check (the verifier front members get),
    cached by program and target; the front's baselines (mode "cached") then show it."""
    from evo.classical.baselines import checked
    from evo.verification.fused import verify_program

    monkeypatch.setenv("EVO_CACHE_DIR", str(tmp_path))
    t = get_target("exp2", (0.5, 0.502))
    sampled = FLOAT32.baselines(t, degrees=[2, 3], kinds=["minimax", "pade"])
    assert sampled and all(b.error_on == "validation" and b.verified is None for b in sampled)
    rows = checked(sampled, t, verify_program, "float32", "all")
    for s, b in zip(sampled, rows):
        v = verify_program(b.program, t)
        # (the verifier's float64 reference: within ~1e-9 ULP of the sample's double-double one)
        assert b.error_on == "exhaustive" and b.max_error == v.max_ulp >= s.stats.max - 1e-6 and b.stats == s.stats
        d = b.to_dict()
        assert d["max_ulp"] == v.max_ulp and d["exhaustive"] and d["validation"]["max_ulp"] == s.stats.max
    # the front's baselines read the cache (no new check), and a front's plot labels them so
    again = FLOAT32.baselines(t, degrees=[2, 3], kinds=["minimax", "pade"])
    assert [b.max_error for b in again] == [b.max_error for b in rows]
    assert all(b.error_on == "exhaustive" for b in again)
    assert all(b.error_on == "validation" for b in FLOAT32.baselines(t, degrees=[2], kinds=["minimax"], check="none"))
    with pytest.raises(EvoError, match=r"^unknown baseline check mode 'some' \(known: none, cached, all\)$"):
        checked(sampled, t, verify_program, "float32", "some")


def test_cli_verify_checks_every_float32(tmp_path) -> None:
    import os

    env = dict(os.environ, EVO_CACHE_DIR=str(tmp_path))
    args = [sys.executable, "-m", "evo.cli", "baselines", "exp2", "--interval", "0.5,0.502", "--degrees", "2",
            "--kinds", "minimax", "--verify", "-q"]
    r = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [d["name"] for d in rows] == ["minimax2-horner", "minimax2-fma"]
    for d in rows:
        assert d["error_on"] == "exhaustive" and d["max_ulp"] == d["verified"]["max_ulp"]
        assert d["max_ulp"] >= d["validation"]["max_ulp"] - 1e-6
        assert d["verified"]["inputs"] == 33555
    r = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "exhaustive" in r.stdout and "on every float32 of the interval (exhaustive" in " ".join(r.stdout.split())


@pytest.mark.parametrize("degrees,message", [
    ("8-2", "--degrees '8-2': range 8-2 is reversed (use LO-HI with LO <= HI)"),
    ("x", "--degrees 'x': expected a degree N or a range LO-HI, e.g. 2-8"),
    ("0-3", "--degrees '0-3': degrees must be between 1 and 20"),
])
def test_cli_bad_degrees(degrees: str, message: str) -> None:
    r = evo("baselines", "exp2", "--degrees", degrees)
    assert r.returncode == 2
    assert r.stderr == f"evo: error: {message}\n"
    assert r.stdout == ""


def test_cli_bad_kind() -> None:
    r = evo("baselines", "exp2", "--kinds", "minimax,cheb")
    assert r.returncode == 2
    assert r.stderr == f"evo: error: unknown kind 'cheb' (known: {', '.join(KINDS)})\n"
