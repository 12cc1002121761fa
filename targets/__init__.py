"""Functions to approximate: reference values, intervals, registry. Imports only primitives."""
from .registry import (
    TARGETS,
    Target,
    TargetError,
    get_target,
    parse_interval,
    target_from_dict,
)
from .truth import cache_dir

__all__ = ["TARGETS", "Target", "TargetError", "get_target", "parse_interval", "target_from_dict", "cache_dir"]
