"""The small formats' platforms: bfloat16 and float16 in and out (every input checked, 65,536
at most), and float32 in, bfloat16 out (FlashAttention's softmax stores exp2 of a float32 in
bfloat16). A program computes in float32, as GPUs and FlashAttention compute activations;
its result is rounded once to the format and judged by whether that is the correctly rounded
value (evo.core.formats): what is fitted is the distance from it, so fitting aims at the
rounding intervals, not at the real values."""
from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from targets import Target

from ..classical.baselines import baselines as classical_baselines
from ..classical.baselines import checked
from ..codegen.code import Provenance
from ..core.ir import Program
from ..core.platform import Platform
from ..errors import EvoError
from ..core.scoring import Scorer
from ..core.formats import FORMATS
from ..fit.rounding import fit_rounding
from ..verification.formats import verify_format
from .float32 import FLOAT32


def _row(name: str, summary: str, output: str, inputs: str) -> Platform:
    # correct rounding is decided exactly only on a small input format; on float32 inputs the
    # reference is float64 (a result within ~1e-16 of a midpoint could be misjudged), so the
    # goal there is faithful, and misrounded counts are figures, not a proof
    row = replace(FLOAT32, name=name, summary=summary, input_format=inputs, output_format=output,
                  metrics=("cr",), semantics=("interp",), fit=partial(fit_rounding, fmt=FORMATS[output]),
                  verify=partial(verify_format, output_format=output, input_format=inputs),
                  goals=("faithful", "correctly-rounded") if inputs else ("faithful",), display="rounding",
                  exhaustive_over=f"every {inputs or 'float32'} input of the interval")
    return replace(row, baselines=partial(_baselines, platform=row), provenance=partial(_provenance, platform=row),
                   export=partial(_export, platform=row))


def _provenance(p: Program, target: Target, source: str, member: Any = None, *, platform: Platform,
                **options: Any) -> Provenance:
    """What an export header says: the figures in the output format, where every input was checked."""
    prov = FLOAT32.provenance(p, target, source, member=member, **options)
    e = member.exhaustive if member is not None else None
    out, inputs = platform.output_format, platform.input_format or "float32"
    if e and "not_correctly_rounded" in e:
        said = (f"as a {out} function (the float32 result rounded once to {out}): {e['not_correctly_rounded']:,} "
                f"of {e['inputs']:,} {inputs} inputs of the interval not correctly rounded, max error "
                f"{float(e.get('rounded_max_ulp', e['max_ulp'])):.4g} {out} ULP (every input checked); "
                f"the code returns the float32 result: round it to {out}")
    else:
        said = (f"as a {out} function: not verified on every input (run `evo verify`); the code returns the "
                f"float32 result: round it to {out}")
    return replace(prov, accuracy=said)


def _export(p: Program, target: Target, lang: str, full_range: bool = False, *, platform: Platform,
            **options: Any) -> str:
    if full_range:
        raise EvoError(f"a {platform.name} kernel has no float32 full-range export: evo lib --format "
                       f"{platform.output_format} writes the ready correctly rounded functions")
    return FLOAT32.export(p, target, lang, **options)


def _baselines(target: Target, *, platform: Platform, check: str = "cached", progress: Any = None,
               **options: Any) -> list:
    """The classical forms, fitted as float32 programs and judged as this platform judges (with
    their exhaustive checks: check "cached" those already made, "all", "none")."""
    rows = classical_baselines(target, Scorer(target, platform), **options)
    return checked(rows, target, platform.verify, platform.name, check, progress)


BFLOAT16 = _row("bfloat16", "float32 programs rounded once to bfloat16, every bfloat16 input judged by correct rounding",
                "bfloat16", "bfloat16")
FLOAT16 = _row("float16", "float32 programs rounded once to float16, every float16 input judged by correct rounding",
               "float16", "float16")
FLOAT32_BFLOAT16 = _row("float32-bfloat16", "float32 inputs, float32 programs, a result rounded once to bfloat16",
                        "bfloat16", "")
