"""The float64 stages of fitting (evo.fit.lm) compiled: one native function, JIT-compiled by
LLVM once per process, runs a child's whole Levenberg-Marquardt and Lawson fit in one call.

The numpy path (evo.fit.lm) calls numpy once per instruction per step on ~430 points, so
interpreter and dispatch overhead, not arithmetic, set its time. Here the program is not
compiled at all: it is flattened into a small integer tape (one row per live instruction)
that a compiled interpreter runs instruction by instruction, each over all points at once,
computing the values, then the Jacobian by every constant in reverse mode (adjoints down
the tape: the cost does not grow with the number of constants; the numpy path's dual
numbers are forward mode). No compile per structure, so a structurally new child costs
nothing extra; the same code serves every program and every step. The fit's float32 stages
evaluate on the same tape (`evaluate32`), bit for bit the interpreter.

The op table stays the one source: an op's float64 value is its real meaning (`exact`)
traced on IR values (`_Traced`), as the table's f64 column (fma: a*b + c), else its `llvm`
emitter; its derivatives are its `partials`, traced; its float32 value is its `llvm`
emitter. An op whose row lacks these, or whose partials use arithmetic the tracer lacks, is
left out of the compiled set, and a program holding it takes the numpy path (`tape`
returns None).

The algorithm is evo.fit.lm's, step for step (same damping schedule, acceptance tests,
Lawson reweighting and stopping rules). Sums run in another order than numpy's BLAS and the
Jacobian by adjoints, so constants agree to rounding, not bits (bench/fit_speed.py compares
the fits).
"""
from __future__ import annotations

import ctypes
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator

import numpy as np
from llvmlite import ir

from primitives import OPS, Op

from ..core.ir import CONST, Program, X

_F64 = ir.DoubleType()
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_PD = _F64.as_pointer()
_PI = _I32.as_pointer()
_OP_X, _OP_CONST = 0, 1
_ROW = 10
# A tape row: [opcode, arity, a0, a1, a2, g0, g1, g2, gkind, gindex]
#   a_i: tape row of argument i; g_i: whether a constant lies below it: -1 none, -2 - j it
#   is the constant j itself, >= 0 (= a_i) an op row with constants below;
#   gkind/gindex: the same of this row (0 none, 1 the constant gindex, 2 an op over constants).
_NONE, _UNIT, _DENSE = 0, 1, 2


class _Traced:
    """An IR double under construction: the op table's `partials` run on these emit code."""

    def __init__(self, b: ir.IRBuilder, v: Any) -> None:
        self.b, self.v = b, v

    def _of(self, o: Any) -> Any:
        if isinstance(o, _Traced):
            return o.v
        if isinstance(o, (int, float)):
            return ir.Constant(_F64, float(o))
        raise TypeError(f"cannot trace {type(o).__name__}")

    def _bin(self, fn: str, a: Any, c: Any) -> "_Traced":
        return _Traced(self.b, getattr(self.b, fn)(self._of(a), self._of(c)))

    def __add__(self, o: Any) -> "_Traced":
        return self._bin("fadd", self, o)

    def __radd__(self, o: Any) -> "_Traced":
        return self._bin("fadd", o, self)

    def __sub__(self, o: Any) -> "_Traced":
        return self._bin("fsub", self, o)

    def __rsub__(self, o: Any) -> "_Traced":
        return self._bin("fsub", o, self)

    def __mul__(self, o: Any) -> "_Traced":
        return self._bin("fmul", self, o)

    def __rmul__(self, o: Any) -> "_Traced":
        return self._bin("fmul", o, self)

    def __truediv__(self, o: Any) -> "_Traced":
        return self._bin("fdiv", self, o)

    def __rtruediv__(self, o: Any) -> "_Traced":
        return self._bin("fdiv", o, self)

    def __neg__(self) -> "_Traced":
        return _Traced(self.b, self.b.fneg(self.v))

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> "_Traced":
        binary = {"add": "fadd", "subtract": "fsub", "multiply": "fmul", "divide": "fdiv", "true_divide": "fdiv"}
        if method == "__call__" and not kwargs:
            if ufunc.__name__ in binary and len(inputs) == 2:
                return self._bin(binary[ufunc.__name__], *inputs)
            if ufunc.__name__ == "negative":
                return -inputs[0]
            if ufunc.__name__ in ("sqrt", "fabs", "absolute") and len(inputs) == 1:
                name = "llvm.sqrt" if ufunc.__name__ == "sqrt" else "llvm.fabs"
                fn = self.b.module.declare_intrinsic(name, [_F64], ir.FunctionType(_F64, [_F64]))
                return _Traced(self.b, self.b.call(fn, [self._of(inputs[0])]))
        raise TypeError(f"cannot trace numpy.{ufunc.__name__}")


def _value(op: Op, b: ir.IRBuilder, args: list) -> Any:
    """The op on IR doubles: its real meaning in float64 arithmetic, as the table's f64 column
    (fma: a*b + c), else (mpmath functions) its llvm emitter."""
    try:
        return op.exact(*[_Traced(b, a) for a in args]).v
    except (TypeError, AttributeError):
        return op.llvm(b, args)


def _partials(op: Op, b: ir.IRBuilder, args: list) -> list:
    """The op's partials (the table's `partials`, traced) on IR doubles."""
    ds = op.partials(*[_Traced(b, a) for a in args])
    return [d.v if isinstance(d, _Traced) else ir.Constant(_F64, float(d)) for d in ds]


def _dual_emitter(op: Op) -> Callable[[ir.IRBuilder, list], tuple[Any, list]] | None:
    """(builder, argument values) -> (value, [partials]) for an op, or None if the op
    cannot be compiled (no llvm emitter, no partials, or partials the tracer cannot run)."""
    if op.llvm is None or op.partials is None:
        return None

    def emit(b: ir.IRBuilder, args: list) -> tuple[Any, list]:
        return _value(op, b, args), _partials(op, b, args)

    try:  # a dry run on a scratch function: only ops that trace are compiled
        m = ir.Module()
        f = ir.Function(m, ir.FunctionType(_F64, [_F64] * op.arity), name="probe")
        b = ir.IRBuilder(f.append_basic_block())
        y, ds = emit(b, list(f.args))
        if len(ds) != op.arity or y.type != _F64 or any(d.type != _F64 for d in ds):
            return None
        b.ret(y)
    except Exception:
        return None
    return emit


@lru_cache(maxsize=1)
def compiled_ops() -> dict[str, int]:
    """{op name: its opcode} for the ops of the table the native fitter runs."""
    names = [name for name, op in OPS.items() if op.arity <= 3 and _dual_emitter(op) is not None]
    return {name: i + 2 for i, name in enumerate(names)}


# -- the tape ----------------------------------------------------------------------

@dataclass(frozen=True)
class Tape:
    rows: np.ndarray      # (m, _ROW) int32
    k: int                # constants (all of the program's, live or not)


def tape(p: Program) -> Tape | None:
    """The program flattened for the native interpreter (its output last), or None if it
    holds an op the native fitter does not run."""
    codes = compiled_ops()
    index = p.const_index
    pos: dict[int, int] = {}
    grad: list[tuple[int, int]] = []    # per tape row: (kind, index)
    rows = []
    for slot, ins in p.live:
        if ins.op == X:
            row, g = [_OP_X, 0, 0, 0, 0, -1, -1, -1], (_NONE, 0)
        elif ins.op == CONST:
            row, g = [_OP_CONST, 0, 0, 0, 0, -1, -1, -1], (_UNIT, index[slot])
        else:
            code = codes.get(ins.op)
            if code is None:
                return None
            row = [code, len(ins.args), 0, 0, 0, -1, -1, -1]
            for i, a in enumerate(ins.args):
                t = pos[a]
                row[2 + i] = t
                kind, j = grad[t]
                row[5 + i] = -1 if kind == _NONE else (-2 - j if kind == _UNIT else t)
            g = (_DENSE, 0) if any(r != -1 for r in row[5:5 + len(ins.args)]) else (_NONE, 0)
        pos[slot] = len(rows)
        rows.append(row + list(g))
        grad.append(g)
    assert pos[p.output] == len(rows) - 1  # every live slot is at or below the output
    return Tape(np.ascontiguousarray(rows, dtype=np.int32), len(p.const_slots))


def work_size(m: int, k: int, n: int) -> int:
    """float64 scratch the native functions need (see _Layout)."""
    return _Layout(m, k, n).total


class _Layout:
    """Offsets of the scratch buffers, in float64s (the IR computes the same from m, k, n)."""

    def __init__(self, m: int, k: int, n: int) -> None:
        sizes = [("val", m * n), ("adj", m * n), ("c0", k), ("c1", k), ("best", k),
                 ("d", k), ("r0", n), ("r1", n), ("j0", k * n), ("j1", k * n), ("u", n), ("js", k * n),
                 ("rs", n), ("a", k * k), ("g", k), ("mm", k * k)]
        self.offsets, at = {}, 0
        for name, size in sizes:
            self.offsets[name] = at
            at += size
        self.total = at


# -- IR helpers ----------------------------------------------------------------------

class _Fn:
    """Structured-code helpers on one function's builder: loops, variables, array access."""

    def __init__(self, fn: ir.Function) -> None:
        self.fn = fn
        self.entry = fn.append_basic_block("entry")
        self.b = ir.IRBuilder(self.entry)

    def var(self, ty: Any, init: Any = None, name: str = "") -> Any:
        with self.b.goto_entry_block():
            slot = self.b.alloca(ty, name=name)
        if init is not None:
            self.b.store(init, slot)
        return slot

    @contextmanager
    def loop(self, count: Any, start: Any = None) -> Iterator[Any]:
        b = self.b
        i = self.var(_I64)
        b.store(start if start is not None else _I64(0), i)
        cond, body, end = (self.fn.append_basic_block(s) for s in ("for.cond", "for.body", "for.end"))
        b.branch(cond)
        b.position_at_end(cond)
        iv = b.load(i)
        b.cbranch(b.icmp_signed("<", iv, count), body, end)
        b.position_at_end(body)
        yield iv
        b.store(b.add(iv, _I64(1)), i)
        b.branch(cond)
        b.position_at_end(end)

    def at(self, ptr: Any, i: Any) -> Any:
        return self.b.gep(ptr, [i], inbounds=True)

    def ld(self, ptr: Any, i: Any) -> Any:
        return self.b.load(self.at(ptr, i))

    def st(self, ptr: Any, i: Any, v: Any) -> None:
        self.b.store(v, self.at(ptr, i))

    def intrinsic(self, name: str, *args: Any) -> Any:
        fn = self.b.module.declare_intrinsic(name, [_F64], ir.FunctionType(_F64, [_F64] * len(args)))
        return self.b.call(fn, list(args))

    def finite(self, v: Any) -> Any:
        return self.b.fcmp_ordered("<", self.intrinsic("llvm.fabs", v), ir.Constant(_F64, np.inf))

    def mul(self, *xs: Any) -> Any:
        out = xs[0]
        for x in xs[1:]:
            out = self.b.mul(out, x)
        return out


def _func(module: ir.Module, name: str, ret: Any, args: list, internal: bool = True) -> _Fn:
    fn = ir.Function(module, ir.FunctionType(ret, args), name=name)
    if internal:
        fn.linkage = "internal"
    return _Fn(fn)


def _layout_ptrs(f: _Fn, work: Any, m: Any, k: Any, n: Any) -> dict[str, Any]:
    """The scratch buffers' pointers inside `work` (as _Layout)."""
    b = f.b
    sizes = [("val", f.mul(m, n)), ("adj", f.mul(m, n)), ("c0", k), ("c1", k),
             ("best", k), ("d", k), ("r0", n), ("r1", n), ("j0", f.mul(k, n)), ("j1", f.mul(k, n)), ("u", n),
             ("js", f.mul(k, n)), ("rs", n), ("a", f.mul(k, k)), ("g", k),
             ("mm", f.mul(k, k))]
    out, at = {}, _I64(0)
    for name, size in sizes:
        out[name] = b.gep(work, [at], inbounds=True)
        at = b.add(at, size)
    return out


# -- the native module ----------------------------------------------------------------

def _tape_access(f: _Fn, rows: Any) -> tuple[Callable[[Any], Any], Callable[[Any, Any], Any]]:
    b = f.b

    def row_of(t: Any) -> Any:
        return b.gep(rows, [b.mul(t, _I64(_ROW))], inbounds=True)

    def col(row: Any, i: Any) -> Any:
        i = _I32(i) if isinstance(i, int) else b.trunc(i, _I32)
        return b.sext(b.load(b.gep(row, [i], inbounds=True)), _I64)

    return row_of, col


def _emit_values(module: ir.Module) -> ir.Function:
    """values(rows, m, n, x, v, w, c, val, r): every tape row's values (val, m x n) at the n
    points; the weighted residuals r = (y - v) w of the output (the last row)."""
    f = _func(module, "values", ir.VoidType(), [_PI, _I64, _I64, _PD, _PD, _PD, _PD, _PD, _PD])
    rows, m, n, x, v, w, c, val, r = f.fn.args
    b = f.b
    row_of, col = _tape_access(f, rows)

    with f.loop(m) as t:
        row = row_of(t)
        vt = b.gep(val, [b.mul(t, n)], inbounds=True)
        merge = f.fn.append_basic_block("op.done")
        default = f.fn.append_basic_block("op.x")
        sw = b.switch(b.trunc(col(row, 0), _I32), default)
        # x (and anything unknown): the input
        b.position_at_end(default)
        with f.loop(n) as p:
            f.st(vt, p, f.ld(x, p))
        b.branch(merge)
        # a constant: its value at every point
        blk = f.fn.append_basic_block("op.const")
        sw.add_case(_I32(_OP_CONST), blk)
        b.position_at_end(blk)
        cv = f.ld(c, col(row, 9))
        with f.loop(n) as p:
            f.st(vt, p, cv)
        b.branch(merge)
        for name, opcode in compiled_ops().items():
            op = OPS[name]
            blk = f.fn.append_basic_block(f"op.{name}")
            sw.add_case(_I32(opcode), blk)
            b.position_at_end(blk)
            srcs = [b.gep(val, [b.mul(col(row, 2 + i), n)], inbounds=True) for i in range(op.arity)]
            with f.loop(n) as p:
                f.st(vt, p, _value(op, b, [f.ld(s, p) for s in srcs]))
            b.branch(merge)
        b.position_at_end(merge)
    y = b.gep(val, [b.mul(b.sub(m, _I64(1)), n)], inbounds=True)
    with f.loop(n) as p:
        f.st(r, p, b.fmul(b.fsub(f.ld(y, p), f.ld(v, p)), f.ld(w, p)))
    b.ret_void()
    return f.fn


def _emit_jacobian_pass(module: ir.Module) -> ir.Function:
    """jacobian(rows, m, k, n, w, free, val, adj, jac): after `values`, the weighted Jacobian
    J = (jac free) w by every constant (k x n) in reverse mode: adjoints (adj, m x n) flow from
    the output down through each op's partials (recomputed from its arguments' values), only
    out of rows with a constant below them (as lm's dual numbers, which carry no gradient
    elsewhere: the adjoints of rows without one are written but never read)."""
    f = _func(module, "jacobian", ir.VoidType(), [_PI, _I64, _I64, _I64, _PD, _PD, _PD, _PD, _PD])
    rows, m, k, n, w, free, val, adj, jac = f.fn.args
    b = f.b
    row_of, col = _tape_access(f, rows)
    zero, one = ir.Constant(_F64, 0.0), ir.Constant(_F64, 1.0)
    with f.loop(b.mul(m, n)) as q:
        f.st(adj, q, zero)
    last = b.sub(m, _I64(1))
    al = b.gep(adj, [b.mul(last, n)], inbounds=True)
    with f.loop(n) as p:
        f.st(al, p, one)
    with f.loop(k) as j:
        jj = b.gep(jac, [b.mul(j, n)], inbounds=True)
        with f.loop(n) as p:
            f.st(jj, p, zero)
    with f.loop(m) as back:
        t = b.sub(last, back)
        row = row_of(t)
        at = b.gep(adj, [b.mul(t, n)], inbounds=True)
        with b.if_then(b.icmp_signed("==", col(row, 0), _I64(_OP_CONST))):
            jj = b.gep(jac, [b.mul(col(row, 9), n)], inbounds=True)
            with f.loop(n) as p:
                f.st(jj, p, f.ld(at, p))
        with b.if_then(b.icmp_signed("==", col(row, 8), _I64(_DENSE))):
            merge = f.fn.append_basic_block("adj.done")
            sw = b.switch(b.trunc(col(row, 0), _I32), merge)
            for name, opcode in compiled_ops().items():
                op = OPS[name]
                blk = f.fn.append_basic_block(f"adj.{name}")
                sw.add_case(_I32(opcode), blk)
                b.position_at_end(blk)
                args = [col(row, 2 + i) for i in range(op.arity)]
                srcs = [b.gep(val, [b.mul(a, n)], inbounds=True) for a in args]
                dsts = [b.gep(adj, [b.mul(a, n)], inbounds=True) for a in args]
                with f.loop(n) as p:
                    ds = _partials(op, b, [f.ld(s, p) for s in srcs])
                    ap = f.ld(at, p)
                    for dst, d in zip(dsts, ds):
                        f.st(dst, p, b.fadd(f.ld(dst, p), b.fmul(ap, d)))
                b.branch(merge)
            b.position_at_end(merge)
    with f.loop(k) as j:
        fj = f.ld(free, j)
        jj = b.gep(jac, [b.mul(j, n)], inbounds=True)
        with f.loop(n) as p:
            f.st(jj, p, b.fmul(b.fmul(f.ld(jj, p), fj), f.ld(w, p)))
    b.ret_void()
    return f.fn


def _emit_all_finite(module: ir.Module) -> ir.Function:
    f = _func(module, "all_finite", ir.IntType(1), [_PD, _I64])
    a, n = f.fn.args
    ok = f.var(ir.IntType(1), ir.Constant(ir.IntType(1), 1))
    with f.loop(n) as p:
        f.b.store(f.b.and_(f.b.load(ok), f.finite(f.ld(a, p))), ok)
    f.b.ret(f.b.load(ok))
    return f.fn


def _emit_max_abs(module: ir.Module) -> ir.Function:
    """max |r| (inf if any is not finite), as lm._max_abs."""
    f = _func(module, "max_abs", _F64, [_PD, _I64])
    r, n = f.fn.args
    b = f.b
    best = f.var(_F64, ir.Constant(_F64, 0.0))
    bad = f.var(ir.IntType(1), ir.Constant(ir.IntType(1), 0))
    with f.loop(n) as p:
        a = f.intrinsic("llvm.fabs", f.ld(r, p))
        b.store(b.or_(b.load(bad), b.fcmp_unordered(">=", a, ir.Constant(_F64, np.inf))), bad)
        m = b.load(best)
        b.store(b.select(b.fcmp_ordered(">", a, m), a, m), best)
    b.ret(b.select(b.load(bad), ir.Constant(_F64, np.inf), b.load(best)))
    return f.fn


def _emit_dot(module: ir.Module, lanes: int = 8) -> ir.Function:
    """sum a_i c_i in `lanes` interleaved partial sums (they vectorise; one chain would
    wait on each add's latency), added pairwise at the end."""
    f = _func(module, "dot", _F64, [_PD, _PD, _I64])
    a, c, n = f.fn.args
    b = f.b
    accs = [f.var(_F64, ir.Constant(_F64, 0.0)) for _ in range(lanes)]
    full = b.udiv(n, _I64(lanes))
    with f.loop(full) as q:
        base = b.mul(q, _I64(lanes))
        for i, acc in enumerate(accs):
            p = b.add(base, _I64(i))
            b.store(b.fadd(b.load(acc), b.fmul(f.ld(a, p), f.ld(c, p))), acc)
    with f.loop(n, b.mul(full, _I64(lanes))) as p:
        b.store(b.fadd(b.load(accs[0]), b.fmul(f.ld(a, p), f.ld(c, p))), accs[0])
    vals = [b.load(acc) for acc in accs]
    while len(vals) > 1:
        vals = [b.fadd(vals[i], vals[i + 1]) for i in range(0, len(vals), 2)]
    b.ret(vals[0])
    return f.fn


def _normal_equations(f: _Fn, k: Any, n: Any, r: Any, jac: Any, use_u: Any, u: Any, js: Any, rs: Any,
                      a: Any, g: Any, okp: Any, dot: ir.Function) -> None:
    """a = Js Js^T, g = Js rs with Js = J sqrt(u), rs = r sqrt(u) (or J, r without u);
    *okp: all finite."""
    b = f.b
    with b.if_then(use_u):
        with f.loop(n) as p:
            s = f.intrinsic("llvm.sqrt", f.ld(u, p))
            f.st(rs, p, b.fmul(f.ld(r, p), s))
            with f.loop(k) as j:
                q = b.add(b.mul(j, n), p)
                f.st(js, q, b.fmul(f.ld(jac, q), s))
    rr = b.select(use_u, rs, r)
    jj = b.select(use_u, js, jac)
    ok = f.var(ir.IntType(1), ir.Constant(ir.IntType(1), 1))
    with f.loop(k) as i:
        ji = b.gep(jj, [b.mul(i, n)], inbounds=True)
        with f.loop(b.add(i, _I64(1))) as j:
            s = b.call(dot, [ji, b.gep(jj, [b.mul(j, n)], inbounds=True), n])
            f.st(a, b.add(b.mul(i, k), j), s)
            f.st(a, b.add(b.mul(j, k), i), s)
            b.store(b.and_(b.load(ok), f.finite(s)), ok)
        s = b.call(dot, [ji, rr, n])
        f.st(g, i, s)
        b.store(b.and_(b.load(ok), f.finite(s)), ok)
    b.store(b.load(ok), okp)


def _emit_step(module: ir.Module, dot: ir.Function) -> ir.Function:
    """step(k, n, r, J, lam, use_u, u, d, js, rs, normal, g, fresh, okp, a): the damped
    Gauss-Newton step d for min sum u_i (r_i + J_i d)^2 (as lm._step: zeros where the normal
    equations are not finite or singular), solved by Gaussian elimination with partial
    pivoting in `a`. The normal equations (normal, g; finite: *okp) are formed only if
    `fresh`; else they are the last call's (a rejected step changes only lam)."""
    i1 = ir.IntType(1)
    f = _func(module, "step", ir.VoidType(), [_I64, _I64, _PD, _PD, _F64, i1, _PD, _PD, _PD, _PD, _PD, _PD, i1,
                                              i1.as_pointer(), _PD])
    k, n, r, jac, lam, use_u, u, d, js, rs, normal, g, fresh, okp, a = f.fn.args
    b = f.b
    zero, one = ir.Constant(_F64, 0.0), ir.Constant(_F64, 1.0)
    with b.if_then(fresh):
        _normal_equations(f, k, n, r, jac, use_u, u, js, rs, normal, g, okp, dot)
    with f.loop(k) as i:
        f.st(d, i, zero)
    with b.if_then(b.load(okp)):
        with f.loop(b.mul(k, k)) as q:
            f.st(a, q, f.ld(normal, q))
        with f.loop(k) as i:
            ii = b.add(b.mul(i, k), i)
            di = f.ld(a, ii)
            di = b.select(b.fcmp_ordered("==", di, zero), one, di)
            f.st(a, ii, b.fadd(f.ld(a, ii), b.fmul(lam, di)))
            f.st(d, i, f.ld(g, i))
        singular = f.var(ir.IntType(1), ir.Constant(ir.IntType(1), 0))
        with f.loop(k) as col:
            piv = f.var(_I64, col)
            big = f.var(_F64, f.intrinsic("llvm.fabs", f.ld(a, b.add(b.mul(col, k), col))))
            with f.loop(k, b.add(col, _I64(1))) as row:
                v = f.intrinsic("llvm.fabs", f.ld(a, b.add(b.mul(row, k), col)))
                with b.if_then(b.fcmp_ordered(">", v, b.load(big))):
                    b.store(v, big)
                    b.store(row, piv)
            pv = b.load(piv)
            with b.if_then(b.fcmp_ordered("==", f.ld(a, b.add(b.mul(pv, k), col)), zero)):
                b.store(ir.Constant(ir.IntType(1), 1), singular)
            with b.if_then(b.icmp_signed("!=", pv, col)):
                with f.loop(k) as cc:
                    x0, x1 = b.add(b.mul(col, k), cc), b.add(b.mul(pv, k), cc)
                    t0, t1 = f.ld(a, x0), f.ld(a, x1)
                    f.st(a, x0, t1)
                    f.st(a, x1, t0)
                t0, t1 = f.ld(d, col), f.ld(d, pv)
                f.st(d, col, t1)
                f.st(d, pv, t0)
            pivot = f.ld(a, b.add(b.mul(col, k), col))
            with f.loop(k, b.add(col, _I64(1))) as row:
                fac = b.fdiv(f.ld(a, b.add(b.mul(row, k), col)), pivot)
                with f.loop(k, b.add(col, _I64(1))) as cc:
                    q = b.add(b.mul(row, k), cc)
                    f.st(a, q, b.fsub(f.ld(a, q), b.fmul(fac, f.ld(a, b.add(b.mul(col, k), cc)))))
                f.st(d, row, b.fsub(f.ld(d, row), b.fmul(fac, f.ld(d, col))))
        with f.loop(k) as back:
            i = b.sub(b.sub(k, _I64(1)), back)
            acc = f.var(_F64, f.ld(d, i))
            with f.loop(k, b.add(i, _I64(1))) as j:
                b.store(b.fsub(b.load(acc), b.fmul(f.ld(a, b.add(b.mul(i, k), j)), f.ld(d, j))), acc)
            f.st(d, i, b.fdiv(b.load(acc), f.ld(a, b.add(b.mul(i, k), i))))
        with f.loop(k) as i:
            f.st(d, i, b.select(b.load(singular), zero, b.fneg(f.ld(d, i))))
    b.ret_void()
    return f.fn


def _emit_fit(module: ir.Module, values: ir.Function, jacobian: ir.Function, step: ir.Function,
              all_finite: ir.Function, max_abs: ir.Function, dot: ir.Function) -> ir.Function:
    """fit(rows, m, k, n, x, v, w, free, c, lm_iters, minimax_iters, work): lm.fit_float64,
    step for step; c holds the start on entry and the fitted constants on return. A step's
    Jacobian is computed only once it is accepted (a rejected one's is never used)."""
    f = _func(module, "fit", ir.VoidType(),
              [_PI, _I64, _I64, _I64, _PD, _PD, _PD, _PD, _PD, _I64, _I64, _PD], internal=False)
    rows, m, k, n, x, v, w, free, c_io, lm_iters, minimax_iters, work = f.fn.args
    b = f.b
    i1 = ir.IntType(1)
    zero, one = ir.Constant(_F64, 0.0), ir.Constant(_F64, 1.0)
    inf = ir.Constant(_F64, np.inf)
    L = _layout_ptrs(f, work, m, k, n)

    def copy(dst: Any, src: Any, count: Any) -> None:
        with f.loop(count) as i:
            f.st(dst, i, f.ld(src, i))

    def call_values(c: Any, r: Any) -> None:
        b.call(values, [rows, m, n, x, v, w, c, L["val"], r])

    def call_jacobian(jac: Any) -> None:  # at the constants of the last call_values
        b.call(jacobian, [rows, m, k, n, w, free, L["val"], L["adj"], jac])

    def call_step(lam: Any, use_u: Any, u: Any, fresh: Any) -> None:
        b.call(step, [k, n, b.load(r), b.load(jac), lam, use_u, u, L["d"], L["js"], L["rs"], L["a"], L["g"],
                      fresh, okn, L["mm"]])

    def swap(p0: Any, p1: Any) -> None:
        t0, t1 = b.load(p0), b.load(p1)
        b.store(t1, p0)
        b.store(t0, p1)

    kn = b.mul(k, n)
    c, c_new = f.var(_PD, L["c0"]), f.var(_PD, L["c1"])
    r, r_new = f.var(_PD, L["r0"]), f.var(_PD, L["r1"])
    jac, jac_new = f.var(_PD, L["j0"]), f.var(_PD, L["j1"])
    okn = f.var(i1, ir.Constant(i1, 0))
    fresh = f.var(i1, ir.Constant(i1, 1))
    copy(L["c0"], c_io, k)
    call_values(L["c0"], L["r0"])
    call_jacobian(L["j0"])
    start_ok = b.and_(b.call(all_finite, [L["r0"], n]), b.call(all_finite, [L["j0"], kn]))
    with b.if_then(start_ok):
        # 1. Levenberg-Marquardt on the sum of squares.
        lam = f.var(_F64, ir.Constant(_F64, 1e-3))
        cost = f.var(_F64, b.call(dot, [L["r0"], L["r0"], n]))
        stop = f.var(i1, ir.Constant(i1, 0))
        no_u = ir.Constant(_PD, None)
        with f.loop(lm_iters):
            with b.if_then(b.not_(b.load(stop))):
                call_step(b.load(lam), ir.Constant(i1, 0), no_u, b.load(fresh))
                cc, cn = b.load(c), b.load(c_new)
                with f.loop(k) as i:
                    f.st(cn, i, b.fadd(f.ld(cc, i), f.ld(L["d"], i)))
                call_values(cn, b.load(r_new))
                rn = b.load(r_new)
                cost_new = b.select(b.call(all_finite, [rn, n]), b.call(dot, [rn, rn, n]), inf)
                old = b.load(cost)
                with b.if_else(b.fcmp_ordered("<", cost_new, old)) as (better, worse):
                    with better:
                        done = b.fcmp_ordered("<", b.fsub(old, cost_new), b.fmul(ir.Constant(_F64, 1e-7), old))
                        call_jacobian(b.load(jac_new))
                        b.store(ir.Constant(i1, 1), fresh)
                        swap(c, c_new)
                        swap(r, r_new)
                        swap(jac, jac_new)
                        b.store(cost_new, cost)
                        lam3 = b.fdiv(b.load(lam), ir.Constant(_F64, 3.0))
                        tiny = ir.Constant(_F64, 1e-12)
                        b.store(b.select(b.fcmp_ordered(">", lam3, tiny), lam3, tiny), lam)  # max(lam/3, 1e-12)
                        b.store(done, stop)
                    with worse:  # the same normal equations, more damping
                        b.store(ir.Constant(i1, 0), fresh)
                        lam8 = b.fmul(b.load(lam), ir.Constant(_F64, 8.0))
                        b.store(lam8, lam)
                        b.store(b.fcmp_ordered(">", lam8, ir.Constant(_F64, 1e8)), stop)
        # 2. Lawson: reweight toward the largest errors, keep the best max error seen.
        copy(L["best"], b.load(c), k)
        best = f.var(_F64, b.call(max_abs, [b.load(r), n]))
        u = L["u"]
        with f.loop(n) as p:
            f.st(u, p, b.fdiv(one, b.sitofp(n, _F64)))
        stale = f.var(_I64, _I64(0))
        b.store(ir.Constant(i1, 0), stop)
        with f.loop(minimax_iters):
            with b.if_then(b.not_(b.load(stop))):
                call_step(ir.Constant(_F64, 1e-9), ir.Constant(i1, 1), u, ir.Constant(i1, 1))
                cc, cn = b.load(c), b.load(c_new)
                with f.loop(k) as i:
                    f.st(cn, i, b.fadd(f.ld(cc, i), f.ld(L["d"], i)))
                call_values(cn, b.load(r_new))
                mm = b.call(max_abs, [b.load(r_new), n])
                with b.if_else(f.finite(mm)) as (fine, broken):
                    with broken:
                        b.store(ir.Constant(i1, 1), stop)
                    with fine:
                        call_jacobian(b.load(jac_new))
                        swap(c, c_new)
                        swap(r, r_new)
                        swap(jac, jac_new)
                        bst = b.load(best)
                        with b.if_else(b.fcmp_ordered("<", mm, b.fmul(bst, ir.Constant(_F64, 1 - 1e-4)))) as (gain, flat):
                            with gain:
                                b.store(_I64(0), stale)
                            with flat:
                                st = b.add(b.load(stale), _I64(1))
                                b.store(st, stale)
                                b.store(b.icmp_signed(">=", st, _I64(6)), stop)
                        with b.if_then(b.not_(b.load(stop))):
                            with b.if_then(b.fcmp_ordered("<", mm, bst)):
                                copy(L["best"], b.load(c), k)
                                b.store(mm, best)
                            rc = b.load(r)
                            total = f.var(_F64, zero)
                            with f.loop(n) as p:
                                up = b.fmul(f.ld(u, p), f.intrinsic("llvm.fabs", f.ld(rc, p)))
                                f.st(u, p, up)
                                b.store(b.fadd(b.load(total), up), total)
                            tot = b.load(total)
                            with b.if_else(b.fcmp_ordered(">", tot, zero)) as (pos, nonpos):
                                with nonpos:
                                    b.store(ir.Constant(i1, 1), stop)
                                with pos:
                                    with f.loop(n) as p:
                                        f.st(u, p, b.fdiv(f.ld(u, p), tot))
        copy(c_io, L["best"], k)
    b.ret_void()
    return f.fn


def _emit_residuals(module: ir.Module, values: ir.Function, jacobian: ir.Function) -> ir.Function:
    """residuals(rows, m, k, n, x, v, w, free, c, work, r, J): lm._weighted's
    residuals and Jacobian (with v = 0, w = free = 1: the program's value and Jacobian)."""
    f = _func(module, "residuals", ir.VoidType(),
              [_PI, _I64, _I64, _I64, _PD, _PD, _PD, _PD, _PD, _PD, _PD, _PD], internal=False)
    rows, m, k, n, x, v, w, free, c, work, r, jac = f.fn.args
    L = _layout_ptrs(f, work, m, k, n)
    f.b.call(values, [rows, m, n, x, v, w, c, L["val"], r])
    f.b.call(jacobian, [rows, m, k, n, w, free, L["val"], L["adj"], jac])
    f.b.ret_void()
    return f.fn


def _emit_evaluate32(module: ir.Module) -> ir.Function:
    """evaluate32(rows, m, kc, K, consts, n, x, y, val): the program in float32 (the op table's
    llvm emitters, no fast-math flags: IEEE binary32 as the interpreter) for K constant sets
    (consts, K x kc) at n points: y (K x n). val: m x n float32 scratch."""
    f32 = ir.FloatType()
    pf = f32.as_pointer()
    f = _func(module, "evaluate32", ir.VoidType(), [_PI, _I64, _I64, _I64, pf, _I64, pf, pf, pf], internal=False)
    rows, m, kc, kk, consts, n, x, y, val = f.fn.args
    b = f.b
    with f.loop(kk) as cand:
        cs = b.gep(consts, [b.mul(cand, kc)], inbounds=True)
        with f.loop(m) as t:
            row = b.gep(rows, [b.mul(t, _I64(_ROW))], inbounds=True)

            def col(i: int) -> Any:
                return b.sext(b.load(b.gep(row, [_I32(i)], inbounds=True)), _I64)

            vt = b.gep(val, [b.mul(t, n)], inbounds=True)
            merge = f.fn.append_basic_block("op32.done")
            default = f.fn.append_basic_block("op32.x")
            sw = b.switch(b.trunc(col(0), _I32), default)
            b.position_at_end(default)
            with f.loop(n) as p:
                f.st(vt, p, f.ld(x, p))
            b.branch(merge)
            blk = f.fn.append_basic_block("op32.const")
            sw.add_case(_I32(_OP_CONST), blk)
            b.position_at_end(blk)
            cv = f.ld(cs, col(9))
            with f.loop(n) as p:
                f.st(vt, p, cv)
            b.branch(merge)
            for name, opcode in compiled_ops().items():
                op = OPS[name]
                blk = f.fn.append_basic_block(f"op32.{name}")
                sw.add_case(_I32(opcode), blk)
                b.position_at_end(blk)
                srcs = [b.gep(val, [b.mul(col(2 + i), n)], inbounds=True) for i in range(op.arity)]
                with f.loop(n) as p:
                    f.st(vt, p, op.llvm(b, [f.ld(s, p) for s in srcs]))
                b.branch(merge)
            b.position_at_end(merge)
        last = b.gep(val, [b.mul(b.sub(m, _I64(1)), n)], inbounds=True)
        yc = b.gep(y, [b.mul(cand, n)], inbounds=True)
        with f.loop(n) as p:
            f.st(yc, p, f.ld(last, p))
    b.ret_void()
    return f.fn


def module_ir() -> str:
    """The native fitter's LLVM module (text)."""
    from llvmlite import binding as llvm

    module = ir.Module(name="evo_fit")
    module.triple = llvm.get_process_triple()
    values, jacobian = _emit_values(module), _emit_jacobian_pass(module)
    dot = _emit_dot(module)
    step = _emit_step(module, dot)
    _emit_fit(module, values, jacobian, step, _emit_all_finite(module), _emit_max_abs(module), dot)
    _emit_residuals(module, values, jacobian)
    _emit_evaluate32(module)
    return str(module)


_P = ctypes.c_void_p
_EVAL32_T = ctypes.CFUNCTYPE(None, _P, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, _P, ctypes.c_int64, _P, _P, _P)
_FIT_T = ctypes.CFUNCTYPE(None, _P, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, _P, _P, _P, _P, _P,
                          ctypes.c_int64, ctypes.c_int64, _P)
_RES_T = ctypes.CFUNCTYPE(None, _P, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, _P, _P, _P, _P, _P, _P, _P, _P)


@dataclass(frozen=True)
class Native:
    """The compiled module's entry points (one per process: `native()`)."""

    engine: Any
    fit_fn: Any
    residuals_fn: Any
    evaluate32_fn: Any

    def fit(self, t: Tape, x: np.ndarray, v: np.ndarray, w: np.ndarray, c: np.ndarray, free: np.ndarray | None,
            lm_iters: int, minimax_iters: int) -> np.ndarray:
        """lm.fit_float64 on the tape: the fitted constants."""
        n, m = x.size, len(t.rows)
        x, v, w = (np.ascontiguousarray(a, np.float64) for a in (x, v, w))
        out = np.array(c, np.float64, copy=True)
        fr = np.ones(t.k) if free is None else np.ascontiguousarray(free, np.float64)
        work = np.empty(work_size(m, t.k, n))
        self.fit_fn(t.rows.ctypes.data, m, t.k, n, x.ctypes.data, v.ctypes.data,
                    w.ctypes.data, fr.ctypes.data, out.ctypes.data, lm_iters, minimax_iters, work.ctypes.data)
        return out

    def residuals(self, t: Tape, x: np.ndarray, v: np.ndarray, w: np.ndarray, c: np.ndarray,
                  free: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """lm._weighted on the tape: (weighted residuals (n,), weighted Jacobian (k, n))."""
        n, m = x.size, len(t.rows)
        x, v, w, c = (np.ascontiguousarray(a, np.float64) for a in (x, v, w, c))
        fr = np.ones(t.k) if free is None else np.ascontiguousarray(free, np.float64)
        r, jac = np.empty(n), np.empty((t.k, n))
        work = np.empty(work_size(m, t.k, n))
        self.residuals_fn(t.rows.ctypes.data, m, t.k, n, x.ctypes.data, v.ctypes.data,
                          w.ctypes.data, fr.ctypes.data, c.ctypes.data, work.ctypes.data, r.ctypes.data,
                          jac.ctypes.data)
        return r, jac


    def evaluate32(self, t: Tape, x: np.ndarray, consts: np.ndarray) -> np.ndarray:
        """The program in float32 at x for each row of consts (K, k): (K, len(x)), bit for
        bit the interpreter's (evo.core.interp.evaluate with batched constants)."""
        x = np.ascontiguousarray(x, np.float32)
        cs = np.ascontiguousarray(consts, np.float32)
        cs = cs.reshape(1, -1) if cs.ndim == 1 else cs
        kk, n, m = cs.shape[0], x.size, len(t.rows)
        y = np.empty((kk, n), np.float32)
        val = np.empty(m * n, np.float32)
        self.evaluate32_fn(t.rows.ctypes.data, m, t.k, kk, cs.ctypes.data, n, x.ctypes.data, y.ctypes.data,
                           val.ctypes.data)
        return y


@lru_cache(maxsize=1)
def native() -> Native | None:
    """The native fitter, compiled on first use (None if LLVM fails to build it: the
    numpy path then serves every program)."""
    from ..backends.llvm import COMPILE_LOCK, compile_ir

    try:
        text = module_ir()
        with COMPILE_LOCK:
            engine = compile_ir(text)
            fit_fn = _FIT_T(engine.get_function_address("fit"))
            res_fn = _RES_T(engine.get_function_address("residuals"))
            eval_fn = _EVAL32_T(engine.get_function_address("evaluate32"))
    except Exception:
        return None
    return Native(engine, fit_fn, res_fn, eval_fn)
