"""The platforms: one row per number format (evo.core.platform.Platform), chosen once per
run and saved in its config.json. To add a format: a module here with its row, registered
below, plus the rows of the few tables keyed by a platform's `display` (evo.runs.plots,
the CLI's tables) if it displays errors in a new way."""
from __future__ import annotations

from ..core.platform import Platform
from ..errors import EvoError
from .float32 import FLOAT32
from .float32_xla import FLOAT32_XLA
from .reals import REALS
from .small import BFLOAT16, FLOAT16, FLOAT32_BFLOAT16

PLATFORMS: dict[str, Platform] = {p.name: p for p in (FLOAT32, FLOAT32_XLA, REALS, BFLOAT16, FLOAT16,
                                                     FLOAT32_BFLOAT16)}
DEFAULT = FLOAT32.name


def get_platform(name: str) -> Platform:
    """The row named `name`; one-line error naming the known ones otherwise."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise EvoError(f"unknown format {name!r} (known: {', '.join(PLATFORMS)})") from None


def legacy_platform(dtype: str | None) -> str:
    """The platform of a run recorded before platforms existed (its config.json or front.json
    said only "dtype"): float64 was reals mode."""
    return REALS.name if dtype == "float64" else FLOAT32.name


def platform_of_semantics(platform: str, semantics: str) -> str:
    """Scoring under XLA's own arithmetic (`--semantics xla`) is the float32-xla platform."""
    return FLOAT32_XLA.name if platform == FLOAT32.name and semantics in FLOAT32_XLA.semantics else platform


__all__ = ["PLATFORMS", "DEFAULT", "Platform", "get_platform", "legacy_platform", "platform_of_semantics", "FLOAT32",
           "FLOAT32_XLA", "REALS", "BFLOAT16", "FLOAT16", "FLOAT32_BFLOAT16"]
