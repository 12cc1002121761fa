"""Two-objective Pareto machinery (minimise error and cost)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and a != b


def ranks(points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Non-dominated sorting: rank 0 is the front, rank 1 the front of the rest, ..."""
    a = np.array(points, dtype=float).reshape(-1, 2)
    le = (a[:, None, :] <= a[None, :, :]).all(axis=2)
    lt = (a[:, None, :] < a[None, :, :]).any(axis=2)
    dom = le & lt  # dom[i, j]: i dominates j
    rank = np.full(len(a), -1)
    remaining = np.ones(len(a), bool)
    r = 0
    while remaining.any():
        front = remaining & ~dom[remaining].any(axis=0)
        rank[front] = r
        remaining &= ~front
        r += 1
    return rank


def crowding(points: Sequence[tuple[float, float]]) -> np.ndarray:
    """NSGA-II crowding distance on (log error, cost): larger = lonelier = preferred."""
    n = len(points)
    if n <= 2:
        return np.full(n, np.inf)
    pts = np.array([(np.log10(max(e, 1e-300)) if np.isfinite(e) else 1e300, c) for e, c in points])
    dist = np.zeros(n)
    for m in range(2):
        order = np.argsort(pts[:, m], kind="stable")
        span = pts[order[-1], m] - pts[order[0], m]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0 and np.isfinite(span):
            dist[order[1:-1]] += (pts[order[2:], m] - pts[order[:-2], m]) / span
    return dist


def best_index(points: Sequence[tuple[float, float]]) -> int:
    """The tournament winner: lowest Pareto rank, then largest crowding distance, then first."""
    rk = ranks(points)
    front = np.flatnonzero(rk == 0)
    cd = crowding([points[i] for i in front])
    return int(front[int(np.argmax(cd))])


def front_indices(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (first of exact duplicates kept)."""
    seen: set[tuple[float, float]] = set()
    out = []
    for i in np.flatnonzero(ranks(points) == 0):
        if points[i] not in seen:
            seen.add(points[i])
            out.append(int(i))
    return out
