"""The small formats' fitter (evo.platforms.small): constants that put every result inside
its rounding interval.

A float32 result y rounds to the correctly rounded value c exactly when it is within half
the format's spacing of c on its own side (evo.core.formats). So after the float32 fitter
(aimed at c, evo.fit.float32), one more stage minimises the largest distance itself by
sequential linear programming: min t with c - t gap_below <= y + J d <= c + t gap_above at
every training point, the step d in a trust region. For a polynomial the constraints are
linear in the constants and one step is the exact optimum (so its value is a proof: no
choice of real coefficients does better on those points); the result is rounded to float32
and polished on the float32 lattice against the true distances.
"""
from __future__ import annotations

import numpy as np

from ..core.formats import Format, side_distance
from ..core.interp import evaluate
from ..core.ir import Program
from ..core.scoring import PointSet
from .config import FitConfig
from .float32 import fit_errors, polish_float32
from .lm import forward

# HiGHS is fast on these (a few thousand rows, a handful of columns); the limit guards a
# badly scaled one from holding a worker.
LP_SECONDS = 2.0


def _distance64(y: np.ndarray, c: np.ndarray, below: np.ndarray, above: np.ndarray,
                margin: np.ndarray | float = 0.0) -> float:
    d = side_distance(y, c, below, above, margin)
    m = float(np.max(d)) if d.size else 0.0
    return m if np.isfinite(m) else np.inf


def minimax_distance(p: Program, x: np.ndarray, c: np.ndarray, fmt: Format, start: np.ndarray,
                     iters: int = 4, gaps: tuple[np.ndarray, np.ndarray] | None = None,
                     seconds: float = LP_SECONDS, margin: np.ndarray | float = 0.0) -> tuple[np.ndarray, float]:
    """Constants (float64) minimising the largest distance of p's real-number outputs from
    the correctly rounded values c (finite), in the format's spacing on each side (or the
    given gaps (below, above): a kernel whose result is scaled); and that distance.
    Sequential LP in a trust region, a step kept only if the distance falls. margin: an
    absolute allowance kept free at each point (for the float32 evaluation's own rounding)."""
    from scipy.optimize import linprog

    below, above = gaps if gaps is not None else fmt.gaps(c)
    x64 = x.astype(np.float64)
    cons = np.array(start, np.float64)
    y, jac = forward(p, x64, cons)
    best = _distance64(y, c, below, above, margin)
    delta = np.maximum(np.abs(cons), 1e-3)
    k = cons.size
    for _ in range(iters):
        if not (np.isfinite(best) and np.all(np.isfinite(jac))):
            break
        jd = jac.T * delta                      # steps scaled to [-1, 1]
        a_ub = np.block([[jd, -above[:, None]], [-jd, -below[:, None]]])
        b_ub = np.r_[c - y - margin, y - c - margin]
        res = linprog(np.r_[np.zeros(k), 1.0], A_ub=a_ub, b_ub=b_ub, bounds=[(-1, 1)] * k + [(0, None)],
                      method="highs", options={"time_limit": seconds})
        if res.status != 0:
            break
        c_new = cons + res.x[:k] * delta
        y_new, jac_new = forward(p, x64, c_new)
        m = _distance64(y_new, c, below, above, margin)
        if m < best:
            gain = 1 - m / best
            exact = abs(m - res.x[k]) <= 1e-9 * m     # the model was exact: linear in the constants
            cons, y, jac, best = c_new, y_new, jac_new, m
            if gain < 1e-6 or (exact and np.max(np.abs(res.x[:k])) < 1):
                break
        else:
            delta /= 8
    return cons, best


def fit_rounding(p: Program, pts: PointSet, weights: np.ndarray, errors, cfg: FitConfig, *,
                 fmt: Format) -> tuple[Program, np.ndarray]:
    """The float32 fitter, then (for a candidate within `cr_lp_below` of its rounding
    intervals) the minimax distance by LP, rounded and polished; the better of the two."""
    fitted, err = fit_errors(p, pts.x, pts.hi, pts.lo, weights, errors, cfg)
    fin = np.isfinite(pts.hi)
    if not p.const_slots or not err.max() < cfg.cr_lp_below or not fin.any():
        return fitted, err
    c64, _ = minimax_distance(p, pts.x[fin], pts.hi[fin], fmt, fitted.constants)
    with np.errstate(over="ignore"):
        c32 = c64.astype(np.float32)
    if not np.all(np.isfinite(c32)):
        return fitted, err

    everything = np.arange(pts.x.size)

    def errors_at(consts: np.ndarray, points: np.ndarray) -> np.ndarray:
        return errors(evaluate(p, pts.x[points], np.float32, consts), points)

    lp_err = errors_at(c32[None, :], everything)[0]
    c32, lp_err = polish_float32(c32, lp_err, errors_at, cfg)
    if lp_err.max() < err.max():
        return p.with_constants(c32.astype(np.float64)), lp_err
    return fitted, err


def fit_to_intervals(p: Program, x: np.ndarray, c: np.ndarray, below: np.ndarray, above: np.ndarray,
                     fmt: Format, cfg: FitConfig = FitConfig()) -> tuple[Program, np.ndarray]:
    """Float32 constants for p that put p(x) (float32) within half a gap of c at every point:
    the minimax LP from p's constants, rounded to float32 and polished on the float32 lattice
    against the true distances. Returns the program and its per-point distances (< 0.5: each
    rounds to its c). For a kernel inside a wrapper: c and the gaps mapped into its range."""
    everything = np.arange(x.size)

    def errors_at(consts: np.ndarray, points: np.ndarray) -> np.ndarray:
        y = evaluate(p, x[points], np.float32, consts).astype(np.float64)
        d = side_distance(y, c[points], below[points], above[points])
        return np.where(np.isfinite(d), d, np.inf)

    if not p.const_slots:
        return p, errors_at(np.zeros((1, 0), np.float32), everything)[0]
    # leave each point two float32 ulps of room for the float32 evaluation's own rounding:
    # else the minimax spreads the largest distance over many points, and float32 pushes
    # thousands of them over the boundary
    room = 2.0 * np.ldexp(1.0, np.frexp(np.abs(c))[1] - 24)
    c64, _ = minimax_distance(p, x, c, fmt, p.constants, iters=8, gaps=(below, above), seconds=60.0, margin=room)
    c32 = c64.astype(np.float32)
    dist = errors_at(c32[None, :], everything)[0]
    c32, dist = polish_float32(c32, dist, errors_at, cfg)
    c32, dist = fewest_misrounded(c32, dist, errors_at)
    return p.with_constants(c32.astype(np.float64)), dist


def fewest_misrounded(c32: np.ndarray, dist: np.ndarray, errors_at, rounds: int = 40,
                      steps: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)) -> tuple[np.ndarray, np.ndarray]:
    """Coordinate moves on the float32 lattice that lower the number of points at or past
    0.5 (those that do not round correctly; a tie counts, it may go either way), then the
    largest distance: where the exact values lie within float32's own rounding of a
    midpoint, which side each lands on is decided by the constants' last bits."""
    def score(d: np.ndarray) -> tuple[int, float]:
        return int(np.sum(d >= 0.5)), float(d.max())

    best = score(dist)
    everything = np.arange(dist.size)
    for _ in range(rounds):
        if best[0] == 0:
            break
        bits = c32.view(np.int32)
        moves = [(j, sign * step) for j in range(c32.size) for step in steps for sign in (-1, 1)]
        cands = np.repeat(bits[None, :], len(moves), axis=0)
        for row, (j, step) in enumerate(moves):
            cands[row, j] += step
        cands = cands.view(np.float32)
        full = errors_at(cands, everything)
        scores = [score(d) for d in full]
        i = min(range(len(scores)), key=scores.__getitem__)
        if not scores[i] < best:
            break
        c32, dist, best = cands[i].copy(), full[i], scores[i]
    return c32, dist
