"""Full-range log2f / logf around a kernel on [sqrt(1/2), sqrt 2] (evo.codegen.fullrange, LOG_BUDGET).

The kernels are those of bench/bench_export.py, kept in bench/kernels: the discovered
13-op log2 and 12-op log kernels; the stand-ins (hand-structured polynomials whose
constants evo's fitter chose; not discovered by the search) are checked too. Checked here: which wrapper a
kernel's interval selects; every special value, exactly; every input with k = -1, 0, 1
(x in [sqrt(1/2)/2, 2 sqrt 2], where the reconstruction's roundings meet the kernel's error)
and every subnormal, against the error budget and 1 ULP; the array form against the scalar
function bit for bit on mixed blocks; the NumPy and JAX exports against the C export on
millions of inputs. All 2^32 inputs: `bench/bench_export.py --funcs log2,log --verify`
(minutes on two cores, too long for a test).
"""
from __future__ import annotations

import ctypes
import importlib.util
import json
import math
import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
from support import mp_round_f32, same_f32

from evo.backends.gcc import gcc_path, run_gcc
from evo.codegen import export_source
from evo.codegen.fullrange import SQRT2_INTERVAL, WRAPPERS, special_inputs, wrapper_for
from evo.core.interp import evaluate
from evo.core.ir import Program
from evo.errors import EvoError
from evo.runs.front import load_front
from evo.verification.fused import verify_program
from evo.verification.native import load_c
from evo.verification.yardstick import exhaustive
from primitives.float32 import f32_range, from_ordinal, to_ordinal
from targets import get_target

needs_gcc = pytest.mark.skipif(gcc_path() is None, reason="gcc not installed")
ROOT = Path(__file__).resolve().parents[1]
NAMES = ("log2", "log")
F32_MAX = float(np.finfo(np.float32).max)


# The kernels of the README's full-range figures (bench/bench_export.py's defaults).
KERNELS = {"log2": "log2-sqrt2-11ops-fma", "log": "log-sqrt2-12ops-fma"}


def standin(name: str):
    return load_front(ROOT / "bench" / "kernels" / f"{name}-standin-sqrt2")


def kernel(name: str):
    return load_front(ROOT / "bench" / "kernels" / KERNELS[name])


def target(name: str):
    return get_target(name, SQRT2_INTERVAL)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """{name: (C function, array form, kernel program, the kernel's recorded exhaustive max)}."""
    if gcc_path() is None:
        pytest.skip("gcc not installed")
    d = tmp_path_factory.mktemp("logs")
    out = {}
    for name in NAMES:
        m = kernel(name)[0]
        src = d / f"{name}.c"
        src.write_text(export_source(m.program, target(name), "c", full_range=True, name="f"))
        fn = load_c(src, "f")
        arr = fn.lib.f_n
        arr.restype, arr.argtypes = None, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        out[name] = (fn, lambda x, y, arr=arr: arr(x.ctypes.data, y.ctypes.data, x.size), m.program,
                     m.exhaustive_max)
    return out


# -- the stand-in kernels and the wrapper they select ---------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_standin_kernels_are_marked_and_under_one_ulp_on_every_input(name):
    """Read as runs (evo.runs.load_front), say they are stand-ins, and are < 1 ULP on every
    float32 of [sqrt(1/2), sqrt 2] (checked again here: LLVM build, cross-checked; the float64
    reference's own error, ~1e-9 ULP, may differ between runs by as much)."""
    front = standin(name)
    assert len(front) == 1 and front.target.full_range == name
    assert "STAND-IN" in front.meta["stand_in"] and "NOT discovered by the search" in front.meta["stand_in"]
    m = front[0]
    assert m.exhaustive["inputs"] == 2 ** 23 and m.exhaustive_max < 1
    r = verify_program(m.program, front.target)
    assert r.inputs == 2 ** 23 and r.max_ulp == pytest.approx(m.exhaustive_max, abs=1e-6) and r.max_ulp < 1
    config = json.loads((ROOT / "bench" / "kernels" / f"{name}-standin-sqrt2" / "config.json").read_text())
    assert config["target"] == name
    import evo

    run = evo.load_run(ROOT / "bench" / "kernels" / f"{name}-standin-sqrt2")  # a valid run config too
    assert run.config.target == name and run.front[0].exhaustive_max == m.exhaustive_max
    # the wrapper's interval is exactly the float32 values it hands the kernel
    assert f32_range(*SQRT2_INTERVAL) == (0x3F3504F4, 0x3FB504F3)


@pytest.mark.parametrize("name", NAMES)
def test_discovered_kernels_are_verified_under_one_ulp(name):
    """The search's own finds: a verified front member, not marked a stand-in, < 1 ULP on
    every float32 of [sqrt(1/2), sqrt 2] (checked again here)."""
    front = kernel(name)
    assert len(front) == 1 and front.target.full_range == name and "stand_in" not in front.meta
    assert front.meta["found_by"].startswith(f"evo search {name} --interval=0.7071068,1.4142136 ")
    m = front[0]
    assert m.error_on == "exhaustive" and m.exhaustive["inputs"] == 2 ** 23 and m.parent is not None
    r = verify_program(m.program, front.target)
    assert r.inputs == 2 ** 23 and r.max_ulp == pytest.approx(m.exhaustive_max, abs=1e-6) and r.max_ulp < 1


@pytest.mark.parametrize("name", NAMES)
def test_wrapper_is_chosen_by_the_kernels_interval(name):
    sqrt2 = WRAPPERS[f"{name}-sqrt2"]
    assert wrapper_for(target(name)) is sqrt2
    # any interval with the same float32 values, or more of them, is the same kernel interval
    for iv in ((0.7071068, 1.4142136), (0.70710678, 1.41421357), (0.7, 1.5), (0.5, 2.0)):
        assert wrapper_for(get_target(name, iv)) is sqrt2, iv
    assert wrapper_for(get_target(name)) is WRAPPERS[name]  # the registered interval: the old wrapper
    # shortest float32 decimals of the ends miss 0x3FB504F3 (1.4142135 < its value): no wrapper
    for iv in ((0.70710677, 1.4142135), (0.75, 1.5), (1.0, 1.4142135)):
        with pytest.raises(EvoError) as e:
            wrapper_for(get_target(name, iv))
        msg = str(e.value)
        assert "\n" not in msg and msg.startswith(f"the {name} full-range wrapper needs a kernel for ")
        assert "on [sqrt(1/2), sqrt(2)]" in msg and msg.endswith(f"this one is for [{iv[0]!r}, {iv[1]!r}]")


# -- special values, exactly --------------------------------------------------------------

def _exact(name: str, x: float) -> float:
    """The float32 nearest log2(x) / log(x), from mpmath at 200 bits (x > 0 finite)."""
    with mpmath.workprec(200):
        v = mpmath.log(mpmath.mpf(x))
        return mp_round_f32(v / mpmath.log(2) if name == "log2" else v)


@needs_gcc
@pytest.mark.parametrize("name", NAMES)
def test_special_values_exactly(built, name):
    fn, f_n, _, _ = built[name]
    tiny, min_normal = 2.0 ** -149, 2.0 ** -126
    neg = [-0.0, -tiny, -min_normal, -1.0, -2.0, -F32_MAX, -math.inf]
    cases = [(math.nan, math.nan), (-math.nan, math.nan), (math.inf, math.inf), (0.0, -math.inf),
             (-0.0, -math.inf), (1.0, 0.0)] + [(x, math.nan) for x in neg if x != -0.0]
    xs = np.array([c[0] for c in cases], np.float32)
    want = np.array([c[1] for c in cases], np.float32)
    got = fn(xs)
    assert same_f32(got, want).all(), list(zip(xs, got, want))
    assert np.signbit(got[xs == 1.0]).sum() == 0  # log(1) is +0, not -0
    # every power of two 2^k, k = -149 .. 127 (subnormals included): log2 exactly k, log the
    # float32 nearest k*ln2
    k = np.arange(-149, 128)
    p2 = np.ldexp(np.float32(1), k).astype(np.float32)
    want = np.array([float(v) if name == "log2" else _exact(name, float(x)) for v, x in zip(k, p2)], np.float32)
    assert same_f32(fn(p2), want).all()
    # the largest finite, the smallest normal and subnormal ends: correctly rounded or within 1 ULP
    edge = np.array([F32_MAX, min_normal, min_normal - tiny, tiny, 3 * tiny], np.float32)
    want = np.array([_exact(name, float(x)) for x in edge], np.float32)
    assert np.all(np.abs(fn(edge).astype(np.float64) - want) <= np.spacing(np.abs(want)))
    # the array form: the same values (specials go through the scalar code's selects)
    x = np.concatenate([xs, p2, edge, special_inputs(target(name))])
    y = np.empty_like(x)
    f_n(x, y)
    assert same_f32(y, fn(x)).all()


# -- accuracy where it is hardest, exhaustively ----------------------------------------------

def _budget(name: str, e: float) -> float:
    """LOG_BUDGET: the full-range bound for a kernel of max error e."""
    return max(e, 0.5 + e / 2) if name == "log2" else max(e + 0.064, 0.564 + e / 2)


@needs_gcc
@pytest.mark.parametrize("name", NAMES)
def test_every_input_with_k_near_zero_and_every_subnormal(built, name):
    """Every float32 in [sqrt(1/2)/2, 2 sqrt 2] (k = -1, 0, 1: where k + K cancels most and the
    reconstruction's rounding meets the kernel's) and every positive subnormal: within the
    error budget of the kernel's own max error, and within 1 ULP."""
    fn, _, _, e = built[name]
    t = target(name)
    lo, hi = to_ordinal(np.float32(math.sqrt(0.5) / 2)), to_ordinal(np.float32(2 * math.sqrt(2.0)))
    near = exhaustive(fn, t, ordinals=(int(lo), int(hi)))
    assert near.inputs > 3 * 2 ** 23
    sub = exhaustive(fn, t, ordinals=(1, 0x007FFFFF))
    bound = _budget(name, e) + 1e-6
    assert near.max_ulp <= bound, (near.max_ulp, near.argmax, bound)
    assert sub.max_ulp <= bound, (sub.max_ulp, sub.argmax, bound)
    assert max(near.max_ulp, sub.max_ulp) <= 1.0


@needs_gcc
@pytest.mark.parametrize("name", NAMES)
def test_the_accuracy_check_can_fail(built, name, tmp_path):
    """A kernel with one coefficient 2^-16 (relative) off is caught by the same exhaustive
    check: the check above is not vacuous."""
    p = built[name][2]
    c = p.constants.copy()
    i = 1 + int(np.argmax(np.abs(c[1:])))  # the largest coefficient (c[0] is the 1 of t = x - 1)
    c[i] *= 1 + 2.0 ** -16
    bad = p.with_constants(c)
    src = tmp_path / "bad.c"
    src.write_text(export_source(bad, target(name), "c", full_range=True, name="f"))
    r = exhaustive(load_c(src, "f"), target(name), ordinals=(0x3F000000, 0x3FC00000))
    assert r.max_ulp > 1.0


# -- array form == scalar, C export == NumPy / JAX exports ------------------------------------

def _mixed(rng: np.random.Generator) -> np.ndarray:
    """Blocks of positive normal x (the fast path), blocks with one special among them, and
    random bit patterns (every kind of input)."""
    normal = np.exp(rng.uniform(-80, 80, 6000)).astype(np.float32)
    lone = [np.nan, 0.0, -0.0, -1.0, 2.0 ** -140, math.inf, -math.nan, 2.0 ** -126]
    parts = [normal[:1000]]
    for i, v in enumerate(lone):  # one special in an otherwise fast block
        parts += [normal[1000 + 300 * i:1000 + 300 * i + 137], np.array([v], np.float32),
                  normal[1137 + 300 * i:1300 + 300 * i]]
    bits = rng.integers(0, 2 ** 32, 3000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return np.concatenate(parts + [bits, normal[4000:]])


@needs_gcc
@pytest.mark.parametrize("name", NAMES)
def test_array_form_matches_scalar_on_mixed_blocks(built, name):
    fn, f_n, _, _ = built[name]
    x = _mixed(np.random.default_rng(11))
    want = fn(x)
    for n in (x.size, 1, 5, 255, 256, 257, 1000, 1300):
        y = np.full(n, 7.0, np.float32)
        f_n(x[:n], y)
        assert same_f32(y, want[:n]).all(), n
    inplace = x.copy()
    f_n(inplace, inplace)
    assert same_f32(inplace, want).all()


@needs_gcc
@pytest.mark.parametrize("name", NAMES)
def test_c_compiles_cleanly_and_the_array_form_vectorises(tmp_path, name):
    p = kernel(name)[0].program
    (tmp_path / "f.c").write_text(export_source(p, target(name), "c", full_range=True, name="f"))
    for flags in (["-std=c99", "-O2"], ["-std=c99", "-O3", "-march=native"], ["-std=gnu11", "-O3", "-march=native"]):
        r = run_gcc([*flags, "-Wall", "-Wextra", "-Werror", "-c", "f.c", "-o", "f.o"], "gcc", tmp_path)
        assert r.returncode == 0, r.stderr
    if "avx2" not in Path("/proc/cpuinfo").read_text():
        return
    r = run_gcc(["-std=c99", "-O3", "-march=native", "-S", "f.c", "-o", "f.s"], "gcc", tmp_path)
    asm = (tmp_path / "f.s").read_text()
    body = asm[asm.index("f_n:"):]
    body = body[:body.index(".cfi_endproc")]
    assert re.search(r"vfmadd\w*ps\s.*%[yz]mm", body), "no packed fma in f_n"
    assert re.search(r"vcvtdq2ps\s.*%[yz]mm", body), "k is not converted 8 or 16 at a time"
    assert not re.search(r"call\s+(f|logf|log2f)\b", body)


def _module(tmp_path: Path, name: str, lang: str):
    p = kernel(name)[0].program
    path = tmp_path / f"{lang}_{name}.py"
    path.write_text(export_source(p, target(name), lang, full_range=True, name="f",
                                  **({"exact": True} if lang == "jax" else {})))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _inputs(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2 ** 32, n // 2, dtype=np.uint64).astype(np.uint32).view(np.float32)
    near = np.exp(rng.uniform(-1.1, 1.1, n // 2)).astype(np.float32)  # k = -1, 0, 1
    return np.concatenate([bits, near, special_inputs(target("log2"))])


@needs_gcc
@pytest.mark.parametrize("name", NAMES)
def test_numpy_export_matches_c_on_millions_of_inputs(built, tmp_path, name):
    mod = _module(tmp_path, name, "numpy")
    x = _inputs(3_000_000, 5)
    assert same_f32(mod.f(x), built[name][0](x)).all()


@needs_gcc
@pytest.mark.parametrize("name", NAMES)
def test_jax_export_matches_c(built, tmp_path, name):
    pytest.importorskip("jax")
    import jax

    mod = _module(tmp_path, name, "jax")
    x = _inputs(1_000_000, 6)
    got = np.asarray(jax.jit(mod.f)(x))
    assert same_f32(got, built[name][0](x)).all()


def test_kernel_program_is_what_the_export_calls(built):
    """k = 0 (x in [sqrt(1/2), sqrt 2]): the exported function is the kernel itself."""
    for name in NAMES:
        fn, _, p, _ = built[name]
        # the float32 values of the interval (linspace's float64 ends round outside it: below
        # 0x3F3504F4 the wrapper takes k = -1)
        a, b = f32_range(*SQRT2_INTERVAL)
        x = from_ordinal(np.linspace(a, b, 50001).round().astype(np.int64)).astype(np.float32)
        assert x.min() == np.float32(0.70710683) and x.max() == np.float32(1.4142135)
        assert same_f32(fn(x), evaluate(p, x)).all()
        assert isinstance(p, Program)
