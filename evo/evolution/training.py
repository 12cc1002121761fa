"""The training set, grown where members fail: an exchange, as in Remez and RLIBM.

Fitting and ranking use a fixed set of about 1,300 points (`Scorer.train`). A
program fitted to those points can be 0.5 ULP worse elsewhere. So whenever a
front member is checked on more inputs (the validation sample, or every float32
of the interval) and is worse there than on the training set, the inputs of its
largest errors join the training set: constants are then fitted against them,
and every member is re-scored on them. The grown part (`Extra`) is bounded (the
oldest points leave first) and small enough to ship with every batch of work.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.scoring import PointSet, Scorer

CAPACITY = 512     # grown points kept at most
PER_CHECK = 4      # inputs taken from one check: the arg-max and the next largest local maxima


@dataclass(frozen=True, eq=False)
class Extra:
    """The grown points and their exact values; `added` is the version each point came in."""

    version: int
    x: np.ndarray
    hi: np.ndarray
    lo: np.ndarray
    added: np.ndarray

    def since(self, version: int) -> PointSet:
        """Points added after `version` (to bring a result computed then up to date)."""
        keep = self.added > version
        return PointSet(self.x[keep], self.hi[keep], self.lo[keep])

    def to_dict(self) -> dict:
        return {"version": self.version, "x": self.x.astype(np.float64).tolist(), "hi": self.hi.tolist(),
                "lo": self.lo.tolist(), "added": self.added.tolist()}

    @staticmethod
    def from_dict(d: dict, dtype: type) -> "Extra":
        return Extra(int(d["version"]), np.array(d["x"], dtype), np.array(d["hi"]), np.array(d["lo"]),
                     np.array(d["added"], np.int64))

    @staticmethod
    def empty(dtype: type) -> "Extra":
        return Extra(0, np.zeros(0, dtype), np.zeros(0), np.zeros(0), np.zeros(0, np.int64))


def with_extra(base: PointSet, extra: Extra | None) -> PointSet:
    """The whole training set: the fixed points, then the grown ones."""
    if extra is None or not extra.x.size:
        return base
    return PointSet(np.concatenate([base.x, extra.x]), np.concatenate([base.hi, extra.hi]),
                    np.concatenate([base.lo, extra.lo]))


def worst_inputs(err: np.ndarray, x: np.ndarray, k: int = PER_CHECK) -> np.ndarray:
    """The inputs of the k largest local maxima of err over sorted x (the arg-max first):
    one point per bump of the error curve, not k neighbours of one peak."""
    if not x.size:
        return x
    order = np.argsort(x, kind="stable")
    e = np.where(np.isfinite(err[order]), err[order], np.finfo(np.float64).max)
    left = np.r_[-np.inf, e[:-1]]
    right = np.r_[e[1:], -np.inf]
    peaks = np.flatnonzero((e >= left) & (e >= right))
    top = peaks[np.argsort(-e[peaks], kind="stable")[:k]]
    return x[order][top]


class TrainingSet:
    """The fixed training points plus the grown ones, for one scorer."""

    def __init__(self, scorer: Scorer, capacity: int = CAPACITY) -> None:
        self.scorer = scorer
        self.capacity = capacity
        self.extra = Extra.empty(scorer.np_dtype)
        self._known = set(scorer.train.x.tolist())

    @property
    def size(self) -> int:
        return self.scorer.train.x.size + self.extra.x.size

    def points(self) -> PointSet:
        return with_extra(self.scorer.train, self.extra)

    def add(self, xs: np.ndarray) -> int:
        """Add the inputs not already in the set (inside the interval); how many were new."""
        lo, hi = self.scorer.target.interval
        new = []
        for v in np.asarray(xs, self.scorer.np_dtype).ravel():
            f = float(v)
            if np.isfinite(f) and lo <= f <= hi and f not in self._known:
                self._known.add(f)
                new.append(v)
        if not new:
            return 0
        x = np.array(new, self.scorer.np_dtype)
        pts = self.scorer.points(x)
        vhi, vlo = pts.hi, pts.lo
        e = self.extra
        version = e.version + 1
        x_all, hi_all, lo_all = np.r_[e.x, x], np.r_[e.hi, vhi], np.r_[e.lo, vlo]
        added = np.r_[e.added, np.full(x.size, version, np.int64)]
        drop = max(0, x_all.size - self.capacity)  # the oldest leave first
        for v in x_all[:drop].tolist():
            self._known.discard(v)
        self.extra = Extra(version, x_all[drop:], hi_all[drop:], lo_all[drop:], added[drop:])
        return len(new)

    def restore(self, d: dict) -> None:
        self.extra = Extra.from_dict(d, self.scorer.np_dtype)
        self._known = set(self.scorer.train.x.tolist()) | set(self.extra.x.tolist())
