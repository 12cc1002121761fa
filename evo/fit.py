"""Constant fitting: where accuracy comes from.

Three stages, each cheap enough to run on every structurally new child:
1. Levenberg-Marquardt on the ULP-weighted residuals in float64 (warm start
   from the inherited constants; Jacobian by forward-mode differentiation
   through the op table's `partials`).
2. Minimax refinement by Lawson's iteratively reweighted least squares
   (Gauss-Newton steps whose point weights grow where the error is largest).
3. Polish on the float32 lattice: round the constants, then step each a few
   float32 ULPs at a time and keep what lowers the true float32 max error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from primitives import OPS

from .interp import evaluate
from .ir import CONST, X, Program, live_instrs


@dataclass(frozen=True)
class FitConfig:
    lm_iters: int = 40
    minimax_iters: int = 24
    float64_stride: int = 3      # LM and Lawson use every 3rd training point
    polish_rounds: int = 6
    polish_steps: tuple[int, ...] = (1, 3, 16)     # float32 ULPs tried per constant
    polish_points: int = 160     # candidates are screened on the points of largest error...
    polish_confirm: int = 3      # ...and the best few confirmed on all points
    polish_below: float = 64.0   # polish only candidates already within this max error


def forward(p: Program, x: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 value and Jacobian d y / d constants (shape (n_const, len(x))).

    Gradients are carried only for slots that depend on a constant; a constant's
    own gradient is a row index, added straight into its consumer's rows.
    """
    slots = p.const_slots
    k = len(slots)
    index = {s: j for j, s in enumerate(slots)}
    vals: list = [None] * len(p.instrs)
    grads: list = [None] * len(p.instrs)  # None: no constant below; int: that constant; array (k, n)
    with np.errstate(all="ignore"):
        for i, ins in live_instrs(p):
            if ins.op == X:
                vals[i] = x
            elif ins.op == CONST:
                vals[i], grads[i] = np.float64(c[index[i]]), index[i]
            else:
                op = OPS[ins.op]
                args = [vals[a] for a in ins.args]
                vals[i] = op.f64(*args)
                if all(grads[a] is None for a in ins.args):
                    continue
                parts = op.partials(*args)
                g = np.zeros((k, x.size))
                for d, a in zip(parts, ins.args):
                    ga = grads[a]
                    if ga is None:
                        continue
                    if isinstance(ga, int):
                        g[ga] += d
                    else:
                        g += d * ga
                grads[i] = g
        y = np.broadcast_to(vals[p.output], x.shape)
        go = grads[p.output]
        if go is None:
            jac = np.zeros((k, x.size))
        elif isinstance(go, int):
            jac = np.zeros((k, x.size))
            jac[go] = 1.0
        else:
            jac = go
    return y, jac


def _weighted(p: Program, x: np.ndarray, v: np.ndarray, w: np.ndarray, c: np.ndarray):
    y, jac = forward(p, x, c)
    return (y - v) * w, jac * w


def _step(r: np.ndarray, jac: np.ndarray, lam: float, u: np.ndarray | None = None) -> np.ndarray:
    """Damped Gauss-Newton step for min sum u_i (r_i + J_i d)^2."""
    with np.errstate(all="ignore"):
        if u is not None:
            s = np.sqrt(u)
            r, jac = r * s, jac * s
        a = jac @ jac.T
        g = jac @ r
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(g))):
        return np.zeros_like(g)
    diag = np.diag(a).copy()
    diag[diag == 0] = 1.0
    try:
        return -np.linalg.solve(a + lam * np.diag(diag), g)
    except np.linalg.LinAlgError:
        return np.zeros_like(g)


def _max_abs(r: np.ndarray) -> float:
    m = float(np.max(np.abs(r))) if r.size else 0.0
    return m if np.isfinite(m) else np.inf


def fit_float64(p: Program, x: np.ndarray, v: np.ndarray, w: np.ndarray, cfg: FitConfig) -> np.ndarray:
    """Stages 1-2: constants minimising the weighted max error in float64."""
    c = p.constants.copy()
    r, jac = _weighted(p, x, v, w, c)
    if not np.all(np.isfinite(r)) or not np.all(np.isfinite(jac)):
        return c
    # 1. Levenberg-Marquardt on the sum of squares.
    lam, cost = 1e-3, float(r @ r)
    for _ in range(cfg.lm_iters):
        d = _step(r, jac, lam)
        c_new = c + d
        r_new, jac_new = _weighted(p, x, v, w, c_new)
        cost_new = float(r_new @ r_new) if np.all(np.isfinite(r_new)) else np.inf
        if cost_new < cost:
            done = cost - cost_new < 1e-7 * cost
            c, r, jac, cost, lam = c_new, r_new, jac_new, cost_new, max(lam / 3, 1e-12)
            if done:
                break
        else:
            lam *= 8
            if lam > 1e8:
                break
    # 2. Lawson: reweight toward the largest errors, keep the best max error seen.
    best_c, best = c, _max_abs(r)
    u = np.full(r.size, 1.0 / r.size)
    stale = 0
    for _ in range(cfg.minimax_iters):
        c_new = c + _step(r, jac, 1e-9, u)
        r_new, jac_new = _weighted(p, x, v, w, c_new)
        m = _max_abs(r_new)
        if not np.isfinite(m):
            break
        c, r, jac = c_new, r_new, jac_new
        if m < best * (1 - 1e-4):
            stale = 0
        else:
            stale += 1
            if stale >= 6:
                break
        if m < best:
            best_c, best = c, m
        u = u * np.abs(r)
        total = u.sum()
        if not total > 0:
            break
        u /= total
    return best_c


def polish_float32(c32: np.ndarray, err: np.ndarray, errors_at, cfg: FitConfig) -> tuple[np.ndarray, np.ndarray]:
    """Stage 3: coordinate search over float32 neighbours of the constants.

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
               errors, dtype: type = np.float32, cfg: FitConfig = FitConfig()) -> tuple[Program, np.ndarray]:
    """Fit the constants of `p`; return the fitted program and its per-point errors on x.

    weights: 1/ulp (or 1/|v|) per point, so residuals are in the error's unit.
    errors(y, points) -> per-point error, under the scorer's metric, of outputs y
    at x[points].
    """
    def errors_at(consts: np.ndarray, points: np.ndarray) -> np.ndarray:
        return errors(evaluate(p, x[points], dtype, consts), points)

    everything = np.arange(x.size)
    if not p.const_slots:
        return p, errors_at(p.constants[None, :], everything)[0]
    # The float64 stages see every few points (with both ends): cheaper, and the
    # float32 polish below judges on all of them.
    sub = np.unique(np.r_[everything[:: cfg.float64_stride], x.size - 1])
    with np.errstate(over="ignore"):
        c = fit_float64(p, x[sub].astype(np.float64), (hi + lo)[sub], weights[sub], cfg).astype(dtype)
    if not np.all(np.isfinite(c)):
        c = p.constants.astype(dtype)
    err = errors_at(c[None, :], everything)[0]
    if dtype == np.float32 and err.max() < cfg.polish_below:
        c, err = polish_float32(c, err, errors_at, cfg)
    return p.with_constants(c.astype(np.float64)), err


def fit(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray, weights: np.ndarray,
        errors, dtype: type = np.float32, cfg: FitConfig = FitConfig()) -> tuple[Program, float]:
    """fit_errors, reporting only the max error on x."""
    fitted, err = fit_errors(p, x, hi, lo, weights, errors, dtype, cfg)
    return fitted, float(err.max())
