"""The float32 platform's fitter: where accuracy comes from.

Four stages, each cheap enough to run on every structurally new child:
1. Levenberg-Marquardt on the ULP-weighted residuals in float64 (warm start
   from the inherited constants; Jacobian by forward-mode differentiation
   through the op table's `partials`).
2. Minimax refinement by Lawson's iteratively reweighted least squares
   (Gauss-Newton steps whose point weights grow where the error is largest).
3. Rounding to float32, two ways, keeping the better: all at once, or one
   constant at a time (the one whose rounding moves the output most), re-fitting the
   free ones after each so they absorb its rounding error (as fpminimax does; it
   matters where a large coefficient's half-ULP is worth a fraction of the output's).
4. Polish on the float32 lattice: step each constant a few float32 ULPs at a time
   and keep what lowers the true float32 max error.

Stages 1-2 are evo.fit.lm's (reals mode's fitter, evo.fit.reals, shares them).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core.interp import evaluate
from ..core.ir import Program
from ..core.scoring import PointSet
from .config import FitConfig
from .lm import compiled, fit_float64, weighted
from .native import Native, Tape


def round_in_turn(p: Program, x: np.ndarray, v: np.ndarray, w: np.ndarray, cfg: FitConfig,
                  native_tape: tuple[Native, Tape] | None = None) -> np.ndarray:
    """Stage 3, one at a time: round to float32 the free constant whose half-ULP moves
    the weighted output most, re-fit the others around it, until all are rounded.
    native_tape: `lm.compiled(p, cfg)`, if known."""
    nt = native_tape or compiled(p, cfg)
    c = p.constants.astype(np.float64)
    free = np.ones(c.size)
    # Each re-fit starts at the optimum moved by one rounding: a few steps suffice.
    refit = replace(cfg, lm_iters=cfg.round_lm_iters, minimax_iters=cfg.round_minimax_iters)
    while free.any():
        _, jac = weighted(p, x, v, w, c, cfg, native_tape=nt)
        with np.errstate(all="ignore"):
            half_ulp = np.spacing(np.abs(c).astype(np.float32)).astype(np.float64) / 2
            damage = np.where(free > 0, np.nan_to_num(np.abs(jac).max(axis=1) * half_ulp, nan=np.inf), -1.0)
        k = int(np.argmax(damage))
        c[k], free[k] = np.float32(c[k]), 0.0
        if free.any():
            c = fit_float64(p.with_constants(c), x, v, w, refit, free, native_tape=nt)
    return c.astype(np.float32)


def polish_float32(c32: np.ndarray, err: np.ndarray, errors_at, cfg: FitConfig) -> tuple[np.ndarray, np.ndarray]:
    """Stage 4: coordinate search over float32 neighbours of the constants.

    err: per-point errors of c32 now. errors_at(constants (K, n_const), points) ->
    per-point errors (K, len(points)) under float32 semantics. Candidates are
    screened on the points where the error is largest now, and the most promising
    few are confirmed on all points. Returns the constants and their errors.
    """
    n_points = err.size
    everything = np.arange(n_points)
    k = c32.size
    for _ in range(cfg.polish_rounds):
        hard = np.argpartition(err, -cfg.polish_points)[-cfg.polish_points:] if n_points > cfg.polish_points \
            else everything
        bits = c32.view(np.int32)
        moves = np.array([(j, sign * step) for j in range(k) for step in cfg.polish_steps for sign in (-1, 1)])
        cands = np.repeat(bits[None, :], len(moves), axis=0)
        cands[np.arange(len(moves)), moves[:, 0]] += moves[:, 1]  # neighbours on the float32 lattice
        cands = cands.view(np.float32)
        cands = cands[np.all(np.isfinite(cands), axis=1)]
        if not cands.size:
            break
        screened = cands[np.argsort(errors_at(cands, hard).max(axis=1))[: cfg.polish_confirm]]
        full = errors_at(screened, everything)
        i = int(np.argmin(full.max(axis=1)))
        if not full[i].max() < err.max():
            break
        c32, err = screened[i].copy(), full[i]
    return c32, err


def fit_errors(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray, weights: np.ndarray,
               errors, cfg: FitConfig = FitConfig()) -> tuple[Program, np.ndarray]:
    """Fit the constants of `p`; return the fitted program and its per-point errors on x.

    weights: 1/ulp (or 1/|v|) per point, so residuals are in the error's unit.
    errors(y, points) -> per-point error, under the scorer's metric, of outputs y
    at x[points].
    """
    nt = compiled(p, cfg)

    def errors_at(consts: np.ndarray, points: np.ndarray) -> np.ndarray:
        if nt is not None:  # compiled: bit for bit the interpreter
            return errors(nt[0].evaluate32(nt[1], x[points], consts), points)
        return errors(evaluate(p, x[points], np.float32, consts), points)

    everything = np.arange(x.size)
    if not p.const_slots:
        return p, errors_at(p.constants[None, :], everything)[0]
    # The float64 stages see every few points (with both ends): cheaper, and the
    # float32 polish below judges on all of them.
    sub = everything[:: cfg.float64_stride]
    if sub[-1] != x.size - 1:
        sub = np.r_[sub, x.size - 1]
    x64, v64, w64 = x[sub].astype(np.float64), (hi + lo)[sub], weights[sub]
    with np.errstate(over="ignore"):
        c64 = fit_float64(p, x64, v64, w64, cfg, native_tape=nt)
        c = c64.astype(np.float32)
    if not np.all(np.isfinite(c)):
        c = p.constants.astype(np.float32)
    err = errors_at(c[None, :], everything)[0]
    if c.size > 1 and err.max() < cfg.round_below:
        with np.errstate(over="ignore"):
            c_turn = round_in_turn(p.with_constants(c64), x64, v64, w64, cfg, nt)
        if np.all(np.isfinite(c_turn)):
            err_turn = errors_at(c_turn[None, :], everything)[0]
            if err_turn.max() < err.max():
                c, err = c_turn, err_turn
    if err.max() < cfg.polish_below:
        c, err = polish_float32(c, err, errors_at, cfg)
    return p.with_constants(c.astype(np.float64)), err


def fit_float32(p: Program, pts: PointSet, weights: np.ndarray, errors, cfg: FitConfig) -> tuple[Program, np.ndarray]:
    """The float32 platform's fitter (evo.platforms): fit_errors on a point set."""
    return fit_errors(p, pts.x, pts.hi, pts.lo, weights, errors, cfg)


def fit(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray, weights: np.ndarray,
        errors, cfg: FitConfig = FitConfig()) -> tuple[Program, float]:
    """fit_errors, reporting only the max error on x."""
    fitted, err = fit_errors(p, x, hi, lo, weights, errors, cfg)
    return fitted, float(err.max())
