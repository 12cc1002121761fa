"""The ready bfloat16 and float16 functions (evo.lib.jax.bfloat16, .float16): correctly
rounded on every one of the 65,536 inputs as XLA runs them, checked against an independent
float64 reference rounded by ml_dtypes / numpy; special values; jit, vmap and grad."""
from __future__ import annotations

import json
import subprocess

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import evo.lib.jax.bfloat16 as eb
import evo.lib.jax.float16 as eh

REFERENCE = {"exp2": np.exp2, "exp": np.exp, "log2": np.log2, "log": np.log,
             "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh}
MODULES = {"bfloat16": (eb, ml_dtypes.bfloat16), "float16": (eh, np.float16)}
BUILT = [(f, n) for f, (m, _) in MODULES.items() for n in m.__all__]   # float16 has no tanh yet


@pytest.mark.parametrize("fmt,name", BUILT)
def test_every_input_is_correctly_rounded(fmt, name):
    module, dtype = MODULES[fmt]
    every = np.arange(1 << 16, dtype=np.uint16).view(dtype)
    got = np.asarray(getattr(module, name)(every)).astype(np.float64)
    with np.errstate(all="ignore"):
        # float64 then one rounding to the format: a double rounding could only err for a
        # value within 2^-53 of a midpoint, which none of these is
        want = REFERENCE[name](every.astype(np.float64)).astype(dtype).astype(np.float64)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    assert same.all(), [(float(every[i]), got[i], want[i]) for i in np.flatnonzero(~same)[:5]]
    if name in ("exp2", "exp", "sigmoid"):
        sub = (want > 0) & (want < (2.0 ** -126 if fmt == "bfloat16" else 2.0 ** -14))
        assert sub.sum() >= 5    # subnormal results are among them (XLA's CPU flush is avoided)


def test_special_values_and_the_dtype():
    x = jnp.array([jnp.nan, jnp.inf, -jnp.inf, 0.0, -0.0, 128.0, -200.0], jnp.bfloat16)
    y = np.asarray(eb.exp2(x)).astype(np.float64)
    assert np.isnan(y[0]) and list(y[1:]) == [np.inf, 0.0, 1.0, 1.0, np.inf, 0.0]
    assert eb.exp(x).dtype == jnp.bfloat16 and eb.exp(np.float32(1.0)).dtype == jnp.bfloat16
    z = np.asarray(eb.log2(x)).astype(np.float64)
    assert np.isnan(z[0]) and z[1] == np.inf and np.isnan(z[2]) and list(z[3:6]) == [-np.inf, -np.inf, 7.0]
    h = np.asarray(eh.exp2(np.array([16.0, -25.0, -24.0, np.nan], np.float16))).astype(np.float64)
    assert list(h[:3]) == [np.inf, 0.0, 2.0 ** -24] and np.isnan(h[3])     # -25: a tie, to even (0)
    tiny = np.array([2.0 ** -133, 2.0 ** -127], ml_dtypes.bfloat16)     # subnormal inputs, read by their bits
    assert list(np.asarray(eb.log2(tiny)).astype(np.float64)) == [-133.0, -127.0]


def test_jit_vmap_and_grad():
    x = jnp.array([0.5, -1.25, 3.0], jnp.bfloat16)
    assert (jax.vmap(eb.exp)(x) == eb.exp(x)).all() and (jax.jit(eb.exp2)(x) == eb.exp2(x)).all()
    g = jax.grad(lambda v: eb.exp(v).astype(jnp.float32).sum())(x)
    assert np.allclose(np.asarray(g, np.float64), np.exp(np.asarray(x, np.float64)), rtol=2 ** -7)
    g3 = jax.grad(lambda v: eb.log(v).astype(jnp.float32).sum())(x[:1])
    assert np.allclose(np.asarray(g3, np.float64), 2.0, rtol=2 ** -7)
    g2 = jax.grad(lambda v: eb.exp2(v).astype(jnp.float32).sum())(x)
    assert np.allclose(np.asarray(g2, np.float64), np.log(2) * np.exp2(np.asarray(x, np.float64)), rtol=2 ** -7)


def test_the_catalog_records_what_the_modules_hold():
    from evo.lib.small import SMALL_CATALOG

    entries = json.loads(SMALL_CATALOG.read_text())["functions"]
    assert {(e["format"], e["function"]) for e in entries} == set(BUILT)
    assert len(BUILT) == 11 and ("float16", "tanh") not in BUILT
    assert all(e["check"]["misrounded"] == 0 and e["check"]["inputs"] == 65536 for e in entries)
    for e in entries:
        module = MODULES[e["format"]][0]
        assert f"{e['function']}: {e['ops']}-op kernel (" in module.__doc__
        assert (f"member {e['member']} of {e['front']}" if e["front"] else "STAND-IN") in module.__doc__


def test_bench_small_reports_the_builtins_misrounded_counts(evo_cmd):
    r = subprocess.run([*evo_cmd, "bench", "small", "--n", "1000", "--repeats", "1", "--json"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = {(row["format"], row["function"]): row for row in json.loads(r.stdout)["rows"]}
    assert len(rows) == len(BUILT) and all(r["evo_misrounded"] == 0 for r in json.loads(r.stdout)["rows"])
    assert rows["bfloat16", "exp2"]["jax_misrounded"] > 1000     # jnp.exp2 on bfloat16: 1,632 of 65,536 here
    bad = subprocess.run([*evo_cmd, "bench", "small", "--formats", "bf8"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown format 'bf8' (ready functions exist for: bfloat16, float16)" in bad.stderr


def test_fitting_a_kept_kernel_to_the_wrapper_rounds_every_input():
    """From the search's 5-op member (which misrounds 14 inputs of exp as it was found),
    the fit to the wrapper's rounding intervals gives 0 of 65,536 misrounded."""
    from pathlib import Path

    from evo.codegen.small_native import SmallFunction
    from evo.lib.small import check, fit_small
    from evo.runs.front import load_front

    front = load_front(Path(__file__).resolve().parents[1] / "bench" / "kernels" / "exp2-bf16-front")
    m = next(m for m in front if m.id == 1390)
    fn = SmallFunction("exp", "bfloat16", m.program)
    assert check(fn).misrounded > 0
    fitted, dist = fit_small(fn)
    assert dist < 0.5 and check(fitted).misrounded == 0


@pytest.mark.parametrize("fmt", list(MODULES))
def test_the_c_form_written_by_evo_lib_agrees_with_jax_on_every_input(fmt, evo_cmd, tmp_path):
    """`evo lib --lang c --format FMT`: gcc builds it (as C and as C++), and on all 65,536
    inputs each function gives the JAX form's bits."""
    import ctypes

    r = subprocess.run([*evo_cmd, "lib", "--lang", "c", "--format", fmt, "-o", str(tmp_path)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    sfx = {"bfloat16": "bf16", "float16": "f16"}[fmt]
    src = tmp_path / f"evo_math_{sfx}.c"
    assert (tmp_path / f"evo_math_{sfx}.h").exists()
    so = tmp_path / "lib.so"
    subprocess.run(["gcc", "-O2", "-std=c99", "-Wall", "-Werror", "-shared", "-fPIC", str(src), "-o", str(so), "-lm"],
                   check=True, timeout=120)
    subprocess.run(["g++", "-O2", "-Wall", "-fsyntax-only", "-x", "c++", str(src)], check=True, timeout=120)
    lib = ctypes.CDLL(str(so))
    module, dtype = MODULES[fmt]
    bits = np.arange(1 << 16, dtype=np.uint16)
    for name in module.__all__:
        f = getattr(lib, f"evo_{name}_{sfx}_array")
        out = np.empty_like(bits)
        f(ctypes.c_void_p(bits.ctypes.data), ctypes.c_void_p(out.ctypes.data), ctypes.c_size_t(bits.size))
        want = np.asarray(getattr(module, name)(bits.view(dtype))).view(np.uint16)
        nan = np.isnan(want.view(dtype).astype(np.float32))
        assert np.array_equal(out[~nan], want[~nan]) and np.isnan(out[nan].view(dtype).astype(np.float32)).all(), name


@pytest.mark.parametrize("fmt", list(MODULES))
def test_the_numpy_form_gives_the_jax_forms_bits_on_every_input(fmt, evo_cmd, tmp_path):
    import importlib.util

    r = subprocess.run([*evo_cmd, "lib", "--lang", "numpy", "--format", fmt, "-o", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    path = next(tmp_path.glob("evo_math_*.py"))
    spec = importlib.util.spec_from_file_location("evo_small_numpy", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    module, dtype = MODULES[fmt]
    every = np.arange(1 << 16, dtype=np.uint16).view(dtype)
    for name in module.__all__:
        got, want = np.asarray(getattr(mod, name)(every)), np.asarray(getattr(module, name)(every))
        assert got.dtype == want.dtype == np.dtype(dtype)
        nan = np.isnan(want.astype(np.float32))
        assert np.array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan]), name
        assert np.isnan(got[nan].astype(np.float32)).all()
    bad = subprocess.run([*evo_cmd, "lib", "--lang", "numpy", "-o", str(tmp_path)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "--lang numpy is offered with --format bfloat16 or float16" in bad.stderr
