"""The float64 stages of fitting, shared by every platform's fitter: Levenberg-Marquardt
on weighted residuals and Lawson's reweighting toward the minimax, with the Jacobian by
forward-mode differentiation through the op table (the walker's dual-number domain)."""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from primitives import OPS, Op

from ..core.ir import CONST, Program, X
from ..core.walk import walk
from .config import FitConfig
from .native import Native, Tape, compiled_ops, native, tape


def _dual(op: Op, k: int, n: int) -> Callable[..., tuple]:
    """The op on dual numbers (value, gradient by the k constants at n points): float64
    values by the op table's f64 column, gradients by its partials (chain rule). A
    gradient is None (no constant below), an int (that constant itself: its row of the
    identity, added straight into its consumer's rows), or a (k, n) array."""
    f, partials = op.f64, op.partials

    def apply(*args: tuple) -> tuple:
        vals = [a[0] for a in args]
        y = f(*vals)
        if all(a[1] is None for a in args):
            return y, None
        g = np.zeros((k, n))
        for d, (_, ga) in zip(partials(*vals), args):
            if ga is None:
                continue
            if isinstance(ga, int):
                g[ga] += d
            else:
                g += d * ga
        return y, g

    return apply


@lru_cache(maxsize=256)
def dual_table(k: int, n: int) -> dict[str, Callable[..., tuple]]:
    """The dual-number domain of the program walker, for k constants at n points."""
    return {name: _dual(op, k, n) for name, op in OPS.items() if op.partials is not None}


def forward(p: Program, x: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 value and Jacobian d y / d constants (shape (n_const, len(x))), by
    forward-mode differentiation through the op table (dual numbers)."""
    k = len(p.const_slots)
    index = p.const_index
    with np.errstate(all="ignore"):
        yv, go = walk(p, dual_table(k, x.size), (x, None), lambda i, v: (np.float64(c[index[i]]), index[i]))
        y = np.broadcast_to(yv, x.shape)
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


def compiled(p: Program, cfg: FitConfig) -> tuple[Native, Tape] | None:
    """The compiled fitter and the tape of `p`, where cfg asks for it and it runs `p`."""
    if not cfg.native:
        return None
    nat = native()
    t = tape(p) if nat is not None else None
    return None if t is None else (nat, t)


def numpy_fallback(p: Program, cfg: FitConfig) -> bool:
    """Whether fitting `p` under cfg asks for the compiled fitter and gets the numpy path
    (an op the compiled one lacks, or LLVM failed to build it)."""
    if not (cfg.native and p.const_slots):
        return False
    ops = compiled_ops()
    return native() is None or any(ins.op not in ops for _, ins in p.live if ins.op not in (X, CONST))


def weighted(p: Program, x: np.ndarray, v: np.ndarray, w: np.ndarray, c: np.ndarray, cfg: FitConfig,
             free: np.ndarray | None = None, native_tape: tuple[Native, Tape] | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted residuals (y - v) w and Jacobian, by the compiled fitter where it runs `p`
    (cfg.native; native_tape: `compiled(p, cfg)` if known), else by numpy."""
    nt = native_tape or compiled(p, cfg)
    if nt is not None:
        return nt[0].residuals(nt[1], x, v, w, c, free)
    return _weighted(p, x, v, w, c, free)


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
                free: np.ndarray | None = None, native_tape: tuple[Native, Tape] | None = None) -> np.ndarray:
    """Stages 1-2: constants minimising the weighted max error in float64 (only the
    `free` ones, a 0/1 mask, when given; the others keep their values). By the compiled
    fitter where it runs `p` (cfg.native; native_tape: `compiled(p, cfg)` if known); the numpy
    code below is its definition."""
    nt = native_tape or compiled(p, cfg)
    if nt is not None:
        return nt[0].fit(nt[1], x, v, w, p.constants, free, cfg.lm_iters, cfg.minimax_iters)
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
