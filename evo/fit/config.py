"""Settings of constant fitting (part of a search's config)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FitConfig:
    # The float64 stages (Levenberg-Marquardt, Lawson) by the compiled fitter (evo.fit.native);
    # False: the numpy path (evo.fit.lm), which also serves any program the compiled one cannot run.
    native: bool = True
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
    # Reals mode (float64 programs judged as real functions, evo.platforms.reals):
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
    # Small formats (evo.fit.rounding): the minimax distance from the correctly rounded values
    # by LP, for candidates already within this many of the format's spacings.
    cr_lp_below: float = 2.0
