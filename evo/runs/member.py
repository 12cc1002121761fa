"""The one record of a program the search kept: `Member`.

The search ranks members, checkpoints save them, front.json, `evo front`, the
plots and the Python API read them: all through this class, so nobody guesses
keys. A member's errors are labelled by where they were measured:

  train       max over the (growing) training set: what the search fitted on
  validation  max over the fixed validation sample (16,382 points)
  exhaustive  max over every float32 of the interval (`evo verify`)

All three are maxima over real inputs, so each is a lower bound of the true max
error; `error` is the best one known (exhaustive where verified, else the larger
of train and validation) and `error_on` says which it is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.ir import Program, from_dict, render, to_dict
from ..core.numbers import digits, json_float
from ..core.platform import Platform
from ..core.scoring import ErrorStats

if TYPE_CHECKING:
    from targets import Target

ERROR_KINDS = ("exhaustive", "validation", "train")


def _num(v: Any) -> float:
    """A JSON error figure ("inf" is stored as a string) as a float."""
    return float(v)


@dataclass(eq=False)
class Member:
    """Mutable on purpose: one object is shared by an island's population, its front
    and the whole-run archive, and its known errors grow as the search learns more
    (the training set grows, a check finishes); updating it once updates it everywhere."""

    id: int
    program: Program
    cost: float
    train: ErrorStats                    # max over the training set, grown as the search learns
    parent: int | None = None
    mutation: str = "seed"
    island: int = 0
    validation: ErrorStats | None = None
    exhaustive: dict | None = None       # evo.verification.result.VerifyResult.to_dict()
    remeasured: dict | None = None       # measured cost timed again (median, spread)
    certified_max_rel: float | None = None   # reals mode: proven bound on the max relative error (evo.reals.certify)
    # Where it belongs (not part of the record): set by whoever reads a front, for export.
    target: "Target | None" = field(default=None, repr=False)
    run: str | None = field(default=None, repr=False)
    platform: Platform | None = field(default=None, repr=False)

    # -- the figures the search ranks by -------------------------------------------------
    @property
    def exhaustive_max(self) -> float | None:
        return _num(self.exhaustive["max_ulp"]) if self.exhaustive else None

    @property
    def error(self) -> float:
        """The best known max error: exhaustive where verified, else the larger sampled one."""
        if self.exhaustive:
            return _num(self.exhaustive["max_ulp"])
        return max(self.train.max, self.validation.max) if self.validation else self.train.max

    @property
    def error_on(self) -> str:
        """Where `error` was measured: exhaustive, validation or train."""
        if self.exhaustive:
            return "exhaustive"
        return "validation" if self.validation and self.validation.max >= self.train.max else "train"

    @property
    def best_figures(self) -> tuple[float, float | None, float | None]:
        """(max, mean, argmax) of the measurement `error` comes from (`error_on`)."""
        if self.exhaustive:
            e = self.exhaustive
            return (_num(e["max_ulp"]), _num(e["mean_ulp"]) if e.get("mean_ulp") is not None else None,
                    e.get("argmax"))
        s = self.validation if self.error_on == "validation" else self.train
        return (s.max, s.mean, s.argmax)

    @property
    def point(self) -> tuple[float, float]:
        return (self.error, self.cost)

    @property
    def ops(self) -> int:
        return self.program.n_ops

    @property
    def expression(self) -> str:
        return render(self.program)

    # -- the record (front.json, checkpoints) ----------------------------------------------
    def to_dict(self, platform: Platform) -> dict:
        """The record, its figures keyed in the platform's unit (max_ulp, max_rel)."""
        unit, v = platform.unit, self.validation
        return {
            "id": self.id, "cost": self.cost, "ops": self.ops, "island": self.island,
            "error": json_float(self.error), "error_on": self.error_on,
            "train": self.train.to_dict(unit),
            "validation": v.to_dict(unit) if v else None,
            "verified": self.exhaustive,
            # flat figures: those of the best known error (`error`, measured on `error_on`), so
            # max_ulp is never a sampled figure where an exhaustive one exists (README: front.json)
            **{k: json_float(x) if isinstance(x, float) else x for k, x in zip(
                (f"max_{unit}", f"mean_{unit}", "argmax"), self.best_figures)},
            "train_max": json_float(self.train.max),
            "exhaustive_max_ulp": json_float(self.exhaustive_max) if self.exhaustive else None,
            "remeasured_cost": self.remeasured,
            "certified_max_rel": self.certified_max_rel,
            **DISPLAY_FIGURES[platform.display](self),
            "expression": self.expression, "program": to_dict(self.program),
            "parent": self.parent, "mutation": self.mutation,
        }

    @staticmethod
    def from_dict(d: dict) -> "Member":
        """Read a record of format evo-front/2, or evo-front/1 (flat validation figures)."""
        unit = "rel" if "max_rel" in d else "ulp"
        if isinstance(d.get("train"), dict):
            train = _stats(d["train"], unit)
            validation = _stats(d["validation"], unit) if d.get("validation") else None
        else:  # evo-front/1: validation figures flat, the train max at most
            # (inputs 0: not recorded; the train mean and argmax were not kept)
            validation = ErrorStats(_num(d[f"max_{unit}"]), _num(d[f"mean_{unit}"]), float(d["argmax"]), 0) \
                if d.get(f"max_{unit}") is not None else None
            tmax = _num(d["train_max"]) if d.get("train_max") is not None else validation.max
            train = ErrorStats(tmax, tmax, 0.0, 0)
        return Member(id=d["id"], program=from_dict(d["program"]), cost=float(d["cost"]), train=train,
                      parent=d.get("parent"), mutation=d.get("mutation", ""), island=int(d.get("island", 0)),
                      validation=validation, exhaustive=d.get("verified"),
                      remeasured=d.get("remeasured_cost"), certified_max_rel=d.get("certified_max_rel"))


def _digits(rel: float | None) -> float | None:
    """Significant digits of a max relative error: -log10(rel)."""
    return None if rel is None else json_float(round(digits(rel), 3))


# Figures a record adds, by how its platform displays errors (Platform.display).
DISPLAY_FIGURES = {
    "ulp": lambda m: {},
    "digits": lambda m: {"digits": _digits(m.error), "certified_digits": _digits(m.certified_max_rel)},
    "rounding": lambda m: {k: m.exhaustive.get(k) for k in ("not_correctly_rounded", "rounded_max_ulp")}
    if m.exhaustive else {},
}


def _stats(d: dict, unit: str) -> ErrorStats:
    argmax = float("nan") if d["argmax"] is None else float(d["argmax"])
    return ErrorStats(_num(d[f"max_{unit}"]), _num(d[f"mean_{unit}"]), argmax, int(d["inputs"]))
