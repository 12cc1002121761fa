"""Mutations: every child is a valid, simplified program computing a new function."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo.core.ir import Program, simplify
from evo.evolution.mutate import MUTATIONS, MutationConfig, mutate, probe_key

PROBE = np.linspace(0.0, 1.0, 13).astype(np.float32)  # a few inputs of [0, 1], in the platform's dtype
from support import horner


def _grow(seed: int, steps: int) -> Program:
    rng = np.random.default_rng(seed)
    cfg = MutationConfig()
    p = Program.identity()
    for _ in range(steps):
        child, _ = mutate(p, cfg, rng, PROBE)
        if child.n_ops <= 12:
            p = child
    return p


@given(st.integers(0, 2**32 - 1), st.integers(0, 30))
@settings(max_examples=60, deadline=None)
def test_mutate_gives_valid_simplified_changed_children(seed, steps):
    rng = np.random.default_rng(seed)
    cfg = MutationConfig(max_ops=12)
    parent = _grow(seed, steps)
    child, how = mutate(parent, cfg, rng, PROBE)
    assert how in MUTATIONS
    assert child == simplify(child)               # canonical and folded
    assert child.n_ops <= cfg.max_ops
    assert probe_key(child, PROBE) != probe_key(parent, PROBE)  # the function really changed
    assert child.x_dependent()[child.output]      # never a constant


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_mutation_applies_to_a_horner_program(name):
    rng = np.random.default_rng(1)
    p = horner([1.0, 0.69, 0.24, 0.05], use_fma=True)
    donor = horner([0.5, 0.3, 0.2], use_fma=False)
    results = [MUTATIONS[name](p, MutationConfig(shift=0.5), rng, [donor]) for _ in range(20)]
    assert any(r is not None and r != p for r in results)


def test_structural_moves_make_the_forms_classical_kernels_have():
    from evo.core.ir import render

    rng = np.random.default_rng(0)
    p = horner([0.0, 1.44, -0.72, 0.48], use_fma=True)
    cfg = MutationConfig(shift=1.0)
    subs = {render(simplify(MUTATIONS["substitute"](p, cfg, rng))) for _ in range(20)}
    # a change of variable to x - 1 (the shift is the target's zero) or x*x: every use of x moves
    assert any(s.startswith("t1 = x - 1;") and "x" not in s.split(";", 1)[1] for s in subs)
    assert any(s.startswith("t1 = x * x;") and "x" not in s.split(";", 1)[1] for s in subs)
    # substitute x -> x*x, then factor by x: x * q(x*x), an odd function
    from evo.core.interp import evaluate

    x = np.linspace(-1, 1, 9).astype(np.float32)
    odd = 0
    for _ in range(20):
        q = simplify(MUTATIONS["factor"](simplify(MUTATIONS["substitute"](p, cfg, rng)), cfg, rng))
        y = evaluate(q, x)
        odd += bool(np.array_equal(y, -y[::-1]))
    assert odd >= 2


def test_reals_substitution_is_x_plus_c_over_x():
    """Reals mode's change of variable: the child computes the parent at u = x + c/x."""
    from evo.core.interp import evaluate

    rng = np.random.default_rng(3)
    p = horner([0.5, 1.25, -0.75], use_fma=False)
    cfg = MutationConfig(reciprocal=1.0)
    x = np.linspace(0.1, 1.0, 7)
    for _ in range(5):
        child = simplify(MUTATIONS["substitute"](p, cfg, rng))
        over_x = [ins.args[0] for ins in child.instrs if ins.op == "div" and ins.args[1] == 0]  # c / x
        c = child.instrs[over_x[0]].value
        np.testing.assert_allclose(evaluate(child, x, np.float64), evaluate(p, x + c / x, np.float64), rtol=1e-12)
        assert sum(ins.op == "x" for ins in child.instrs) == 1 and child.n_ops == p.n_ops + 2


def test_graft_copies_a_subgraph_of_the_donor():
    from evo.core.interp import evaluate

    p = horner([1.0, 0.5], use_fma=True)       # fma(x, 0.5, 1)
    donor = horner([0.25, 0.0, 3.0], use_fma=True)  # 3x^2 + 0.25 by fma
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 7).astype(np.float32)
    outs = {evaluate(simplify(MUTATIONS["graft"](p, MutationConfig(), rng, [donor])), x).tobytes() for _ in range(30)}
    assert evaluate(donor, x).tobytes() in outs  # the whole donor replaced the whole program at least once


def test_insert_on_the_output_edge_can_grow_horner_by_one_degree():
    rng = np.random.default_rng(0)
    p = horner([1.0, 0.69], use_fma=True)  # fma(x, c, c)
    seen = set()
    for _ in range(400):
        child = simplify(MUTATIONS["insert"](p, MutationConfig(), rng))
        seen.add(tuple(ins.op for ins in child.instrs if ins.op not in ("x", "const")))
    assert ("fma", "fma") in seen


def test_mutation_is_reproducible_from_the_seed():
    a = [mutate(_grow(3, 10), MutationConfig(), np.random.default_rng(7), PROBE)[0] for _ in range(2)]
    assert a[0] == a[1]


def test_perturb_never_produces_a_non_finite_constant():
    # a constant near the float32 limit: scaling it may overflow, which must not be a child
    p = horner([3.0e38, 3.0e38], use_fma=True)
    rng = np.random.default_rng(0)
    for _ in range(200):
        child = MUTATIONS["perturb"](p, MutationConfig(), rng)
        assert child is None or np.all(np.isfinite(child.constants))


def _horner_rewrites(p: Program, cfg: MutationConfig, tries: int = 100) -> list[Program]:
    """What the horner move makes of p in `tries` draws (seed 0), None dropped."""
    rng = np.random.default_rng(0)
    return [q for q in (MUTATIONS["horner"](p, cfg, rng) for _ in range(tries)) if q is not None]


def _largest_gap(qs: list[Program], p: Program, x: np.ndarray) -> float:
    """How far the rewrites' real-number functions stray from p's on x."""
    from evo.core.interp import evaluate

    return max(float(np.max(np.abs(evaluate(q, x, np.float64) - evaluate(p, x, np.float64)))) for q in qs)


def test_horner_rewrites_a_product_as_a_chain_of_fmas_of_the_same_function():
    import re

    from evo.core.ir import CONST, Instr, X, render

    # (1 + 0.5x) * (1 + 0.7x + 0.3x^2): 4 ops, a cubic
    p = Program((Instr(X), Instr(CONST, (), 0.5), Instr(CONST, (), 1.0), Instr("fma", (0, 1, 2)),
                 Instr(CONST, (), 0.3), Instr(CONST, (), 0.7), Instr("fma", (0, 4, 5)), Instr("fma", (0, 6, 2)),
                 Instr("mul", (3, 7))), 8)
    x = np.linspace(-0.5, 0.5, 33)
    forms = {}
    for q in _horner_rewrites(p, MutationConfig(interval=(-0.5, 0.5), shift=0.25)):
        assert q.n_ops <= p.n_ops
        forms[re.sub(r"(?<![a-z])-?[0-9][0-9.e-]*", "c", render(q))] = q
    # in x and in x - shift, degree 3: the cubic itself (constants rounded to float32)
    for shape in ["fma(fma(fma(c, x, c), x, c), x, c)", "t1 = x - c; fma(fma(fma(c, t1, c), t1, c), t1, c)"]:
        assert _largest_gap([forms[shape]], p, x) < 1e-6


def test_horner_gives_odd_functions_the_split_odd_form():
    from evo.core.ir import render

    p = horner([0.0, 1.0, 0.0, 0.2, 0.0, 0.05], use_fma=True)   # x + 0.2x^3 + 0.05x^5, 5 fmas
    found = _horner_rewrites(p, MutationConfig(interval=(0.0, 1.0), shift=0.5))
    # x * (a0 + u*(a1 + a2*u)), u = x*x, as fma(x, a0, (x*u) * fma(a2, u, a1)): 5 ops, exact
    split = [q for q in found if render(q).startswith("t1 = x * x; fma(x, 1, ((x * t1) * fma(")]
    assert split and _largest_gap(split, p, np.linspace(0.0, 1.0, 33)) < 1e-6


def test_horner_gives_the_exact_leading_term_form_v_plus_v_times_p():
    from evo.core.ir import render

    p = horner([0.0, 1.0, 0.0, 0.2, 0.0, 0.05], use_fma=True)   # x + 0.2x^3 + 0.05x^5, 5 fmas
    found = _horner_rewrites(p, MutationConfig(interval=(0.0, 1.0)))
    # x + x * (0.2u + 0.05u^2), u = x*x, as fma(x, fma(fma(0.05, u, 0.2), u, 0), x): exact
    unit = [q for q in found if render(q).startswith("t1 = x * x; fma(x, fma(") and render(q).endswith(", x)")]
    assert unit and _largest_gap(unit, p, np.linspace(0.0, 1.0, 33)) < 1e-6
