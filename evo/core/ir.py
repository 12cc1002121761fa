"""The program IR: an immutable linear SSA list of float instructions.

Slot 0 is the input x; every later slot is a constant or an op whose arguments
point only to earlier slots, so a program is acyclic by construction. One slot
is the output. Programs are values: transformations return new programs.
"""
from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable, Sequence

import numpy as np

from primitives import OPS

from ..errors import ProgramError

X, CONST = "x", "const"
_COLUMN = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}  # the op table's column per dtype


@dataclass(frozen=True)
class Instr:
    op: str                      # "x", "const" or a row of primitives.OPS
    args: tuple[int, ...] = ()   # slots of the arguments (earlier slots only)
    value: float | None = None   # the constant, for op == "const"


@dataclass(frozen=True)
class Program:
    instrs: tuple[Instr, ...]
    output: int

    def __post_init__(self) -> None:
        validate(self)

    # -- construction -------------------------------------------------------
    @staticmethod
    def identity() -> "Program":
        """f(x) = x: the empty program every search starts from."""
        return Program((Instr(X),), 0)

    # -- views --------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.instrs)

    @cached_property
    def const_slots(self) -> tuple[int, ...]:
        return tuple(i for i, ins in enumerate(self.instrs) if ins.op == CONST)

    @cached_property
    def const_index(self) -> dict[int, int]:
        """{slot of a constant: its index in const_slots order} (replacement constant sets)."""
        return {s: j for j, s in enumerate(self.const_slots)}

    @cached_property
    def live(self) -> tuple[tuple[int, "Instr"], ...]:
        """(slot, instruction) for every slot the output depends on, in order (walkers run these)."""
        keep = reachable(self)
        return tuple((i, ins) for i, ins in enumerate(self.instrs) if keep[i])

    @property
    def constants(self) -> np.ndarray:
        return np.array([self.instrs[i].value for i in self.const_slots], dtype=np.float64)

    def with_constants(self, values: Iterable[float]) -> "Program":
        """The same structure with new constant values (in const_slots order)."""
        instrs = list(self.instrs)
        for slot, v in zip(self.const_slots, values, strict=True):
            instrs[slot] = Instr(CONST, (), float(v))
        return Program(tuple(instrs), self.output)

    def x_dependent(self) -> list[bool]:
        dep = []
        for ins in self.instrs:
            dep.append(ins.op == X or any(dep[a] for a in ins.args))
        return dep

    def cost(self, weights: dict[str, float] | None = None) -> float:
        """Op count of x-dependent ops (constant-only ops are free), per-op weights."""
        live = reachable(self)
        dep = self.x_dependent()
        w = weights or {}
        return float(sum(w.get(ins.op, OPS[ins.op].cost)
                         for i, ins in enumerate(self.instrs)
                         if live[i] and dep[i] and ins.op in OPS))

    @property
    def n_ops(self) -> int:
        return int(self.cost())

    def hash(self) -> str:
        """Content hash of the canonical form (commutative arguments ordered)."""
        return _slot_keys(self)[self.output][:16]

    def __str__(self) -> str:
        return render(self)


class Builder:
    """A program written forward: slot 0 is x, each `emit` appends one instruction and
    returns its slot (baselines and structural mutations build programs this way)."""

    def __init__(self) -> None:
        self.instrs: list[Instr] = [Instr(X)]

    def emit(self, op: str, *args: int, value: float | None = None) -> int:
        self.instrs.append(Instr(op, tuple(args), value))
        return len(self.instrs) - 1

    def horner(self, coeffs: Sequence[float], var: int, fma: bool = True) -> int:
        """sum c_k var^k (coefficients lowest first, already the values wanted) by Horner:
        fma(acc, var, c) each step, or acc*var + c; a zero coefficient costs only the mul."""
        top = max((k for k, v in enumerate(coeffs) if v != 0), default=0)
        acc = self.emit(CONST, value=coeffs[top])
        for c in reversed(coeffs[:top]):
            if c == 0:
                acc = self.emit("mul", acc, var)
            elif fma:
                acc = self.emit("fma", acc, var, self.emit(CONST, value=c))
            else:
                acc = self.emit("add", self.emit("mul", acc, var), self.emit(CONST, value=c))
        return acc

    def program(self, output: int) -> Program:
        return Program(tuple(self.instrs), output)


# -- validation ----------------------------------------------------------------

def validate(p: Program) -> None:
    """Raise ProgramError with an exact message if `p` is not well formed."""
    if not p.instrs:
        raise ProgramError("program has no instructions")
    if p.instrs[0] != Instr(X):
        raise ProgramError("instruction 0 must be the input x")
    for i, ins in enumerate(p.instrs[1:], start=1):
        if ins.op == X:
            raise ProgramError(f"instruction {i}: the input x may only be instruction 0")
        if ins.op == CONST:
            if ins.args:
                raise ProgramError(f"instruction {i}: a constant takes no arguments")
            if not isinstance(ins.value, (float, int)) or isinstance(ins.value, bool):
                raise ProgramError(f"instruction {i}: constant is not a number: {ins.value!r}")
            if not math.isfinite(ins.value):
                raise ProgramError(f"instruction {i}: constant is not finite: {ins.value!r}")
            continue
        op = OPS.get(ins.op)
        if op is None:
            raise ProgramError(f"instruction {i}: unknown op {ins.op!r} (known: {', '.join(OPS)})")
        if len(ins.args) != op.arity:
            raise ProgramError(f"instruction {i}: op {ins.op!r} takes {op.arity} arguments, got {len(ins.args)}")
        for a in ins.args:
            if not isinstance(a, int) or isinstance(a, bool) or not 0 <= a < i:
                raise ProgramError(f"instruction {i}: argument {a!r} does not point to an earlier instruction")
    if not isinstance(p.output, int) or not 0 <= p.output < len(p.instrs):
        raise ProgramError(f"output {p.output!r} does not point to an instruction")


# -- simplification ------------------------------------------------------------

def reachable(p: Program) -> list[bool]:
    """Which slots the output depends on (x always counts)."""
    live = [False] * len(p.instrs)
    live[p.output] = live[0] = True
    for i in range(len(p.instrs) - 1, -1, -1):
        if live[i]:
            for a in p.instrs[i].args:
                live[a] = True
    return live


def live_instrs(p: Program) -> tuple[tuple[int, Instr], ...]:
    """(slot, instruction) for every slot the output depends on, in order."""
    return p.live


def _rebuild(p: Program, keep: list[bool], replace: dict[int, Instr] | None = None) -> Program:
    replace = replace or {}
    new_index: dict[int, int] = {}
    out: list[Instr] = []
    for i, ins in enumerate(p.instrs):
        if not keep[i]:
            continue
        ins = replace.get(i, ins)
        new_index[i] = len(out)
        out.append(Instr(ins.op, tuple(new_index[a] for a in ins.args), ins.value))
    return Program(tuple(out), new_index[p.output])


def prune(p: Program) -> Program:
    """Drop instructions the output does not depend on."""
    return _rebuild(p, reachable(p))


def fold(p: Program, dtype: type = np.float32) -> Program:
    """Replace constant-only subexpressions by their value (computed in `dtype`)."""
    dep = p.x_dependent()
    values: dict[int, Any] = {}
    replace: dict[int, Instr] = {}
    for i, ins in enumerate(p.instrs):
        if dep[i]:
            continue
        if ins.op == CONST:
            values[i] = dtype(ins.value)
            continue
        impl = getattr(OPS[ins.op], _COLUMN[np.dtype(dtype)])
        with np.errstate(all="ignore"):
            v = dtype(impl(*(np.asarray([values[a]], dtype) for a in ins.args))[0])
        values[i] = v
        if math.isfinite(float(v)):
            replace[i] = Instr(CONST, (), float(v))
    if not replace:
        return prune(p)
    return prune(_rebuild(p, [True] * len(p.instrs), replace))


def simplify(p: Program, dtype: type = np.float32) -> Program:
    return canonical(fold(p, dtype))


def _slot_keys(p: Program) -> list[str]:
    keys: list[str] = []
    for ins in p.instrs:
        if ins.op == X:
            text = "x"
        elif ins.op == CONST:
            text = "c" + float(ins.value).hex()
        else:
            arg_keys = [keys[a] for a in ins.args]
            k = OPS[ins.op].commute
            arg_keys[:k] = sorted(arg_keys[:k])
            text = ins.op + "(" + ",".join(arg_keys) + ")"
        keys.append(hashlib.sha256(text.encode()).hexdigest())
    return keys


def canonical(p: Program) -> Program:
    """Pruned, common subexpressions merged, commutative args ordered, slots in DFS order."""
    keys = _slot_keys(p)
    order: list[int] = []
    slot_of_key: dict[str, int] = {}
    new_instrs: list[Instr] = []

    def visit(i: int) -> int:
        k = keys[i]
        if k in slot_of_key:
            return slot_of_key[k]
        ins = p.instrs[i]
        args = list(ins.args)
        n = OPS[ins.op].commute if ins.op in OPS else 0
        args[:n] = sorted(args[:n], key=lambda a: keys[a])
        new_args = tuple(visit(a) for a in args)
        slot_of_key[k] = len(new_instrs)
        new_instrs.append(Instr(ins.op, new_args, ins.value))
        order.append(i)
        return slot_of_key[k]

    visit(0)
    out = visit(p.output)
    return Program(tuple(new_instrs), out)


# -- serialisation -------------------------------------------------------------

def f32_bits(v: float) -> str | None:
    """The float32 bit pattern of v as hex, or None if v is not exactly a float32."""
    with np.errstate(over="ignore"):  # beyond float32's range (a reals-mode constant): None
        f = np.float32(v)
    if float(f) != v:
        return None
    return "0x%08x" % struct.unpack("<I", struct.pack("<f", f))[0]


def to_dict(p: Program) -> dict:
    instrs = []
    for ins in p.instrs:
        if ins.op == X:
            instrs.append({"op": X})
        elif ins.op == CONST:
            d: dict[str, Any] = {"op": CONST, "value": ins.value}
            bits = f32_bits(ins.value)
            d["f32" if bits else "f64"] = bits or float(ins.value).hex()
            instrs.append(d)
        else:
            instrs.append({"op": ins.op, "args": list(ins.args)})
    return {"format": "evo-program/1", "instrs": instrs, "output": p.output}


def _const_value(i: int, d: dict) -> float:
    if "f32" in d:
        try:
            if not isinstance(d["f32"], str):  # an int would be misread as hex digits
                raise ValueError
            bits = int(d["f32"], 16)
            return float(struct.unpack("<f", struct.pack("<I", bits))[0])
        except (ValueError, struct.error):
            raise ProgramError(f"instruction {i}: bad float32 bit pattern {d['f32']!r}") from None
    if "f64" in d:
        try:
            # float.fromhex("1.5") is 1.3125: insist on the 0x form that float.hex() writes
            if not isinstance(d["f64"], str) or "0x" not in d["f64"].lower():
                raise ValueError
            return float.fromhex(d["f64"])
        except ValueError:
            raise ProgramError(f"instruction {i}: bad float64 hex value {d['f64']!r}") from None
    v = d.get("value")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ProgramError(f"instruction {i}: constant is not a number: {v!r}")
    try:
        return float(v)
    except OverflowError:  # a JSON integer beyond float range
        return math.inf  # rejected by validate() as not finite


def from_dict(d: Any) -> Program:
    if not isinstance(d, dict) or not isinstance(d.get("instrs"), list):
        raise ProgramError("not a program: expected an object with an 'instrs' list")
    instrs = []
    for i, item in enumerate(d["instrs"]):
        if not isinstance(item, dict) or "op" not in item:
            raise ProgramError(f"instruction {i}: expected an object with an 'op'")
        op = item["op"]
        if op == CONST:
            instrs.append(Instr(CONST, (), _const_value(i, item)))
        else:
            args = item.get("args", [])
            if not isinstance(args, list):
                raise ProgramError(f"instruction {i}: 'args' must be a list")
            instrs.append(Instr(str(op), tuple(args)))
    return Program(tuple(instrs), d.get("output", len(instrs) - 1))


def dumps(p: Program) -> str:
    return json.dumps(to_dict(p))


def loads(text: str) -> Program:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProgramError(f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    # A run's front member or a baseline record carries the program under "program".
    if isinstance(d, dict) and "instrs" not in d and isinstance(d.get("program"), dict):
        d = d["program"]
    return from_dict(d)


# -- rendering -----------------------------------------------------------------

def format_const(v: float) -> str:
    """Shortest text that reads back to the same float32 (or float64) value."""
    if f32_bits(v) is not None:
        return np.format_float_positional(np.float32(v), unique=True, trim="-") if 1e-4 <= abs(v) < 1e7 or v == 0 \
            else np.format_float_scientific(np.float32(v), unique=True, trim="-")
    return repr(float(v))


def render(p: Program) -> str:
    """A readable math expression; slots used more than once become `tN = ...;` bindings."""
    uses = [0] * len(p.instrs)
    live = reachable(p)
    for i, ins in enumerate(p.instrs):
        if live[i]:
            for a in ins.args:
                uses[a] += 1
    text: list[str] = []
    lets: list[str] = []
    for i, ins in enumerate(p.instrs):
        if ins.op == X:
            s = "x"
        elif ins.op == CONST:
            s = format_const(ins.value)
        else:
            op = OPS[ins.op]
            args = [text[a] for a in ins.args]
            if op.symbol:
                s = f"({args[0]} {op.symbol} {args[1]})"
            elif ins.op == "neg":
                s = f"-{args[0]}"
            else:
                s = f"{ins.op}({', '.join(args)})"
        if uses[i] > 1 and ins.op not in (X, CONST) and i != p.output and live[i]:
            name = f"t{len(lets) + 1}"
            lets.append(f"{name} = {_strip(s)}")
            s = name
        text.append(s)
    return "; ".join(lets + [_strip(text[p.output])])


def _strip(s: str) -> str:
    if s.startswith("(") and s.endswith(")"):
        depth = 0
        for j, ch in enumerate(s):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and j < len(s) - 1:
                return s
        return s[1:-1]
    return s
