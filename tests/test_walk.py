"""The one program walker and its per-domain tables."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

from evo.core.doubledouble import DOUBLE_DOUBLE, evaluate_dd
from evo.core.interp import FLOAT32, FLOAT64, evaluate
from evo.core.ir import Builder
from evo.core.source import C_FLOAT32, C_FLOAT64, JAX_FLOAT32, JAX_FLOAT64, statements
from evo.core.walk import missing, walk
from evo.fit.lm import dual_table, forward
from evo.platforms import PLATFORMS
from evo.reals.certify import INTERVAL, MPMATH, SERIES
from primitives import OPS

# Every domain a platform's programs are run in, by platform. The float32 platform's
# searches may be given any op of the op table (--ops), so its domains cover all of them.
_F32 = {"float32": FLOAT32, "dual": dual_table(2, 3), "C-f32": C_FLOAT32, "JAX-f32": JAX_FLOAT32}
DOMAINS = {
    "float32": _F32,
    "float32-xla": _F32,   # its programs are float32 programs, compiled by XLA from the JAX-f32 templates
    # the small formats compute in float32 too; only the rounding of the result differs
    "bfloat16": _F32, "float16": _F32, "float32-bfloat16": _F32,
    "reals": {"float64": FLOAT64, "dual": dual_table(2, 3), "double-double": DOUBLE_DOUBLE,
              "Taylor series": SERIES, "interval": INTERVAL, "mpmath": MPMATH, "C-f64": C_FLOAT64,
              "JAX-f64": JAX_FLOAT64},
}


def test_every_platform_has_its_domains_listed():
    assert set(DOMAINS) == set(PLATFORMS)


@pytest.mark.parametrize("platform,domain", [(p, d) for p, ds in DOMAINS.items() for d in ds])
def test_every_domain_covers_its_platforms_ops(platform, domain):
    ops = tuple(OPS) if DOMAINS[platform] is _F32 else PLATFORMS[platform].ops
    assert missing(DOMAINS[platform][domain], ops) == []


def _program():
    """(x - 0.3) * fma(x, 1.5, 2) / (x + 4): every reals op, a shared slot, two constants."""
    b = Builder()
    c = b.emit("const", value=0.3)
    u = b.emit("sub", 0, c)
    f = b.emit("fma", 0, b.emit("const", value=1.5), b.emit("const", value=2.0))
    return b.program(b.emit("div", b.emit("mul", u, f), b.emit("add", 0, b.emit("const", value=4.0))))


def test_numeric_domains_agree_on_one_program():
    p = _program()
    x = np.array([0.1, 0.5, 0.9])
    want = [(float(v) - 0.3) * (float(v) * 1.5 + 2) / (float(v) + 4) for v in x]
    y64 = evaluate(p, x, np.float64)
    hi, lo = evaluate_dd(p, x)
    yd, jac = forward(p, x, p.constants)
    assert np.allclose(y64, want, rtol=1e-15) and np.array_equal(yd, y64)
    assert np.allclose(hi + lo, want, rtol=1e-15) and jac.shape == (4, 3)
    with mpmath.workprec(100):
        ym = [walk(p, MPMATH, mpmath.mpf(float(v)), lambda i, c: mpmath.mpf(c)) for v in x]
    assert np.allclose([float(v) for v in ym], want, rtol=1e-15)
    # the Jacobian by dual numbers against a central difference
    h = 1e-6
    for j in range(4):
        c1, c2 = p.constants.copy(), p.constants.copy()
        c1[j] += h
        c2[j] -= h
        num = (evaluate(p, x, np.float64, c1) - evaluate(p, x, np.float64, c2)) / (2 * h)
        assert np.allclose(jac[j], num, rtol=1e-6, atol=1e-9)


def test_source_domains_write_one_statement_per_op():
    p = _program()
    stmts, out = statements(p, C_FLOAT32, "x", lambda k, v: f"c{k}")
    assert [expr for _, _, expr in stmts] == ["(x - c1)", "fmaf(x, c3, c4)", "(t2 * t5)", "(x + c7)", "(t6 / t8)"]
    assert out == "t9" and [var for _, var, _ in stmts] == ["t2", "t5", "t6", "t8", "t9"]
    f64, _ = statements(p, C_FLOAT64, "x", lambda k, v: repr(v), temp=lambda slot, n: f"t{n}")
    assert f64[1][2] == "fma(x, 1.5, 2.0)" and [v for _, v, _ in f64] == ["t1", "t2", "t3", "t4", "t5"]


def test_a_failing_op_names_its_slot():
    p = _program()

    def bad(*a):
        raise ZeroDivisionError("no")

    with pytest.raises(ZeroDivisionError) as e:
        walk(p, FLOAT64 | {"fma": bad}, np.ones(2), lambda i, v: v)
    assert e.value.walk_slot == 5
