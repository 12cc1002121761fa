"""Shared pieces of the subcommands: loading programs, target options, JSON output."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import click

from targets import Target, get_target

from ..core.ir import Program, loads
from ..errors import EvoError


def load_program(path: str) -> Program:
    """Read a program JSON file (a bare program, or an object holding one under "program")."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise EvoError(f"{path}: no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise EvoError(f"{path}: cannot read: {e.__class__.__name__}") from None
    try:
        return loads(text)
    except EvoError as e:
        raise EvoError(f"{path}: {e}") from None


def target_options(required: bool = True) -> Callable:
    """--target NAME_OR_EXPR and --interval A,B."""

    def deco(f: Callable) -> Callable:
        f = click.option("--interval", metavar="A,B", help="Interval (default: the target's own).")(f)
        f = click.option("--target", "-t", "target", required=required, metavar="NAME|EXPR",
                         help="exp2, exp, log2, log, erf, or an mpmath expression in x.")(f)
        return f

    return deco


def resolve_target(name: str, interval: str | None) -> Target:
    return get_target(name, interval)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=_json_default)
    sys.stdout.write("\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
