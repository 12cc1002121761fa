"""Mutations: every child is a valid, simplified program computing a new function."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evo.ir import Program, simplify
from evo.mutate import MUTATIONS, MutationConfig, mutate, probe_key
from support import horner


def _grow(seed: int, steps: int) -> Program:
    rng = np.random.default_rng(seed)
    cfg = MutationConfig()
    p = Program.identity()
    for _ in range(steps):
        child, _ = mutate(p, cfg, rng)
        if child.n_ops <= 12:
            p = child
    return p


@given(st.integers(0, 2**32 - 1), st.integers(0, 30))
@settings(max_examples=60, deadline=None)
def test_mutate_gives_valid_simplified_changed_children(seed, steps):
    rng = np.random.default_rng(seed)
    cfg = MutationConfig(max_ops=12)
    parent = _grow(seed, steps)
    child, how = mutate(parent, cfg, rng)
    assert how in MUTATIONS
    assert child == simplify(child)               # canonical and folded
    assert child.n_ops <= cfg.max_ops
    assert probe_key(child) != probe_key(parent)  # the function really changed
    assert child.x_dependent()[child.output]      # never a constant


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_mutation_applies_to_a_horner_program(name):
    rng = np.random.default_rng(1)
    p = horner([1.0, 0.69, 0.24, 0.05], use_fma=True)
    results = [MUTATIONS[name](p, MutationConfig(), rng) for _ in range(20)]
    assert any(r is not None and r != p for r in results)


def test_insert_on_the_output_edge_can_grow_horner_by_one_degree():
    rng = np.random.default_rng(0)
    p = horner([1.0, 0.69], use_fma=True)  # fma(x, c, c)
    seen = set()
    for _ in range(400):
        child = simplify(MUTATIONS["insert"](p, MutationConfig(), rng))
        seen.add(tuple(ins.op for ins in child.instrs if ins.op not in ("x", "const")))
    assert ("fma", "fma") in seen


def test_mutation_is_reproducible_from_the_seed():
    a = [mutate(_grow(3, 10), MutationConfig(), np.random.default_rng(7))[0] for _ in range(2)]
    assert a[0] == a[1]


def test_perturb_never_produces_a_non_finite_constant():
    # a constant near the float32 limit: scaling it may overflow, which must not be a child
    p = horner([3.0e38, 3.0e38], use_fma=True)
    rng = np.random.default_rng(0)
    for _ in range(200):
        child = MUTATIONS["perturb"](p, MutationConfig(), rng)
        assert child is None or np.all(np.isfinite(child.constants))
