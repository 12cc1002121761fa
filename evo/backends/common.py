"""What every backend shares: its errors, the structure key, and probe findings."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from primitives import OPS

from ..core.ir import CONST, Program, X, live_instrs, reachable, render
from ..errors import EvoError


class LoweringError(EvoError):
    """A program the backend cannot lower (unknown op, or the op table has no lowering for it)."""


class CompileError(EvoError):
    """The backend failed to compile a lowered program; carries the program."""

    def __init__(self, backend: str, p: Program, cause: BaseException) -> None:
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        super().__init__(f"{backend} backend failed to compile program {p.hash()} ({render(p)}): "
                         f"{type(cause).__name__}: {first}")
        self.backend, self.program, self.cause = backend, p, cause


def op_row(name: str, backend: str, column: str) -> Any:
    """The op table's `column` entry for op `name`, or a LoweringError naming op and backend."""
    op = OPS.get(name)
    if op is None:
        raise LoweringError(f"op {name!r} cannot be lowered by the {backend} backend: not in the op table")
    impl = getattr(op, column, None)
    if impl is None:
        raise LoweringError(f"op {name!r} cannot be lowered by the {backend} backend: "
                            f"the op table has no {column!r} entry for it")
    return impl


def check_lowerable(p: Program, backend: str, column: str) -> None:
    """LoweringError for the first live op the backend has no `column` entry for
    (before anything hashes the program, which needs every op in the table)."""
    for _, ins in live_instrs(p):
        if ins.op not in (X, CONST):
            op_row(ins.op, backend, column)


def structure_key(p: Program) -> str:
    """Hash of the program with its constant values left out: one compile (or one
    speed measurement) serves every constant set of the same structure."""
    text = ";".join(f"{i}:{ins.op}{ins.args}" for i, ins in live_instrs(p))
    return hashlib.sha256(f"{text}->{p.output}".encode()).hexdigest()[:16]


def constant_values(p: Program) -> dict[int, np.float32]:
    """Values of the live x-independent slots under interpreter (float32) semantics."""
    dep, live = p.x_dependent(), reachable(p)
    vals: dict[int, np.float32] = {}
    with np.errstate(all="ignore"):
        for i, ins in enumerate(p.instrs):
            if not live[i] or dep[i]:
                continue
            if ins.op == CONST:
                vals[i] = np.float32(ins.value)
            elif ins.op != X:
                out = OPS[ins.op].f32(*(np.array([vals[a]], np.float32) for a in ins.args))
                vals[i] = np.float32(np.asarray(out, np.float32)[0])
    return vals


@dataclass(frozen=True)
class Finding:
    """One probed property of a backend. `differs` is True when the backend does
    not compute what the interpreter computes (a systematic difference)."""

    backend: str
    name: str
    differs: bool
    summary: str
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"[{self.backend}] {'DIFFERS' if self.differs else 'same   '} {self.name}: {self.summary}"


def same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: identical float32 bit patterns, or both NaN (payloads are unspecified)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return (a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b))
