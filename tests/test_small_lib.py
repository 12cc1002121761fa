"""The ready bfloat16 functions (evo.lib.jax.bfloat16): correctly rounded on every one of the
65,536 inputs as XLA runs them, checked against an independent float64 reference rounded by
ml_dtypes; special values; jit, vmap and grad."""
from __future__ import annotations

import json
import subprocess

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

eb = pytest.importorskip("evo.lib.jax.bfloat16")

EVERY = np.arange(1 << 16, dtype=np.uint16).view(ml_dtypes.bfloat16)
REFERENCE = {"exp2": np.exp2, "exp": np.exp, "log2": np.log2, "log": np.log}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_every_bfloat16_input_is_correctly_rounded(name):
    got = np.asarray(getattr(eb, name)(EVERY)).astype(np.float64)
    with np.errstate(all="ignore"):
        # float64 then one rounding to bfloat16: a double rounding could only err for a value
        # within 2^-53 of a bfloat16 midpoint, which none of these is
        want = REFERENCE[name](EVERY.astype(np.float64)).astype(ml_dtypes.bfloat16).astype(np.float64)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    assert same.all(), [(float(EVERY[i]), got[i], want[i]) for i in np.flatnonzero(~same)[:5]]
    if name.startswith("exp"):
        sub = (want > 0) & (want < 2.0 ** -126)
        assert sub.sum() >= 5    # subnormal results are among them (XLA's CPU flush is avoided)


def test_special_values_and_the_dtype():
    x = jnp.array([jnp.nan, jnp.inf, -jnp.inf, 0.0, -0.0, 128.0, -200.0], jnp.bfloat16)
    y = np.asarray(eb.exp2(x)).astype(np.float64)
    assert np.isnan(y[0]) and list(y[1:]) == [np.inf, 0.0, 1.0, 1.0, np.inf, 0.0]
    assert eb.exp(x).dtype == jnp.bfloat16 and eb.exp(np.float32(1.0)).dtype == jnp.bfloat16
    z = np.asarray(eb.log2(x)).astype(np.float64)
    assert np.isnan(z[0]) and z[1] == np.inf and np.isnan(z[2]) and list(z[3:6]) == [-np.inf, -np.inf, 7.0]
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
    assert {(e["function"], e["format"]) for e in entries} == {(f, "bfloat16") for f in REFERENCE}
    assert all(e["check"]["misrounded"] == 0 and e["check"]["inputs"] == 65536 for e in entries)
    for e in entries:
        assert f"{e['ops']}-op kernel (member {e['member']}" in eb.__doc__


def test_bench_small_reports_the_builtins_misrounded_counts(evo_cmd):
    r = subprocess.run([*evo_cmd, "bench", "small", "--n", "1000", "--repeats", "1", "--json"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = {row["function"]: row for row in json.loads(r.stdout)["rows"]}
    assert all(rows[f]["evo_misrounded"] == 0 for f in REFERENCE)
    assert rows["exp2"]["jax_misrounded"] > 1000     # jnp.exp2 on bfloat16: 1,632 of 65,536 here
    bad = subprocess.run([*evo_cmd, "bench", "small", "--formats", "bf8"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown format 'bf8' (ready functions exist for: bfloat16)" in bad.stderr
