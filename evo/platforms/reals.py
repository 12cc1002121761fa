"""The reals platform (`--reals`): programs of + - * / with float64 constants, judged as
real-number functions (evaluated in double-double) by their max relative error, shown as
significant digits, and certified by interval arithmetic at the end of a search."""
from __future__ import annotations

from typing import Any

import numpy as np

from targets import Target

from ..codegen.reals import LANGS, RealsProvenance, export_reals, measured_provenance
from ..core.doubledouble import evaluate_dd
from ..core.ir import Program
from ..core.platform import Platform
from ..fit.reals import fit_reals_points
from ..reals.baselines import reals_baselines
from ..reals.certify import CERTIFY_BELOW, certify_member

# Over the reals fma(a, b, c) is a*b + c, two ops: not in the reals op set (the
# classical counts, and AutoNumerics-Zero's, are of + - * /).
REALS_OPS: tuple[str, ...] = ("add", "sub", "mul", "div")


def provenance(p: Program, target: Target, source: str, member: Any = None, measure: str = "",
               progress: Any = None, seed: int | None = None) -> RealsProvenance:
    """A member's certified bound, else a fresh certificate; sampled and float64 maxima
    from the dense sample."""
    return measured_provenance(p, target, source, member.certified_max_rel if member is not None else None)


REALS = Platform(
    name="reals",
    summary="programs of + - * / with float64 constants, judged as real-number functions by max relative error",
    dtype=np.float64,
    ops=REALS_OPS,
    unit="rel",
    metrics=("relative",),
    semantics=("interp",),
    evaluate=evaluate_dd,
    fit=fit_reals_points,
    display="digits",
    exhaustive_over="no exhaustive check over the reals (the certified bound proves every x)",
    # a share of insertions square a value (x^8 range reconstruction), division is offered
    # as often as the other ops (continued fractions), and a third of the changes of
    # variable are x -> x + c/x
    mutation=(("square", 0.15), ("op_weights", (("div", 1.0),)), ("reciprocal", 1 / 3)),
    deep_fit=True,
    certify=certify_member,
    certify_below=CERTIFY_BELOW,
    finish=("remeasure", "certify"),
    baselines=reals_baselines,
    provenance=provenance,
    export=export_reals,
    export_langs=LANGS,
)
