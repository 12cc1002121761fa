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

from ..core.formats import Format
from ..core.interp import evaluate
from ..core.ir import Program
from ..core.scoring import PointSet
from .config import FitConfig
from .float32 import fit_errors, polish_float32
from .lm import forward

# HiGHS is fast on these (a few thousand rows, a handful of columns); the limit guards a
# badly scaled one from holding a worker.
LP_SECONDS = 2.0


def _distance64(fmt: Format, y: np.ndarray, c: np.ndarray, below: np.ndarray, above: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        d = np.where(y >= c, (y - c) / above, (c - y) / below)
    m = float(np.max(d)) if d.size else 0.0
    return m if np.isfinite(m) else np.inf


def minimax_distance(p: Program, x: np.ndarray, c: np.ndarray, fmt: Format, start: np.ndarray,
                     iters: int = 4) -> tuple[np.ndarray, float]:
    """Constants (float64) minimising the largest distance of p's real-number outputs from
    the correctly rounded values c (finite), in the format's spacing on each side; and that
    distance. Sequential LP in a trust region, a step kept only if the distance falls."""
    from scipy.optimize import linprog

    below, above = fmt.gaps(c)
    x64 = x.astype(np.float64)
    cons = np.array(start, np.float64)
    y, jac = forward(p, x64, cons)
    best = _distance64(fmt, y, c, below, above)
    delta = np.maximum(np.abs(cons), 1e-3)
    k = cons.size
    for _ in range(iters):
        if not (np.isfinite(best) and np.all(np.isfinite(jac))):
            break
        jd = jac.T * delta                      # steps scaled to [-1, 1]
        a_ub = np.block([[jd, -above[:, None]], [-jd, -below[:, None]]])
        b_ub = np.r_[c - y, y - c]
        res = linprog(np.r_[np.zeros(k), 1.0], A_ub=a_ub, b_ub=b_ub, bounds=[(-1, 1)] * k + [(0, None)],
                      method="highs", options={"time_limit": LP_SECONDS})
        if res.status != 0:
            break
        c_new = cons + res.x[:k] * delta
        y_new, jac_new = forward(p, x64, c_new)
        m = _distance64(fmt, y_new, c, below, above)
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
