"""Probe a backend for systematic differences from the interpreter.

Each case is a tiny program run on inputs chosen to expose one effect (fma
contraction, flushed subnormal results or inputs, division by a constant
rewritten as a multiplication, x + 0 simplified to x, -fma turned into fnmsub,
which loses the sign of an exact zero), plus seeded random
programs over the whole op table on special values. A finding says whether the
backend differs and how; `evo bench kernel` prints them and the tests assert them.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from primitives import OPS

from ..core.interp import evaluate
from ..core.ir import CONST, Instr, Program, X
from .common import Finding, same_bits

F32 = np.float32
TINY = F32(2.0 ** -126)  # smallest normal float32

# Special values every agreement check should include.
SPECIALS = np.array([0.0, -0.0, 2.0 ** -149, -(2.0 ** -149), 3 * 2.0 ** -140, -(2.0 ** -130), 2.0 ** -126,
                     -(2.0 ** -126), 1.0, -1.0, 0.5, 2.0, 3.0, 1e-20, 1e20, 3.4028235e38, -3.4028235e38,
                     np.inf, -np.inf, np.nan], np.float32)


def _prog(*instrs: Instr) -> Program:
    return Program((Instr(X),) + instrs, len(instrs))


def _c(v: float) -> Instr:
    return Instr(CONST, (), float(F32(v)))


def random_program(rng: np.random.Generator, n_ops: int, ops: tuple[str, ...] | None = None) -> Program:
    """A valid random program of n_ops ops from the table, whose output is the last op."""
    names = ops or tuple(OPS)
    instrs = [Instr(X)]
    for _ in range(n_ops):
        if rng.random() < 0.3:
            instrs.append(Instr(CONST, (), float(F32(rng.standard_normal() * 10.0 ** rng.integers(-3, 3)))))
        op = OPS[names[rng.integers(len(names))]]
        args = tuple(int(rng.integers(len(instrs))) for _ in range(op.arity))
        instrs.append(Instr(op.name, args))
    return Program(tuple(instrs), len(instrs) - 1)


def _example(x: np.ndarray, want: np.ndarray, got: np.ndarray, bad: np.ndarray) -> dict:
    i = int(np.flatnonzero(bad)[0])
    return {"x": float(x[i]), "expected": float(want[i]), "got": float(got[i])}


def _run(backend: str, p: Program, x: np.ndarray) -> np.ndarray:
    from . import run_backend

    return run_backend(p, x, backend)


def _case(backend: str, name: str, p: Program, x: np.ndarray, same: str, differs: str) -> Finding:
    want, got = evaluate(p, x, np.float32), _run(backend, p, x)
    bad = ~same_bits(want, got)
    detail: dict = {"program": str(p), "inputs": int(x.size), "mismatches": int(bad.sum())}
    if bad.any():
        detail["example"] = _example(x, want, got, bad)
    frac = 1.0 - bad.mean()
    summary = (differs if bad.any() else same).format(frac=frac, **detail)
    return Finding(backend, name, bool(bad.any()), summary, detail)


def _contraction(backend: str) -> Finding:
    rng = np.random.default_rng(7)
    x = rng.uniform(0.5, 2.0, 4096).astype(F32)
    c1, c2 = _c(1 / 3), _c(-0.4)
    sep = _prog(c1, Instr("mul", (0, 1)), c2, Instr("add", (2, 3)))
    fused = _prog(c1, c2, Instr("fma", (0, 1, 2)))
    got = _run(backend, sep, x)
    as_sep = float(same_bits(got, evaluate(sep, x)).mean())
    as_fused = float(same_bits(got, evaluate(fused, x)).mean())
    detail = {"program": str(sep), "inputs": int(x.size), "same_as_separate": as_sep, "same_as_fused": as_fused}
    if as_sep == 1.0:
        return Finding(backend, "contraction", False, "a separate mul and add stay separately rounded", detail)
    return Finding(backend, "contraction", True,
                   f"a separate mul and add are contracted into an fma: x*c1 + c2 matched the fused result on "
                   f"{as_fused:.1%} of inputs, the separately rounded one on {as_sep:.1%}", detail)


def _cases(backend: str) -> list[Finding]:
    rng = np.random.default_rng(11)
    unit = rng.uniform(1.0, 2.0, 4096).astype(F32)
    near_tiny = np.array([TINY, 1.5 * TINY, -TINY, 1.25 * TINY, 3 * TINY, 1.0], F32)
    subnormal = np.array([2.0 ** -140, 2.0 ** -149, -3 * 2.0 ** -145, 2.0 ** -127, 1.0], F32)
    zeros = np.array([-0.0, 0.0, 1.0, -1.0], F32)
    out = [_contraction(backend)]
    out.append(_case(backend, "fma", _prog(_c(1 / 3), _c(-0.4), Instr("fma", (0, 1, 2))), unit,
                     "fma is fused (one rounding)",
                     "fma is not correctly rounded on {mismatches} of {inputs} inputs (e.g. {example})"))
    out.append(_case(backend, "ftz", _prog(_c(0.5), Instr("mul", (0, 1))), near_tiny,
                     "subnormal results are kept",
                     "subnormal results are flushed to zero (FTZ): x * 0.5 at x = {example[x]:.7g} gave "
                     "{example[got]:g}, expected {example[expected]:.7g}"))
    out.append(_case(backend, "daz", _prog(_c(2.0 ** 24), Instr("mul", (0, 1))), subnormal,
                     "subnormal inputs are read as they are",
                     "subnormal inputs are read as zero (DAZ): x * 2^24 at x = {example[x]:.7g} gave "
                     "{example[got]:g}, expected {example[expected]:.7g}"))
    out.append(_case(backend, "div-const", _prog(_c(3.0), Instr("div", (0, 1))), unit,
                     "x / c is correctly rounded",
                     "x / c with a literal c is computed as x * (1/c): x / 3 differs from the correctly "
                     "rounded quotient on {mismatches} of {inputs} inputs"))
    out.append(_case(backend, "signed-zero", _prog(_c(0.0), Instr("add", (0, 1))), zeros,
                     "x + 0 follows IEEE signed zeros",
                     "x + 0 is simplified to x: -0 + 0 gave {example[got]:g}, IEEE says +0"))
    out.append(_case(backend, "neg-fma", _prog(Instr("fma", (0, 0, 0)), Instr("neg", (1,))),
                     np.array([-1.0, -0.0, 0.0, 1.0, 2.0, -2.0], F32),
                     "-fma(a, b, c) keeps the sign of an exact zero",
                     "-fma(a, b, c) is computed as -(a*b) - c (fnmsub): an exact zero comes out "
                     "{example[got]:g}, not {example[expected]:g} (x = {example[x]:g} in -fma(x, x, x))"))
    out.append(_random_programs(backend))
    return out


def _random_programs(backend: str, count: int = 12) -> Finding:
    rng = np.random.default_rng(2024)
    x = np.concatenate([SPECIALS, rng.standard_normal(236).astype(F32) * F32(4)])
    bad_programs = []
    for _ in range(count):
        p = random_program(rng, int(rng.integers(2, 8)))
        bad = ~same_bits(evaluate(p, x), _run(backend, p, x))
        if bad.any():
            bad_programs.append(str(p))
    detail = {"programs": count, "inputs": int(x.size), "differing": bad_programs[:3]}
    if not bad_programs:
        return Finding(backend, "random-programs", False,
                       f"{count} random programs over the op table agree bit for bit on special values", detail)
    return Finding(backend, "random-programs", True,
                   f"{len(bad_programs)} of {count} random programs differ on special values "
                   f"(e.g. {bad_programs[0]})", detail)


@lru_cache(maxsize=None)
def _probe_cached(backend: str) -> tuple[Finding, ...]:
    return tuple(_cases(backend))


def probe_backend(backend: str) -> list[Finding]:
    """All findings for `backend` (a row of evo.backends.registry; cached per process)."""
    from .registry import get_backend

    return list(_probe_cached(get_backend(backend).name))
