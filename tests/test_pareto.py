from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evo.core.pareto import best_index, crowding, dominates, front_indices, ranks

points = st.lists(st.tuples(st.sampled_from([0.5, 1.0, 2.0, 8.0, float("inf")]), st.integers(0, 6).map(float)),
                  min_size=1, max_size=30)


@given(points)
@settings(max_examples=200, deadline=None)
def test_ranks_match_the_definition(pts):
    rk = ranks(pts)
    for i, p in enumerate(pts):
        # rank 0 iff nobody dominates it; a point of rank r > 0 is dominated by one of rank r-1
        dominated_by = [j for j, q in enumerate(pts) if dominates(q, p)]
        assert (rk[i] == 0) == (not dominated_by)
        if rk[i] > 0:
            assert any(rk[j] == rk[i] - 1 for j in dominated_by)
        assert all(rk[j] < rk[i] for j in dominated_by)


@given(points)
@settings(max_examples=100, deadline=None)
def test_front_and_winner(pts):
    front = front_indices(pts)
    assert len({pts[i] for i in front}) == len(front)
    assert all(not any(dominates(q, pts[i]) for q in pts) for i in front)
    assert ranks(pts)[best_index(pts)] == 0


def test_crowding_prefers_extremes():
    pts = [(1.0, 5.0), (2.0, 3.0), (4.0, 2.0), (8.0, 1.0)]
    cd = crowding(pts)
    assert np.isinf(cd[0]) and np.isinf(cd[3])
    assert np.all(np.isfinite(cd[1:3]))
