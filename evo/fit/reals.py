"""The reals platform's fitter: constants of a program judged as a real-number function.

There is no float32 lattice: `fit_reals` runs the float64 stages (evo.fit.lm) from a few
starts (the inherited constants, log-scale draws, and for a program ending in squarings a
core fitted to f^(1/2^s)), then finishes the best: a least-squares run to convergence where
it may reach the front (a search says where), and a sequential linear program on the
error's peaks (it converges to the minimax where Lawson crawls) on double-double residuals,
so errors near 1e-15 are fitted, not float64 rounding noise.
"""
from __future__ import annotations

import numpy as np

from ..core.doubledouble import evaluate_dd, relative_errors
from ..core.interp import evaluate
from ..core.ir import Program, live_instrs
from ..core.scoring import PointSet
from .config import FitConfig
from .lm import _max_abs, _weighted, fit_float64, forward


def fit_reals_points(p: Program, pts: PointSet, weights: np.ndarray, errors, cfg: FitConfig) -> tuple[Program, np.ndarray]:
    """The reals platform's fitter (evo.platforms): fit_reals on a point set (its own weights
    and relative errors, in double-double)."""
    return fit_reals(p, pts.x, pts.hi, pts.lo, cfg)


def fit_reals(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray,
              cfg: FitConfig = FitConfig()) -> tuple[Program, np.ndarray]:
    """Constants of `p` minimising the max relative error of its real-number function
    (double-double residuals); the fitted program and its per-point relative errors."""

    x = np.asarray(x, np.float64)
    if not p.const_slots:
        return p, relative_errors(p, x, hi, lo)
    with np.errstate(all="ignore"):
        w = 1.0 / np.abs(hi)
    ok = np.isfinite(w)  # f(x) = 0: the error there is 0 or inf whatever the constants; not fitted
    x = _off_singular(p, x)
    with np.errstate(all="ignore"):
        y0, j0 = forward(p, x, p.constants)
        ok &= np.isfinite(y0) & np.all(np.isfinite(j0), axis=0)
    xf, hf, lf, wf = x[ok], hi[ok], lo[ok], w[ok]
    if xf.size < len(p.const_slots) + 1:  # singular nearly everywhere (x / (t - t)): nothing to fit
        return p, relative_errors(p, x, hi, lo)
    sub = np.unique(np.r_[np.arange(0, xf.size, cfg.float64_stride), xf.size - 1]) if xf.size else np.arange(0)
    # Deterministic per structure: the same child fits the same way on any worker.
    rng = np.random.default_rng(int(p.hash()[:8], 16))
    starts = [p.constants] + [_log_scale_start(p.constants, rng) for _ in range(cfg.reals_restarts)]
    core = _root_start(p, xf[sub], hf[sub] + lf[sub], cfg)
    if core is not None:
        starts.append(core)
    best_c, best = p.constants, _max_abs(_dd_residual(p, xf[sub], hf[sub], lf[sub], wf[sub], p.constants))
    for c0 in starts:
        with np.errstate(all="ignore"):
            # float64 is enough to get near the minimax (its noise is ~1e-15 relative);
            # the double-double finish below does the last digits.
            c = fit_float64(p.with_constants(c0), xf[sub], hf[sub] + lf[sub], wf[sub], cfg)
            m = _max_abs(_dd_residual(p, xf[sub], hf[sub], lf[sub], wf[sub], c))
        if np.all(np.isfinite(c)) and m < best:
            best_c, best = c, m
    # The finish (optionally LM to convergence, then a few linear programs): only for the best
    # start, only if it is good.
    if best < cfg.slp_below:
        with np.errstate(all="ignore"):
            if best < cfg.reals_lm_below:
                best_c = _lm_to_convergence(p, xf[sub], hf[sub], lf[sub], wf[sub], best_c, best,
                                            cfg.reals_lm_evals)
            if cfg.slp_iters:
                best_c = _slp(p, xf, hf, lf, wf, best_c, cfg.slp_iters)
    best_err = _with_dense_check(p, x, relative_errors(p, x, hi, lo, best_c), best_c, hi)
    return p.with_constants(best_c), best_err


def _lm_to_convergence(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray, w: np.ndarray,
                       c: np.ndarray, c_err: float, max_evals: int) -> np.ndarray:
    """Least squares run to convergence (MINPACK's LM, Jacobian-scaled): rational forms
    ending in squarings lie in long curved valleys where each step gains little, so the
    quick fit above stops far from the optimum (AutoNumerics-Zero's 10-op exp form, x^8
    chain on [0, 1]: 10.5 digits after it, 14.3 after ~900 steps here). Kept only if the
    max error (double-double) falls below c's, `c_err`."""
    from scipy.optimize import least_squares

    if max_evals <= 0 or c.size == 0 or x.size <= c.size:
        return c
    v = hi + lo
    last: dict = {}

    def weighted(cc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # MINPACK asks for the residual and then the Jacobian at the same point: one forward pass
        key = cc.tobytes()
        if key not in last:
            last.clear()
            last[key] = _weighted(p, x, v, w, cc)
        return last[key]

    try:
        res = least_squares(lambda cc: weighted(cc)[0], c, jac=lambda cc: weighted(cc)[1].T, method="lm",
                            x_scale="jac", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=max_evals)
    except ValueError:  # a non-finite residual or Jacobian on the way
        return c
    if not np.all(np.isfinite(res.x)):
        return c
    return res.x if _max_abs(_dd_residual(p, x, hi, lo, w, res.x)) < c_err else c


def _off_singular(p: Program, x: np.ndarray) -> np.ndarray:
    """Fitting points moved off singular points (c / x at x = 0): there the float64
    Jacobian is not finite, but the value is the limit, which the fit must match (else
    it may fit everything but that point). A point 1e-100 (or 2^-40 relative) toward the
    middle has the same value to far below any error measured, and a finite Jacobian."""
    with np.errstate(all="ignore"):
        y, jac = forward(p, x, p.constants)
    bad = ~(np.isfinite(y) & np.all(np.isfinite(jac), axis=0))
    if not bad.any():
        return x
    mid = 0.5 * (x.min() + x.max())
    x = x.copy()
    x[bad] += np.where(mid >= x[bad], 1.0, -1.0) * np.maximum(np.abs(x[bad]) * 2.0 ** -40, 1e-100)
    return x


def _squaring_chain(p: Program) -> tuple[int, int]:
    """(root slot, s) where the output is root^(2^s) by s squarings (s = 0: none)."""
    slot, s = p.output, 0
    while p.instrs[slot].op == "mul" and p.instrs[slot].args[0] == p.instrs[slot].args[1]:
        slot, s = p.instrs[slot].args[0], s + 1
    return slot, s


def _root_start(p: Program, x: np.ndarray, v: np.ndarray, cfg: FitConfig) -> np.ndarray | None:
    """Where the program ends in s squarings (x -> x^8), a start whose core (what is squared)
    fits f^(1/2^s): the relative error of the whole is 2^s times the core's, so this is
    near the optimum, and a freshly inserted squaring needs the core's constants moved
    far (from f toward f^(1/2)) where a warm start from the parent cannot go."""
    root, s = _squaring_chain(p)
    if s == 0 or not np.all(v > 0):
        return None
    core = Program(p.instrs, root)
    slots = [i for i in p.const_slots]
    live = {i for i, _ in live_instrs(core)}
    used = [j for j, i in enumerate(slots) if i in live]
    if not used:
        return None
    sub = Program(p.instrs, root)
    vc = v ** (0.5 ** s)
    with np.errstate(all="ignore"):
        c = fit_float64(sub, x, vc, 1.0 / vc, cfg)
    return c if np.all(np.isfinite(c)) else None


def _with_dense_check(p: Program, x: np.ndarray, err: np.ndarray, c: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A pole or spike between training points (c / (x - 0.3137)) is invisible to them:
    the program is run on 2,049 evenly spaced points too, and if its error there is
    larger, the training point nearest to where it was carries that error."""
    lo_, hi_ = float(np.min(x)), float(np.max(x))
    xd = np.linspace(lo_, hi_, 2049)
    with np.errstate(all="ignore"):
        y = evaluate(p, xd, np.float64, c)
        ref = np.interp(xd, np.sort(x), hi[np.argsort(x)])  # f itself between training points: close enough here
        e = np.abs(y - ref) / np.abs(ref)
    e = np.where(np.isfinite(e), e, np.where(ref == 0, 0.0, np.inf))  # f = 0 (erf at 0): the training set judges
    i = int(np.argmax(e))
    if not e[i] > 2 * (err.max() + 1e-6):   # (interpolated f is only good to ~1e-6: spikes only)
        return err
    err = err.copy()
    k = int(np.argmin(np.abs(x - xd[i])))
    err[k] = max(err[k], e[i])
    return err


def _log_scale_start(c: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Constants redrawn as +-10^U(-2, 3), keeping the sign of a nonzero old value."""
    sign = np.where(c != 0, np.sign(c), rng.choice((-1.0, 1.0), c.size))
    return sign * 10.0 ** rng.uniform(-2, 3, c.size)


def _dd_residual(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray, w: np.ndarray,
                 c: np.ndarray) -> np.ndarray:
    """Weighted residuals (relative errors, signed) of the real-number function, in double-double."""

    yh, yl = evaluate_dd(p, x, c)
    return ((yh - hi) + (yl - lo)) * w


def _peaks(r: np.ndarray) -> np.ndarray:
    """Indices of the local maxima of |r| (x sorted) and their neighbours: where a minimax step acts."""
    a = np.abs(r)
    left, right = np.r_[-np.inf, a[:-1]], np.r_[a[1:], -np.inf]
    top = np.flatnonzero((a >= left) & (a >= right) & (a > 0.05 * a.max()))
    return np.unique(np.clip(np.r_[top - 1, top, top + 1], 0, r.size - 1))


# HiGHS can stall on a badly scaled LP (seen once in 240k children of a 110-minute run,
# holding a worker until killed): past this, the step counts as failed and the finish stops.
LP_SECONDS = 2.0


def _slp(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray, w: np.ndarray, c: np.ndarray,
         iters: int) -> np.ndarray:
    """Minimax by sequential linear programming in a trust region: min t with
    |r_i + J_i d| <= t on the error's peaks, |d_j| <= delta_j; kept only if the true
    (double-double, every point) max error falls."""
    from scipy.optimize import linprog

    order = np.argsort(x, kind="stable")
    x, hi, lo, w = x[order], hi[order], lo[order], w[order]
    r = _dd_residual(p, x, hi, lo, w, c)
    best = _max_abs(r)
    delta = 1e-3 * np.maximum(np.abs(c), 1e-6)
    k = c.size
    for _ in range(iters):
        if not np.isfinite(best) or best == 0:
            break
        idx = _peaks(r)
        jac = (forward(p, x[idx], c)[1] * w[idx]).T * delta / best  # scaled: d' in [-1, 1], errors ~1
        rs = r[idx] / best
        if not np.all(np.isfinite(jac)):
            break
        a_ub = np.block([[jac, -np.ones((idx.size, 1))], [-jac, -np.ones((idx.size, 1))]])
        res = linprog(np.r_[np.zeros(k), 1.0], A_ub=a_ub, b_ub=np.r_[-rs, rs],
                      bounds=[(-1, 1)] * k + [(0, None)], method="highs", options={"time_limit": LP_SECONDS})
        if res.status != 0:
            break
        c_new = c + res.x[:k] * delta
        r_new = _dd_residual(p, x, hi, lo, w, c_new)
        m = _max_abs(r_new)
        if m < best:
            gain = 1 - m / best
            c, r, best = c_new, r_new, m
            if np.max(np.abs(res.x[:k])) > 0.9:
                delta *= 4  # the step hit the trust region: widen it
            if gain < 1e-6:
                break
        else:
            delta /= 8
            if np.all(delta < 1e-15 * np.maximum(np.abs(c), 1e-300)):
                break
    return c
