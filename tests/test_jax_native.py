"""The native JAX export (evo.codegen.jax_native): float32 code XLA compiles, its error measured
by running XLA itself, differentiable, composable, with the dtype rule; `evo verify --jax`;
the float32-xla platform; the ready library (evo.lib)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from support import assert_user_error  # noqa: E402

from evo.codegen import export_source  # noqa: E402
from evo.runs.front import load_front  # noqa: E402
from evo.verification.xla import module_from_source  # noqa: E402
from targets import get_target  # noqa: E402

KERNELS = Path(__file__).resolve().parents[1] / "bench" / "kernels"
FULL = {"exp2": "exp2-sym-6ops", "exp": "exp-7ops", "log2": "log2-sqrt2-11ops-fma", "log": "log-sqrt2-12ops-fma"}
EXACT = {"exp2": np.exp2, "exp": np.exp, "log2": np.log2, "log": np.log}
DERIV = {"exp2": lambda x: np.exp2(x) * np.log(2.0), "exp": np.exp, "log2": lambda x: 1 / (x * np.log(2.0)),
         "log": lambda x: 1 / x}


def _kernel(name):
    front = load_front(KERNELS / FULL[name])
    return front[0].program, front.target


@pytest.fixture(scope="module")
def native():
    """The four full-range native modules (not measured under XLA here: that is a 2^32 run)."""
    mods = {}
    for name in FULL:
        p, t = _kernel(name)
        src = export_source(p, t, "jax", full_range=True, name="f", xla_check=False)
        mods[name] = (module_from_source(src, f"native_{name}"), src)
    return mods


def _sample(name, n, seed):
    """float32 inputs of a function's useful range and random bit patterns (specials included)."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2 ** 32, n // 2, dtype=np.uint64).astype(np.uint32).view(np.float32)
    useful = rng.uniform(-150, 130, n // 2) if name.startswith("exp") else np.exp2(rng.uniform(-149, 128, n // 2))
    return np.concatenate([bits, useful.astype(np.float32)])


def _ulp_errors(y, v):
    from evo.core.numbers import ulp32

    with np.errstate(all="ignore"):
        return np.abs(y.astype(np.float64) - v) / ulp32(v)


@pytest.mark.parametrize("name", list(FULL))
def test_native_full_range_is_float32_code_under_1_ulp(native, name):
    """No float64 anywhere in what is traced (x64 off), and under 1 ULP on every normal result of
    a sample of random bit patterns and useful inputs, as XLA computes it (sampled here; the
    library's figures are over all 2^32 inputs)."""
    mod, src = native[name]
    assert not jax.config.jax_enable_x64 and "enable_x64" not in src and "astype(jnp.float64)" not in src
    x = _sample(name, 2_000_000, 1)
    assert "f64" not in str(jax.make_jaxpr(mod.f)(x[:8]))
    y = np.asarray(jax.jit(mod.f)(x))
    with np.errstate(all="ignore"):
        v = EXACT[name](x.astype(np.float64))
        r = v.astype(np.float32)
    normal = np.isfinite(r) & ((np.abs(r) >= 2.0 ** -126) | (r == 0))
    assert np.max(_ulp_errors(y[normal & (r != 0)], v[normal & (r != 0)])) < 1.0
    special = ~np.isfinite(r) | (r == 0)
    assert np.array_equal(np.isnan(y[special]), np.isnan(r[special]))
    same = ~np.isnan(r[special])
    assert np.array_equal(y[special][same], r[special][same])  # inf, -inf and 0 exactly


@pytest.mark.parametrize("name", list(FULL))
def test_native_gradient_is_the_exact_derivative_within_2_ulp(native, name):
    mod, _ = native[name]
    rng = np.random.default_rng(2)
    x = (rng.uniform(-80, 80, 4000) if name.startswith("exp") else np.exp2(rng.uniform(-100, 100, 4000)))
    x = x.astype(np.float32)
    g = np.asarray(jax.jit(jax.vmap(jax.grad(mod.f)))(x))
    want = DERIV[name](x.astype(np.float64))
    ok = np.isfinite(want) & (np.abs(want) >= 2.0 ** -126) & (np.abs(want) < 3e38)
    assert ok.sum() > 3900 and np.max(_ulp_errors(g[ok], want[ok])) <= 2.0
    y, t = jax.jvp(mod.f, (np.float32(1.5),), (np.float32(2.0),))
    assert abs(float(t) - 2 * DERIV[name](1.5)) <= 4 * np.spacing(np.float32(2 * DERIV[name](1.5)))


def test_native_shapes_dtypes_and_the_float64_refusal(native):
    mod, _ = native["exp"]
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    y = jax.jit(mod.f)(x)
    assert y.shape == (3, 4) and y.dtype == jnp.float32
    assert np.array_equal(np.asarray(jax.vmap(mod.f)(x)), np.asarray(y))
    for dt in (jnp.bfloat16, jnp.float16):
        xb = jnp.asarray(x, dt)
        yb = mod.f(xb)
        assert yb.dtype == dt  # computed in float32, rounded once to the input's dtype
        assert np.array_equal(np.asarray(yb), np.asarray(jax.jit(mod.f)(xb.astype(jnp.float32)).astype(dt)))
    assert mod.f(2).dtype == jnp.float32 and mod.f(jnp.arange(3)).dtype == jnp.float32
    with jax.enable_x64(True):
        with pytest.raises(TypeError, match="float32 function"):
            mod.f(jnp.ones(3, jnp.float64))


def test_the_exact_export_is_still_the_bit_exact_emulation():
    p, t = _kernel("exp2")
    src = export_source(p, t, "jax", full_range=True, name="f", exact=True)
    assert "enable_x64" in src and "exact float64 emulation" in src


def test_export_measures_the_native_code_under_xla_and_caches_it(tmp_path, monkeypatch):
    """A kernel on a small interval: the header states the max error XLA's own run gave, over
    every float32 of the interval, and where it was measured; a second export reuses it."""
    from evo.codegen import xla_check
    from evo.core.ir import dumps, loads
    from evo.verification.xla import on_numpy

    monkeypatch.setenv("EVO_CACHE_DIR", str(tmp_path))
    p, _ = _kernel("exp2")
    t = get_target("exp2", (0.25, 0.2503))
    text = export_source(p, t, "jax", name="k")
    assert "Under XLA: max error" in text and f"jax {jax.__version__}" in text and "every float32 of the kernel" in text
    got = float(text.split("Under XLA: max error ")[1].split(" ULP")[0])
    mod = module_from_source(text, "measured")
    a, b = t.f32_inputs()
    from primitives.float32 import from_ordinal

    x = from_ordinal(np.arange(a, b + 1))
    want = float(np.max(_ulp_errors(on_numpy(mod.k)(x), np.exp2(x.astype(np.float64)))))
    assert got == pytest.approx(want, rel=1e-3)
    calls = []
    monkeypatch.setattr(xla_check, "verify_jax", lambda *a, **k: calls.append(1))
    assert export_source(loads(dumps(p)), t, "jax", name="k") == text
    assert not calls  # from the cache


def test_verify_jax_command(evo_cmd, tmp_path, native):
    _, src = native["exp2"]
    f = tmp_path / "m.py"
    f.write_text(src)
    r = subprocess.run([*evo_cmd, "verify", "--jax", str(f), "--symbol", "f", "-t", "exp2", "--interval", "0.5,0.5002",
                        "-q"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "computed by XLA (jax" in r.stdout and "max ulp" in r.stdout
    assert_user_error(subprocess.run([*evo_cmd, "verify", "--jax", str(f), "--symbol", "nope", "-t", "exp2"],
                                     capture_output=True, text=True, timeout=300),
                      f"symbol 'nope' not found in {f}")


def test_a_search_under_xla_semantics_checks_and_exports_under_xla(tmp_path):
    """--semantics xla is the float32-xla platform: its checks run XLA, its members' figures
    say so, and their export is native JAX with XLA's figure."""
    import evo

    run = evo.search("exp2", (0.5, 0.5005), budget=None, max_evals=60, workers=0, out=tmp_path, name="x",
                     progress=False, semantics="xla", verify_below=1e9)
    assert run.config.platform == "float32-xla"
    checked = [m for m in run.front if m.exhaustive]
    assert checked and all("XLA" in m.exhaustive.get("computed_by", "") for m in checked)
    text = evo.export(checked[0], lang="jax", name="k")
    assert "as XLA (jax" in text and "Under XLA: max error" in text


def test_library_modules_state_their_figures_and_build_as_c(tmp_path):
    import evo.lib.jax as ej
    from evo.lib.catalog import c_library, catalog

    fs = catalog()
    assert [f.name for f in fs] == ["exp2", "exp", "log2", "log"]
    for f in fs:
        doc = getattr(ej, f.name).__doc__
        assert "Under XLA: max error" in doc and "4,294,967,296 inputs" in doc
        assert float(f.xla.get("max_ulp_normal", f.xla["max_ulp"])) <= 1.0 and float(f.c["max_ulp"]) <= 1.0
    files = c_library(fs)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    from evo.backends.gcc import gcc_path

    if gcc_path() is None:
        pytest.skip("no gcc")
    r = subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-c", "evo_math.c", "-o", "m.o"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (tmp_path / "use.cc").write_text('#include "evo_math.h"\nfloat g(float x) { return evo_expf(x); }\n')
    if subprocess.run(["which", "g++"], capture_output=True).returncode == 0:
        r = subprocess.run(["g++", "-Wall", "-Werror", "-c", "use.cc", "-o", "u.o"], cwd=tmp_path,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
