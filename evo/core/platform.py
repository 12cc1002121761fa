"""What a number format is to evo: the `Platform` (after Herbie's platforms, where each
operation has its spec, implementation and cost in one place).

A platform is one number format with everything that depends on it: the type programs
compute in, the ops a search offers, the evaluator whose outputs are judged, the error
metrics and their unit, the mutation settings, the fitter, the verifier or certifier,
the classical baselines and the code an export writes. Its rows are in evo.platforms
(`float32`, `reals`); a run chooses one and saves its name in config.json. Code below
evo.platforms is handed the row it works for and asks it; nothing branches on a format.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Platform:
    name: str                        # config.json's "platform"
    summary: str                     # one line: what a program is and how it is judged
    dtype: type                      # numpy type of inputs, constants and values (float32, float64)
    ops: tuple[str, ...]             # the ops a search offers by default
    metrics: tuple[str, ...]         # error metrics offered (evo.core.scoring.METRICS); the first is the default
    unit: str                        # their unit, the key suffix of records (max_ulp, max_rel)
    semantics: tuple[str, ...]       # backends whose arithmetic a search may score under; the first is the default
    evaluate: Callable[..., Any]     # (program, x, constants=None) -> outputs the metrics judge
    fit: Callable[..., Any]          # (program, points, weights, errors, FitConfig) -> (program, per-point errors)
    # how errors are shown: "ulp" (max error), "digits" (-log10 relative error) or "rounding"
    # (a small format: the distance from the correctly rounded value, and the misrounded count)
    display: str
    # Small formats (evo.core.formats): the inputs are the format's values (then every one of
    # the interval is the validation set, so a check is exhaustive), and the output is rounded
    # once to it and judged by its correct rounding. "" = the dtype itself.
    input_format: str = ""
    output_format: str = ""
    # What a search's --goal may ask: "faithful" (under 1 ulp of the output), "correctly-rounded"
    # (every input), or a max error (any number, always offered).
    goals: tuple[str, ...] = ("faithful",)
    # What an exhaustive check covers, as the tables say it
    exhaustive_over: str = "every float32 of the interval"
    # Overrides of evo.evolution.mutate.MutationConfig (field, value); the platform's dtype folds constants.
    mutation: tuple[tuple[str, Any], ...] = ()
    # Whether children carry a deep-fit threshold (Task.deep_below) set from the front.
    deep_fit: bool = False
    # Exhaustive check of a program on every input of the interval: (program, target, progress, threads)
    # -> VerifyResult; None where the format has too many inputs to check (reals).
    verify: Callable[..., Any] | None = None
    # Proof of a bound on the error of a program's real-number function: (program, target) -> Certificate
    # (picklable: a search's end runs it in processes), for front members under `certify_below`.
    certify: Callable[..., Any] | None = None
    certify_below: float = 0.0
    # Steps after the evolution, in order (evo.evolution.finish.STEPS).
    finish: tuple[str, ...] = ()
    baselines: Callable[..., Any] | None = None      # (target, **options) -> classical rows, scored alike
    # What an export header says of a program: (program, target, source, member=None, measure="") -> provenance
    provenance: Callable[..., Any] | None = None
    export: Callable[..., Any] | None = None         # (program, target, lang, full_range, name, provenance) -> text
    export_langs: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Platform({self.name!r})"
