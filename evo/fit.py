"""Constant fitting: where accuracy comes from.

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

Reals mode (dtype float64, evo.reals) has no lattice: `fit_reals` runs stages 1-2
in float64 from a few starts (the inherited constants, log-scale draws, and for a
program ending in squarings a core fitted to f^(1/2^s)), then finishes the best: a
least-squares run to convergence where it may reach the front (a search says where),
and a sequential linear program on the error's peaks (it converges to the minimax
where Lawson crawls) on double-double residuals, so errors near 1e-15 are fitted, not
float64 rounding noise.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

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
    round_below: float = 8.0     # round one constant at a time only for candidates within this,
    round_lm_iters: int = 3      # re-fitting the others with this many LM...
    round_minimax_iters: int = 8  # ...and Lawson steps after each rounding
    # Reals mode (float64 programs judged as real functions, evo.reals):
    reals_restarts: int = 1      # extra fits from constants drawn on a log scale
    # The best start's Levenberg-Marquardt run to convergence (MINPACK), at most this many steps
    # (0: none), if its max error is under `reals_lm_below`. A search sets that per child to
    # `reals_lm_within` times the front's error at the child's op count: run on every child,
    # the convergence run took ~90% of a 110-minute exp2 run's fitting time (README, reals mode).
    reals_lm_evals: int = 1500
    reals_lm_below: float = 1.0
    reals_lm_within: float = 100.0
    slp_iters: int = 6           # sequential-LP minimax steps on the error's peaks...
    slp_below: float = 1e-5      # ...for candidates already within this max relative error


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


def _weighted(p: Program, x: np.ndarray, v: np.ndarray, w: np.ndarray, c: np.ndarray,
              free: np.ndarray | None = None):
    y, jac = forward(p, x, c)
    if free is not None:
        jac = jac * free[:, None]     # held constants get no step
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


def fit_float64(p: Program, x: np.ndarray, v: np.ndarray, w: np.ndarray, cfg: FitConfig,
                free: np.ndarray | None = None) -> np.ndarray:
    """Stages 1-2: constants minimising the weighted max error in float64 (only the
    `free` ones, a 0/1 mask, when given; the others keep their values)."""
    c = p.constants.copy()
    r, jac = _weighted(p, x, v, w, c, free)
    if not np.all(np.isfinite(r)) or not np.all(np.isfinite(jac)):
        return c
    # 1. Levenberg-Marquardt on the sum of squares.
    lam, cost = 1e-3, float(r @ r)
    for _ in range(cfg.lm_iters):
        d = _step(r, jac, lam)
        c_new = c + d
        r_new, jac_new = _weighted(p, x, v, w, c_new, free)
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
        r_new, jac_new = _weighted(p, x, v, w, c_new, free)
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


def round_in_turn(p: Program, x: np.ndarray, v: np.ndarray, w: np.ndarray, cfg: FitConfig) -> np.ndarray:
    """Stage 3, one at a time: round to float32 the free constant whose half-ULP moves
    the weighted output most, re-fit the others around it, until all are rounded."""
    c = p.constants.astype(np.float64)
    free = np.ones(c.size)
    # Each re-fit starts at the optimum moved by one rounding: a few steps suffice.
    refit = replace(cfg, lm_iters=cfg.round_lm_iters, minimax_iters=cfg.round_minimax_iters)
    while free.any():
        _, jac = _weighted(p, x, v, w, c)
        with np.errstate(all="ignore"):
            half_ulp = np.spacing(np.abs(c).astype(np.float32)).astype(np.float64) / 2
            damage = np.where(free > 0, np.nan_to_num(np.abs(jac).max(axis=1) * half_ulp, nan=np.inf), -1.0)
        k = int(np.argmax(damage))
        c[k], free[k] = np.float32(c[k]), 0.0
        if free.any():
            c = fit_float64(p.with_constants(c), x, v, w, refit, free)
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
               errors, dtype: type = np.float32, cfg: FitConfig = FitConfig()) -> tuple[Program, np.ndarray]:
    """Fit the constants of `p`; return the fitted program and its per-point errors on x.

    weights: 1/ulp (or 1/|v|) per point, so residuals are in the error's unit.
    errors(y, points) -> per-point error, under the scorer's metric, of outputs y
    at x[points].
    """
    def errors_at(consts: np.ndarray, points: np.ndarray) -> np.ndarray:
        return errors(evaluate(p, x[points], dtype, consts), points)

    everything = np.arange(x.size)
    if dtype == np.float64:
        return fit_reals(p, x, hi, lo, cfg)
    if not p.const_slots:
        return p, errors_at(p.constants[None, :], everything)[0]
    # The float64 stages see every few points (with both ends): cheaper, and the
    # float32 polish below judges on all of them.
    sub = np.unique(np.r_[everything[:: cfg.float64_stride], x.size - 1])
    x64, v64, w64 = x[sub].astype(np.float64), (hi + lo)[sub], weights[sub]
    with np.errstate(over="ignore"):
        c64 = fit_float64(p, x64, v64, w64, cfg)
        c = c64.astype(dtype)
    if not np.all(np.isfinite(c)):
        c = p.constants.astype(dtype)
    err = errors_at(c[None, :], everything)[0]
    if dtype == np.float32 and c.size > 1 and err.max() < cfg.round_below:
        with np.errstate(over="ignore"):
            c_turn = round_in_turn(p.with_constants(c64), x64, v64, w64, cfg)
        if np.all(np.isfinite(c_turn)):
            err_turn = errors_at(c_turn[None, :], everything)[0]
            if err_turn.max() < err.max():
                c, err = c_turn, err_turn
    if dtype == np.float32 and err.max() < cfg.polish_below:
        c, err = polish_float32(c, err, errors_at, cfg)
    return p.with_constants(c.astype(np.float64)), err


# -- reals mode -------------------------------------------------------------------------

def fit_reals(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray,
              cfg: FitConfig = FitConfig()) -> tuple[Program, np.ndarray]:
    """Constants of `p` minimising the max relative error of its real-number function
    (double-double residuals); the fitted program and its per-point relative errors."""
    from .reals import relative_errors

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
    from .reals import evaluate_dd

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


def fit(p: Program, x: np.ndarray, hi: np.ndarray, lo: np.ndarray, weights: np.ndarray,
        errors, dtype: type = np.float32, cfg: FitConfig = FitConfig()) -> tuple[Program, float]:
    """fit_errors, reporting only the max error on x."""
    fitted, err = fit_errors(p, x, hi, lo, weights, errors, dtype, cfg)
    return fitted, float(err.max())
