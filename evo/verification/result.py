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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["max_ulp"], d["mean_ulp"] = json_float(self.max_ulp), json_float(self.mean_ulp)
        d["interval"] = list(self.interval)
        if not self.special_values:
            del d["special_values"]
        else:
            d["special_values"] = list(self.special_values)
        return d
