"""The float32 platform: IEEE binary32 programs, the numpy interpreter's semantics
(round-to-nearest-even after every op, subnormals kept, fma with one rounding), judged in
ULPs against mpmath and verified on every float32 input of the interval."""
from __future__ import annotations

from typing import Any

import numpy as np

from primitives import DEFAULT_SEARCH_OPS
from targets import Target

from ..backends.registry import SEMANTICS_BACKENDS
from ..classical.baselines import baselines as classical_baselines
from ..classical.baselines import checked
from ..codegen import LANGS, Provenance, export_source
from ..core.interp import evaluate
from ..core.ir import Program
from ..core.platform import Platform
from ..core.scoring import Scorer
from ..fit.float32 import fit_float32
from ..verification.fused import verify_program


def _evaluate(p: Program, x: np.ndarray, constants: np.ndarray | None = None) -> np.ndarray:
    return evaluate(p, x, np.float32, constants)


def _baselines(target: Target, check: str = "cached", progress: Any = None, **options: Any) -> list:
    """The classical forms as float32 programs, scored on the validation sample as evolved ones
    are, with their exhaustive checks (check: "cached" those already made, "all", "none")."""
    rows = classical_baselines(target, Scorer(target, FLOAT32), **options)
    return checked(rows, target, verify_program, "float32", check, progress)


def provenance(p: Program, target: Target, source: str, member: Any = None, measure: str = "",
               progress: Any = None, seed: int | None = None) -> Provenance:
    """What an export header says of a program's accuracy: a member's exhaustive max where
    verified, else its validation max (marked sampled); for a bare program, measured now
    (measure "verify": every float32 of the interval; "sample": the validation sample) or not at all."""
    if member is not None:
        if member.exhaustive is not None:
            return Provenance(source=source, max_ulp=member.exhaustive_max, exhaustive=True,
                              inputs=member.exhaustive.get("inputs"), run=member.run, member=str(member.id), seed=seed,
                              computed_by=member.exhaustive.get("computed_by", ""))
        v = member.validation
        return Provenance(source=source, max_ulp=v.max if v else None, exhaustive=False,
                          inputs=(v.n or None) if v else None, run=member.run, member=str(member.id), seed=seed)
    if measure == "verify":
        r = verify_program(p, target, progress=progress)
        return Provenance(source=source, max_ulp=r.max_ulp, exhaustive=True, inputs=r.inputs)
    if measure == "sample":
        s = Scorer(target, FLOAT32).score(p, "validation")
        return Provenance(source=source, max_ulp=s.max, exhaustive=False, inputs=s.n)
    return Provenance(source=source)


FLOAT32 = Platform(
    name="float32",
    summary="IEEE binary32 programs (one rounding per op, subnormals kept, fma fused), judged in ULPs",
    dtype=np.float32,
    ops=DEFAULT_SEARCH_OPS,
    unit="ulp",
    metrics=("ulp", "fixed"),
    semantics=tuple(b for b in SEMANTICS_BACKENDS if b != "xla"),  # xla: the float32-xla platform
    evaluate=_evaluate,
    fit=fit_float32,
    display="ulp",
    verify=verify_program,
    finish=("remeasure", "verify"),
    baselines=_baselines,
    provenance=provenance,
    export=export_source,
    export_langs=LANGS,
)
