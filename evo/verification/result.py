"""What an exhaustive check reports (both verifiers, evo verify, the search's checks)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..core.numbers import json_float


@dataclass(frozen=True)
class VerifyResult:
    max_ulp: float
    mean_ulp: float
    argmax: float
    not_correctly_rounded: int
    inputs: int
    seconds: float
    interval: tuple[float, float]
    reference: str = "float64 numpy (error ~1e-9 float32 ULP)"
    exhaustive: bool = True
    cross_checked: int = 0  # inputs also run through the interpreter, bit-exact
    special_values: tuple[dict, ...] = ()   # a function's special inputs: expected vs got (evo.verification.functions)
    computed_by: str = ""                   # what ran the function, where not the interpreter's semantics (XLA ...)
    # The numpy yardstick also measures apart the inputs whose correctly rounded result is a
    # nonzero subnormal (XLA on CPU flushes them to 0): the max over the others, their count,
    # and how many of them came out 0. None where not measured (the fused verifier).
    max_ulp_normal: float | None = None
    argmax_normal: float | None = None
    subnormal_results: int | None = None
    flushed_to_zero: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["max_ulp"], d["mean_ulp"] = json_float(self.max_ulp), json_float(self.mean_ulp)
        if self.max_ulp_normal is not None:
            d["max_ulp_normal"] = json_float(self.max_ulp_normal)
        for k in ("computed_by", "max_ulp_normal", "argmax_normal", "subnormal_results", "flushed_to_zero"):
            if d[k] in (None, ""):
                del d[k]
        d["interval"] = list(self.interval)
        if not self.special_values:
            del d["special_values"]
        else:
            d["special_values"] = list(self.special_values)
        return d
