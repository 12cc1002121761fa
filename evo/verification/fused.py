"""Fused exhaustive verification: one LLVM loop computes the program, the reference and
the ULP error of every float32 input of an interval (11-22x less CPU than the numpy
path, evo.verification.yardstick.exhaustive, measured by bench/bench_verify.py).

    from evo.verification.fused import fast_verify
    r = fast_verify(program, get_target("exp2"), (0.0, 1.0))
    r.max_ulp, r.argmax, r.mean_ulp, r.not_correctly_rounded, r.worst[:3]

Reference: evo.verification.reference's piecewise polynomials (float64, certified relative error
<= 1e-15, i.e. <= 1.7e-8 float32 ULP; the result's `reference` says how much), with
the target's float64 numpy function on the pieces that cannot be fitted. Inputs are
walked in segments (at most 2^16 ordinals, inside one piece), so the polynomial's
coefficients are loop-invariant scalars.

The driver `fastverify` is compiled once per process (it does not contain the
program); the program is evo.backends.llvm's own kernel (`lower` + `compile_ir`,
~60 ms), called through a pointer on each sub-block of SUB inputs whose x the driver
builds from bits. Then an explicitly vectorised pass (<VW x double>, UNROLL vectors
per iteration) evaluates the reference, the error |y - v| / ulp32(v) and the count
of results that are not the correctly rounded float32 of v, with the rules of
the numpy yardstick (non-finite y, non-finite or overflowing references, ulp floor 2^-149).
An iteration whose lanes are all ordinary (2^-126 <= |v| < 2^127, y finite, v not
near a float32 midpoint) takes a short exact form of those rules; others are
redone after the sub-block with the full rules. Per segment it yields the max and
its first argmax, the sum and the count; segments are the 2^16-ordinal blocks whose
maxima make `worst`.

Exact count: where v lies within AMB_ULP of a float32 midpoint (and y within 1 ULP),
no float64 reference can tell the correct rounding (np.exp2 itself returns the
midpoint at x = -0.029743773862719536); those few inputs (~1 in 10^7) are decided
by mpmath, so `not_correctly_rounded` is exact and may differ from the yardstick's by
them.

Every run cross-checks a strided sample (every CROSS_CHECK_STRIDE-th input of each
segment, odd so it walks every residue class): the loop hands back x, y, v and the
error there; x must be the input of that ordinal, y bit-identical to the numpy
interpreter (the definition), the error identical to the numpy rules on (y, v), and
v within REF_CHECK_ULP of the float64 numpy reference (else mpmath decides). The
stride is coarser than the yardstick's 61: the interpreter's numpy fma (~25 ns an
element) would otherwise cost more than the whole check.
"""
from __future__ import annotations

import ctypes
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import mpmath
import numpy as np
from llvmlite import binding as llvm_binding
from llvmlite import ir

from primitives.float32 import from_ordinal
from targets import Target

from ..backends import llvm as llvm_backend
from ..core.interp import evaluate
from ..core.ir import Program
from ..core.numbers import json_float, round_f32, ulp32
from ..core.progress import ProgressFn
from ..errors import EvoError
from . import reference as ref
from .result import VerifyResult


def _host_lanes() -> int:
    """Doubles in the widest vector register of this CPU (LLVM's view of it)."""
    llvm_binding.initialize_native_target()
    return 8 if llvm_binding.get_host_cpu_features().get("avx512f", False) else 4


VW = _host_lanes()        # doubles per vector: 8 with AVX-512, else 4 (one AVX2 register)
UNROLL = 4                # vectors per iteration
NACC = 2                  # sets of vector accumulators (registers are scarce with 16 of them)
W = VW * UNROLL           # inputs per iteration (a divisor of 16 or a multiple of it)
SUB = 2048                # inputs per sub-block: its x and y buffers stay in L1
BLOCK = 1 << 16           # ordinals per block of the local maxima (`worst`)
CHUNK = 1 << 22           # inputs per thread task
CROSS_CHECK_STRIDE = 1021
REF_CHECK_ULP = 1e-6      # |v - float64 numpy| beyond this (float32 ULP) is settled by mpmath
# v within AMB_ULP (float32 ULP; 64 double ulps) of a float32 midpoint: its rounding is not
# settled by a float64 reference (error <= TOL * 2^24 ~ 1.7e-8 ULP); mpmath decides those.
AMB_ULP = 2.0 ** -23
AMB_CAP = 4096            # ...at most this many per chunk (more: counted as unresolved)
_MP_CHECKS = 16           # ...for at most this many sample points per run

_FN_T = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, *([ctypes.c_void_p] * 22), ctypes.c_int64,
                         ctypes.c_int64)
_KERNEL_TY = ir.FunctionType(ir.VoidType(), [ir.FloatType().as_pointer(), ir.FloatType().as_pointer(), ir.IntType(64)])


@dataclass(frozen=True)
class FastVerifyResult(VerifyResult):
    """VerifyResult plus where the error peaks and how good the reference is."""

    worst: tuple[tuple[float, float], ...] = ()  # (x, err): largest maxima of distinct 2^16-ordinal blocks
    reference_ulp: float = 0.0          # certified error of the polynomial reference, float32 ULP
    fallback_inputs: int = 0            # inputs referenced by float64 numpy instead
    reference_check_ulp: float = 0.0    # max |v - float64 numpy| on the cross-check sample, float32 ULP
    mpmath_decided: int = 0             # results near a float32 midpoint whose rounding mpmath decided
    undecided: int = 0                  # ...left to the float64 reference (normally 0)

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["worst"] = [[x, json_float(e)] for x, e in self.worst]
        return d


# -- the LLVM module ---------------------------------------------------------------------------

_F32, _F64, _I32, _I64, _I1 = ir.FloatType(), ir.DoubleType(), ir.IntType(32), ir.IntType(64), ir.IntType(1)
_ARGS = ("bits0", "dir", "n", "kind", "piece", "refoff", "soff",      # per segment
         "params", "refs",                                              # reference
         "amb_n", "amb_s", "amb_i", "amb_y", "amb_v",                    # results near a midpoint
         "omax", "oarg", "osum", "oncr",                                # per segment out
         "sx", "sy", "sv", "serr")                                      # cross-check sample
_ARG_TYPES = (_I32, _I32, _I32, _I32, _I64, _I64, _I64, _F64, _F64, _I64, _I64, _I64, _F32, _F64,
              _F64, _I32, _F64, _I64, _I32, _F32, _F64, _F64)


def _vec(t: ir.Type, w: int | None = None) -> ir.VectorType:
    return ir.VectorType(t, w or VW)


def _const(t: ir.VectorType, v: Any) -> ir.Constant:
    return ir.Constant(t, [v] * t.count)


class _Gen:
    """Emits `fastverify(kernel, nseg, <segment, table, output and sample arrays>, stride)`:
    the program is not part of it, its kernel (evo.backends.llvm's `kernel(x, y, n)`) is
    called through the pointer `kernel`, so one compiled driver serves every program."""

    def __init__(self, module: ir.Module, degree: int) -> None:
        self.m, self.degree = module, degree
        fnty = ir.FunctionType(ir.VoidType(), [_KERNEL_TY.as_pointer(), _I64, *(t.as_pointer() for t in _ARG_TYPES),
                                               _I64, _I64])
        self.fn = ir.Function(module, fnty, name="fastverify")
        self.kernel, self.nseg = self.fn.args[:2]
        self.a = dict(zip(_ARGS, self.fn.args[2:-2]))
        self.stride, self.amb_cap = self.fn.args[-2:]
        entry = self.fn.append_basic_block("entry")
        self.eb = ir.IRBuilder(entry)          # allocas only: mem2reg promotes them to registers
        start = self.fn.append_basic_block("start")
        self.b = ir.IRBuilder(start)
        self.vd, self.vf, self.vi, self.vl = _vec(_F64), _vec(_F32), _vec(_I32), _vec(_I64)
        buf = ir.ArrayType(_vec(_F32, 16), SUB // 16)   # vector elements: 64-byte aligned
        self.xp = self.eb.bitcast(self.eb.alloca(buf, name="xbuf"), _F32.as_pointer())
        self.yp = self.eb.bitcast(self.eb.alloca(buf, name="ybuf"), _F32.as_pointer())
        self.iota = ir.Constant(self.vl, list(range(VW)))
        dbuf = ir.ArrayType(_vec(_F64, 8), SUB // 8)
        self.vp = self.eb.bitcast(self.eb.alloca(dbuf, name="vbuf"), _F64.as_pointer())
        self.ep = self.eb.bitcast(self.eb.alloca(dbuf, name="ebuf"), _F64.as_pointer())
        self.fabs_d = ref.intrinsic(module, "llvm.fabs", self.vd, 1)
        self.defer = self.eb.bitcast(self.eb.alloca(ir.ArrayType(_I64, SUB // W), name="defer"), _I64.as_pointer())
        self.ndefer = self.var(_I64, "ndefer")
        self.emit()
        self.eb.branch(start)

    def var(self, ty: ir.Type, name: str) -> Any:
        return self.eb.alloca(ty, name=name)

    def loop(self, start: Any, stop: Any, step: int, body: Callable[[Any], None], name: str) -> None:
        """for (i = start; i < stop; i += step) body(i)   (i64)"""
        b, var = self.b, self.var(_I64, name)
        b.store(start, var)
        head, blk, end = (self.fn.append_basic_block(f"{name}.{t}") for t in ("head", "body", "end"))
        b.branch(head)
        b.position_at_end(head)
        i = b.load(var)
        b.cbranch(b.icmp_signed("<", i, stop), blk, end)
        b.position_at_end(blk)
        body(i)
        self.b.store(self.b.add(i, _I64(step)), var)
        self.b.branch(head)
        self.b.position_at_end(end)

    def at(self, name: str, index: Any) -> Any:
        return self.b.gep(self.a[name], [index], inbounds=True)

    def emit(self) -> None:
        b = self.b
        self.loop(_I64(0), self.nseg, 1, self.segment, "seg")
        b.ret_void()

    def segment(self, s: Any) -> None:
        b = self.b
        seg = {k: b.load(self.at(k, s)) for k in ("bits0", "dir", "n", "kind", "piece", "refoff", "soff")}
        seg["n"] = b.sext(seg["n"], _I64)
        seg["s"] = s
        done = self.fn.append_basic_block("seg.done")
        blocks = [self.fn.append_basic_block(f"seg.{name}") for name in ref.KIND_NAMES]   # POLY, FACTORED, FALLBACK
        sw = b.switch(seg["kind"], blocks[ref.FALLBACK])
        for k in (ref.POLY, ref.FACTORED):
            sw.add_case(_I32(k), blocks[k])
        for k, blk in enumerate(blocks):
            b.position_at_end(blk)
            self.kind_segment(k, seg)
            self.b.branch(done)
        self.b.position_at_end(done)

    def kind_segment(self, kind: int, seg: dict) -> None:
        b = self.b
        row = None
        if kind != ref.FALLBACK:
            row = [ref.splat(b, r, self.vd) for r in ref.load_row(b, self.a["params"], seg["piece"], self.degree)]
        # one set of vector accumulators per unrolled vector: independent dependency chains
        acc = {"max": [self.var(self.vd, "vmax") for _ in range(NACC)],
               "sum": [self.var(self.vd, "vsum") for _ in range(NACC)],
               "ok": [self.var(self.vl, "vok") for _ in range(NACC)],
               "best": self.var(_F64, "best"), "arg": self.var(_I64, "arg"),
               "ns": self.var(_I64, "ns"), "sidx": self.var(_I64, "sidx")}
        for u in range(NACC):
            b.store(_const(self.vd, 0.0), acc["sum"][u])
            b.store(_const(self.vl, 0), acc["ok"][u])
        b.store(_F64(-1.0), acc["best"])
        b.store(_I64(0), acc["arg"])
        b.store(_I64(0), acc["ns"])
        b.store(seg["soff"], acc["sidx"])
        dir_iota = b.mul(ref.splat(b, seg["dir"], _vec(_I32, 16)), ir.Constant(_vec(_I32, 16), list(range(16))))

        def sub_block(i0: Any) -> None:
            b = self.b
            rest = b.sub(seg["n"], i0)
            m = b.select(b.icmp_signed("<", rest, _I64(SUB)), rest, _I64(SUB))
            pad = max(W, 16)   # whole fill vectors and whole iterations
            mpad = b.and_(b.add(m, _I64(pad - 1)), _I64(-pad))
            base = b.add(seg["bits0"], b.mul(seg["dir"], b.trunc(i0, _I32)))

            def fill(j: Any) -> None:
                b = self.b
                bits = b.add(ref.splat(b, b.add(base, b.mul(seg["dir"], b.trunc(j, _I32))), _vec(_I32, 16)), dir_iota)
                ptr = b.bitcast(b.gep(self.xp, [j], inbounds=True), _vec(_F32, 16).as_pointer())
                b.store(b.bitcast(bits, _vec(_F32, 16)), ptr, align=64)

            self.loop(_I64(0), mpad, 16, fill, "fill")
            b = self.b
            b.call(self.kernel, [self.xp, self.yp, mpad])
            for u in range(NACC):
                b.store(_const(self.vd, -1.0), acc["max"][u])
            b.store(_I64(0), self.ndefer)
            mfull = b.and_(m, _I64(-W))
            self.loop(_I64(0), mfull, W, lambda j: self.body(kind, seg, row, acc, i0, j), "err")
            self.loop(mfull, m, VW, lambda jv: self.tail_vector(kind, seg, row, acc, i0, jv, m), "tail")
            self.fix_deferred(acc, seg, i0)
            self.sub_block_max(acc, i0, m)
            self.samples(acc, seg, i0, m)

        self.loop(_I64(0), seg["n"], SUB, sub_block, "sub")
        self.finish(seg, acc)

    def sub_block_max(self, acc: dict, i0: Any, m: Any) -> None:
        """A sub-block whose max beats the segment's so far: find its first index in ebuf."""
        b = self.b
        lanes = [b.extract_element(b.load(acc["max"][u]), _I32(k)) for u in range(NACC) for k in range(VW)]
        top = lanes[0]
        for v in lanes[1:]:
            top = b.select(b.fcmp_ordered(">", v, top), v, top)
        with b.if_then(b.fcmp_ordered(">", top, b.load(acc["best"])), likely=False):
            kvar = self.var(_I64, "scan")
            b.store(_I64(0), kvar)
            head, inc, found = (self.fn.append_basic_block(f"scan.{t}") for t in ("head", "inc", "found"))
            b.branch(head)
            b.position_at_end(head)
            k = b.load(kvar)
            hit = b.fcmp_ordered("==", b.load(b.gep(self.ep, [k], inbounds=True)), top)
            b.cbranch(b.or_(hit, b.icmp_signed(">=", k, b.sub(m, _I64(1)))), found, inc)   # (always hits)
            b.position_at_end(inc)
            b.store(b.add(k, _I64(1)), kvar)
            b.branch(head)
            b.position_at_end(found)
            b.store(top, acc["best"])
            b.store(b.add(i0, k), acc["arg"])

    def samples(self, acc: dict, seg: dict, i0: Any, m: Any) -> None:
        """The cross-check sample inputs of this sub-block: x, y, v and err to the outputs."""
        b = self.b
        head, body, done = (self.fn.append_basic_block(f"sample.{t}") for t in ("head", "body", "done"))
        b.branch(head)
        b.position_at_end(head)
        ns = b.load(acc["ns"])
        b.cbranch(b.icmp_signed("<", ns, b.add(i0, m)), body, done)
        b.position_at_end(body)
        k = b.sub(ns, i0)
        out = b.load(acc["sidx"])
        b.store(b.load(b.gep(b.bitcast(self.xp, _I32.as_pointer()), [k], inbounds=True)), self.at("sx", out))
        b.store(b.load(b.gep(self.yp, [k], inbounds=True)), self.at("sy", out))
        b.store(b.load(b.gep(self.vp, [k], inbounds=True)), self.at("sv", out))
        b.store(b.load(b.gep(self.ep, [k], inbounds=True)), self.at("serr", out))
        b.store(b.add(out, _I64(1)), acc["sidx"])
        b.store(b.add(ns, self.stride), acc["ns"])
        b.branch(head)
        b.position_at_end(done)

    def rules(self, y: Any, v: Any) -> tuple[Any, Any]:
        """(err, differ) for float32 results y and float64 references v: the yardstick's
        _error_ulp and _block, lane by lane. The class tests (finite, NaN, zero, equal) are
        integer tests on the bits of doubles (y and the float32 rounding of v, widened
        exactly), so every mask has the 64-bit lanes of the error vector."""
        b, vd, vl = self.b, self.vd, _vec(_I64)
        inf_d, zero = _const(vd, math.inf), _const(vd, 0.0)
        exp_mask, abs_mask = _const(vl, 0x7FF0000000000000), _const(vl, 0x7FFFFFFFFFFFFFFF)
        yd = b.fpext(y, vd)
        vb = b.bitcast(v, vl)
        d = b.call(self.fabs_d, [b.fsub(yd, v)])
        ebits = b.and_(vb, exp_mask)
        ulp = b.fmul(b.bitcast(ebits, vd), _const(vd, 2.0 ** -23))
        floor = _const(vd, 2.0 ** -149)
        ulp = b.select(b.fcmp_ordered("<", ulp, floor), floor, ulp)   # never NaN: np.maximum
        # d / ulp, as d * (1 / ulp): ulp is a power of two in [2^-149, 2^1001] (exact
        # reciprocal, 2^k -> bits 0x7FE0... - bits(2^k), so the product is the same double)
        # or inf, where v is not finite and the rules below overwrite err.
        inv = b.bitcast(b.sub(_const(vl, 0x7FE0000000000000), b.bitcast(ulp, vl)), vd)
        err = b.fmul(d, inv)
        yb = b.bitcast(yd, vl)
        rb = b.bitcast(b.fpext(b.fptrunc(v, self.vf), vd), vl)   # v rounded to float32
        ya, ra = b.and_(yb, abs_mask), b.and_(rb, abs_mask)
        y_fin = b.icmp_signed("<", ya, exp_mask)
        r_fin = b.icmp_signed("<", ra, exp_mask)
        v_fin = b.icmp_unsigned("!=", ebits, exp_mask)
        y_nan = b.icmp_signed(">", ya, exp_mask)
        both_nan = b.and_(y_nan, b.icmp_signed(">", ra, exp_mask))
        both_zero = b.icmp_unsigned("==", b.or_(ya, ra), _const(vl, 0))
        bits_eq = b.icmp_unsigned("==", yb, rb)
        same = b.or_(b.or_(b.and_(bits_eq, b.not_(y_nan)), both_zero), both_nan)   # y == r, or both NaN
        err = b.select(y_fin, err, inf_d)
        err = b.select(b.and_(b.not_(r_fin), same), zero, err)
        err = b.select(b.and_(b.not_(v_fin), b.not_(same)), inf_d, err)
        # not correctly rounded: other bits, unless both are NaN or both are zeros
        differ = b.and_(b.not_(bits_eq), b.not_(b.or_(both_nan, both_zero)))
        return err, differ

    def fast_rules(self, y: Any, v: Any) -> tuple[Any, Any, Any]:
        """(err, correctly rounded, ok) of one vector, exact in the lanes where ok is set:
        2^-126 <= |v| < 2^127, y finite, v not within AMB_ULP of a float32 midpoint.

        There ulp(v) = 2^(E-23) >= 2^-149, its reciprocal is 2^(23-E) (bits (0x7FE + 23)
        << 52 minus v's exponent bits) and d * (1/ulp) is exactly d / ulp; y and the float32
        rounding r of v are finite and r is not zero, so the yardstick's rules reduce to these.
        y finite <=> err < inf (else err is inf or NaN). Near a midpoint: v's 29 bits below
        float32 precision within 64 of a midpoint's (AMB_ULP)."""
        b, vd, vl = self.b, self.vd, self.vl
        vb = b.bitcast(v, vl)
        ebits = b.and_(vb, _const(vl, 0x7FF0000000000000))
        inv = b.bitcast(b.sub(_const(vl, (0x7FE + 23) << 52), ebits), vd)
        yd = b.fpext(y, vd)
        err = b.fmul(b.call(self.fabs_d, [b.fsub(yd, v)]), inv)
        r = b.fpext(b.fptrunc(v, self.vf), vd)
        good = b.sext(b.icmp_unsigned("==", b.bitcast(yd, vl), b.bitcast(r, vl)), vl)
        half, win = 1 << 28, round(AMB_ULP * 2 ** 29)
        low = b.and_(b.add(vb, _const(vl, win - half)), _const(vl, (1 << 29) - 1))
        e_lo, e_hi = (int(np.float64(2.0 ** k).view(np.int64)) for k in (-126, 127))
        ok = b.and_(b.icmp_signed(">=", ebits, _const(vl, e_lo)), b.icmp_signed("<", ebits, _const(vl, e_hi)))
        ok = b.and_(ok, b.fcmp_ordered("<", err, _const(vd, math.inf)))
        ok = b.and_(ok, b.icmp_signed(">", low, _const(vl, 2 * win)))
        return err, good, ok

    def ambiguous(self, y: Any, v: Any, err: Any) -> Any:
        """The full rules' test: v finite, its float32 rounding r finite, |r - v| >= (0.5 -
        AMB_ULP) ulp(v), and y within 1 ULP (only then can the exact rounding change the
        verdict on y)."""
        b, vd, vl = self.b, self.vd, self.vl
        r = b.fpext(b.fptrunc(v, self.vf), vd)
        inf_d = _const(vd, math.inf)
        fin = b.and_(b.fcmp_ordered("<", b.call(self.fabs_d, [v]), inf_d),
                     b.fcmp_ordered("<", b.call(self.fabs_d, [r]), inf_d))
        ebits = b.and_(b.bitcast(v, vl), _const(vl, 0x7FF0000000000000))
        ulp = b.fmul(b.bitcast(ebits, vd), _const(vd, 2.0 ** -23))
        ulp = b.select(b.fcmp_ordered("<", ulp, _const(vd, 2.0 ** -149)), _const(vd, 2.0 ** -149), ulp)
        q = b.fdiv(b.call(self.fabs_d, [b.fsub(r, v)]), ulp)
        near = b.fcmp_ordered(">=", q, _const(vd, 0.5 - AMB_ULP))
        return b.and_(b.and_(fin, near), b.fcmp_ordered("<", err, _const(vd, 1.0)))

    def record(self, seg: dict, i0: Any, jv: Any, y: Any, v: Any, amb: Any) -> None:
        """Append the ambiguous lanes (segment, offset, y, v) to the amb_* outputs (rare)."""
        for lane in range(VW):
            b = self.b
            with b.if_then(b.extract_element(amb, _I32(lane)), likely=False):
                k = b.load(self.a["amb_n"])
                with b.if_then(b.icmp_signed("<", k, self.amb_cap)):
                    b.store(seg["s"], self.at("amb_s", k))
                    b.store(b.add(b.add(i0, jv), _I64(lane)), self.at("amb_i", k))
                    b.store(b.extract_element(y, _I32(lane)), self.at("amb_y", k))
                    b.store(b.extract_element(v, _I32(lane)), self.at("amb_v", k))
                b.store(b.add(k, _I64(1)), self.a["amb_n"])   # counts beyond the capacity too

    def body(self, kind: int, seg: dict, row: list | None, acc: dict, i0: Any, j: Any) -> None:
        """The hot loop's iteration: W = VW * UNROLL inputs at sub-block offset j. v goes to
        vbuf and err to ebuf (for the argmax scan and the sample). If every lane is
        ordinary the iteration takes `fast_rules`; else it is deferred to `fix_deferred`
        (neutral here: error 0, not counted), so the loop carries none of the full
        rules' registers."""
        b, vd, vl = self.b, self.vd, self.vl
        ins = []
        for u in range(UNROLL):
            ju = b.add(j, _I64(u * VW))
            x = b.load(b.bitcast(b.gep(self.xp, [ju], inbounds=True), self.vf.as_pointer()), align=16)
            y = b.load(b.bitcast(b.gep(self.yp, [ju], inbounds=True), self.vf.as_pointer()), align=16)
            if kind == ref.FALLBACK:
                ptr = b.gep(self.a["refs"], [b.add(seg["refoff"], b.add(i0, ju))], inbounds=True)
                v = b.load(b.bitcast(ptr, vd.as_pointer()), align=8)
            else:
                v = ref.emit_value(b, b.fpext(x, vd), row, self.degree, kind)
            b.store(v, b.bitcast(b.gep(self.vp, [ju], inbounds=True), vd.as_pointer()), align=32)
            ins.append((ju, y, v))
        res_f, ok = [], None
        for _, y, v in ins:
            err, good, lanes = self.fast_rules(y, v)
            res_f.append((err, good))
            ok = lanes if ok is None else b.and_(ok, lanes)
        all_ok = b.icmp_unsigned("==", b.bitcast(ok, ir.IntType(VW)), ir.Constant(ir.IntType(VW), -1))
        fast, later, merge = (self.fn.append_basic_block(t) for t in ("fast", "defer", "merge"))
        b.cbranch(all_ok, fast, later)
        b.position_at_end(fast)
        b.branch(merge)
        b.position_at_end(later)
        k = b.load(self.ndefer)
        b.store(j, b.gep(self.defer, [k], inbounds=True))
        b.store(b.add(k, _I64(1)), self.ndefer)
        b.branch(merge)
        b.position_at_end(merge)
        res = []
        for (ju, _, _), (ef, qf) in zip(ins, res_f):
            e, q = b.phi(vd), b.phi(vl)
            e.add_incoming(ef, fast)
            e.add_incoming(_const(vd, 0.0), later)
            q.add_incoming(qf, fast)
            q.add_incoming(_const(vl, 0), later)
            res.append((ju, e, q))
        self.accumulate(acc, res, None)

    def accumulate(self, acc: dict, res: list, m: Any) -> None:
        """err (and -1/0 for correctly rounded) of each unrolled vector into ebuf and the
        accumulators; lanes at or past m (if given) count for nothing."""
        b, vd, vl = self.b, self.vd, self.vl
        for u, (ju, err, good) in enumerate(res):
            err_sum = err
            if m is not None:   # lanes past the end: -2 for the max (below any error), 0 for the sum
                valid = b.icmp_signed("<", b.add(ref.splat(b, ju, vl), self.iota), ref.splat(b, m, vl))
                err = b.select(valid, err, _const(vd, -2.0))
                err_sum = b.select(valid, err, _const(vd, 0.0))
                good = b.and_(good, b.sext(valid, vl))
            b.store(err, b.bitcast(b.gep(self.ep, [ju], inbounds=True), vd.as_pointer()), align=32)
            a = u % NACC
            vmax = b.load(acc["max"][a])
            b.store(b.select(b.fcmp_ordered(">", err, vmax), err, vmax), acc["max"][a])
            b.store(b.fadd(b.load(acc["sum"][a]), err_sum), acc["sum"][a])
            b.store(b.sub(b.load(acc["ok"][a]), good), acc["ok"][a])

    def tail_vector(self, kind: int, seg: dict, row: list | None, acc: dict, i0: Any, jv: Any, m: Any) -> None:
        """One vector of the sub-block's last partial iteration: the full rules, lanes
        at or past m masked (out of the hot loop: one copy of the code)."""
        b, vd = self.b, self.vd
        y = b.load(b.bitcast(b.gep(self.yp, [jv], inbounds=True), self.vf.as_pointer()), align=16)
        if kind == ref.FALLBACK:
            ptr = b.gep(self.a["refs"], [b.add(seg["refoff"], b.add(i0, jv))], inbounds=True)
            v = b.load(b.bitcast(ptr, vd.as_pointer()), align=8)
        else:
            x = b.load(b.bitcast(b.gep(self.xp, [jv], inbounds=True), self.vf.as_pointer()), align=16)
            v = ref.emit_value(b, b.fpext(x, vd), row, self.degree, kind)
        b.store(v, b.bitcast(b.gep(self.vp, [jv], inbounds=True), vd.as_pointer()), align=32)
        err, differ = self.rules(y, v)
        valid = b.icmp_signed("<", b.add(ref.splat(b, jv, self.vl), self.iota), ref.splat(b, m, self.vl))
        self.record(seg, i0, jv, y, v, b.and_(self.ambiguous(y, v, err), valid))
        self.accumulate(acc, [(jv, err, b.sext(b.not_(differ), self.vl))], m)

    def fix_deferred(self, acc: dict, seg: dict, i0: Any) -> None:
        """The full rules for the vectors the hot loop deferred (y and v from the buffers)."""
        def one(k: Any) -> None:
            j = self.b.load(self.b.gep(self.defer, [k], inbounds=True))

            def vector(jv: Any) -> None:
                b = self.b
                y = b.load(b.bitcast(b.gep(self.yp, [jv], inbounds=True), self.vf.as_pointer()), align=16)
                v = b.load(b.bitcast(b.gep(self.vp, [jv], inbounds=True), self.vd.as_pointer()), align=32)
                err, differ = self.rules(y, v)
                self.record(seg, i0, jv, y, v, self.ambiguous(y, v, err))
                self.accumulate(acc, [(jv, err, self.b.sext(self.b.not_(differ), self.vl))], None)

            self.loop(j, self.b.add(j, _I64(W)), VW, vector, "fixv")

        self.loop(_I64(0), self.b.load(self.ndefer), 1, one, "fix")

    def finish(self, seg: dict, acc: dict) -> None:
        """Lanes to one (max, first argmax, sum, count) for the segment."""
        b = self.b
        lanes = []
        for u in range(NACC):
            vsum, vok = b.load(acc["sum"][u]), b.load(acc["ok"][u])
            lanes += [(b.extract_element(vsum, _I32(k)), b.extract_element(vok, _I32(k))) for k in range(VW)]
        total, count = lanes[0]
        for sm, nc in lanes[1:]:
            total, count = b.fadd(total, sm), b.add(count, nc)
        s = seg["s"]
        b.store(b.load(acc["best"]), self.at("omax", s))
        b.store(b.trunc(b.load(acc["arg"]), _I32), self.at("oarg", s))
        b.store(total, self.at("osum", s))
        b.store(b.sub(seg["n"], count), self.at("oncr", s))   # not correctly rounded


def driver_text(degree: int = ref.DEFAULT_DEGREE) -> str:
    """LLVM IR of the `fastverify` driver for reference polynomials of `degree`."""
    module = ir.Module(name="evo_fastverify")
    module.triple = llvm_binding.get_process_triple()
    _Gen(module, degree)
    return str(module)


@lru_cache(maxsize=8)
def _driver(degree: int, vw: int, unroll: int, nacc: int) -> tuple[Any, Any]:
    """The compiled driver (once per process and shape: it takes ~1 s to optimise)."""
    text = driver_text(degree)
    with llvm_backend.COMPILE_LOCK:  # LLVM's global state is not thread-safe while compiling
        engine = llvm_backend.compile_ir(text)
        fn = _FN_T(engine.get_function_address("fastverify"))
    return engine, fn


@lru_cache(maxsize=256)
def _kernel(key: str, p: Program) -> tuple[Any, int]:
    """The program's kernel exactly as evo.backends.llvm lowers and compiles it."""
    text = str(llvm_backend.lower(p, np.float32, name="kernel"))
    with llvm_backend.COMPILE_LOCK:
        try:
            engine = llvm_backend.compile_ir(text)
        except RuntimeError as e:  # parse/verify/codegen failures
            raise llvm_backend.CompileError("llvm", p, e) from e
        return engine, engine.get_function_address("kernel")


@dataclass(frozen=True)
class Compiled:
    """A program's kernel and the driver that verifies it (engines kept alive here)."""

    program: Program
    degree: int
    fn: Any            # ctypes: fastverify(kernel, nseg, ...)
    kernel: int        # address of the program's kernel
    engines: tuple


def compile_verifier(p: Program, degree: int = ref.DEFAULT_DEGREE) -> Compiled:
    """The program's kernel (cached by program hash) and the driver (cached per process)."""
    from ..backends.common import check_lowerable

    check_lowerable(p, "llvm", "llvm")
    d_engine, fn = _driver(degree, VW, UNROLL, NACC)
    k_engine, addr = _kernel(p.hash(), p)
    return Compiled(p, degree, fn, addr, (d_engine, k_engine))


def optimised_ir(degree: int = ref.DEFAULT_DEGREE) -> str:
    """The driver after the O3 pipeline (look for <4 x double> / <8 x double>); the
    program's kernel is evo.backends.llvm.optimised_ir(p)."""
    with llvm_backend.COMPILE_LOCK:
        return str(llvm_backend.optimise(driver_text(degree)))


# -- the plan: segments in ordinal order --------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    ostart: np.ndarray   # int64, ordinal of the first input
    n: np.ndarray        # int32
    bits0: np.ndarray    # int32, bit pattern of the first input
    dir: np.ndarray      # int32, +1 (magnitudes up) or -1 (negative x: magnitudes down)
    kind: np.ndarray     # int32
    piece: np.ndarray    # int64
    block: np.ndarray    # int64, a key of the 2^16-ordinal block


def _split(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Ordinal range [lo, hi] of one sign cut at 2^16-magnitude block edges: (starts, ends)."""
    if lo >= 0:
        cuts = np.arange((lo // BLOCK + 1) * BLOCK, hi + 1, BLOCK, dtype=np.int64)
        return np.concatenate([[lo], cuts]), np.concatenate([cuts - 1, [hi]])
    # negative: magnitude -o; a block ends at o = -k 2^16 (magnitude k 2^16)
    first = -((-lo) // BLOCK) * BLOCK
    ends = np.arange(first, hi, BLOCK, dtype=np.int64)
    ends = ends[ends >= lo]
    return np.concatenate([[lo], ends + 1]), np.concatenate([ends, [hi]])


def _plan(table: ref.PieceTable, a: int, b: int) -> _Plan:
    plo, phi = table.ordinal_bounds()
    parts = []
    for k in range(table.n):
        lo, hi = max(int(plo[k]), a), min(int(phi[k]), b)
        if lo > hi:
            continue
        st, en = _split(lo, hi)
        parts.append((st, en, k))
    ostart = np.concatenate([p[0] for p in parts])
    oend = np.concatenate([p[1] for p in parts])
    piece = np.concatenate([np.full(p[0].size, p[2], np.int64) for p in parts])
    neg = ostart < 0
    mag = np.abs(ostart)
    bits0 = np.where(neg, mag | 0x80000000, mag).astype(np.uint32).view(np.int32)
    block = np.where(neg, -1 - (mag >> 16), ostart >> 16)
    return _Plan(ostart, (oend - ostart + 1).astype(np.int32), bits0, np.where(neg, -1, 1).astype(np.int32),
                 table.kind[piece].astype(np.int32), piece, block)


# -- numpy mirrors for the cross-check -------------------------------------------------------------

def error_rules(y: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(err, not correctly rounded) of float32 results against float64 references, as
    the numpy yardstick computes them (yardstick._error_ulp and _block)."""
    y = np.asarray(y, np.float32)
    v = np.asarray(v, np.float64)
    with np.errstate(all="ignore"):
        err = np.abs(y.astype(np.float64) - v) / ulp32(v)
        err[~np.isfinite(y)] = np.inf
        r32 = v.astype(np.float32)
    nan_y, nan_r = np.isnan(y), np.isnan(r32)
    same = (y == r32) | (nan_y & nan_r)
    err[~np.isfinite(r32) & same] = 0.0
    err[~np.isfinite(v) & ~same] = np.inf
    differ = (y.view(np.uint32) != r32.view(np.uint32)) & ~(nan_y & nan_r) & ~((y == 0) & (r32 == 0))
    return err, differ


# -- running ------------------------------------------------------------------------------------------

@dataclass
class _Out:
    omax: np.ndarray
    oarg: np.ndarray
    osum: np.ndarray
    oncr: np.ndarray
    checked: int
    ref_diff: float
    ncr_fix: int = 0      # correction of the count by the mpmath decisions
    decided: int = 0      # inputs near a midpoint decided by mpmath
    undecided: int = 0    # ...and those left to the float64 reference (capacity, or mpmath failed)


def _chunk(comp: Compiled, p: Program, target: Target, table: ref.PieceTable, plan: _Plan, lo: int, hi: int,
           stride: int) -> _Out:
    sl = slice(lo, hi)
    n = plan.n[sl]
    ostart, kind = plan.ostart[sl], plan.kind[sl]
    nseg = hi - lo
    # float64 numpy references of the fallback segments, each padded to whole vectors
    refoff = np.zeros(nseg, np.int64)
    fb = np.flatnonzero(kind == ref.FALLBACK)
    padded = (n[fb].astype(np.int64) + W - 1) // W * W
    refoff[fb] = np.concatenate([[0], np.cumsum(padded)[:-1]]) if fb.size else []
    refs = np.zeros(int(padded.sum()) + W)
    for k, off in zip(fb, refoff[fb]):
        with np.errstate(invalid="ignore"):  # signalling NaN inputs
            x = from_ordinal(np.arange(ostart[k], ostart[k] + n[k], dtype=np.int64)).astype(np.float64)
        refs[off:off + n[k]] = target.f64(x)
    counts = (n.astype(np.int64) + stride - 1) // stride
    soff = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    ns = int(counts.sum())
    sx, sy, sv, serr = np.empty(ns, np.uint32), np.empty(ns, np.float32), np.empty(ns), np.empty(ns)
    omax, oarg = np.empty(nseg), np.empty(nseg, np.int32)
    osum, oncr = np.empty(nseg), np.empty(nseg, np.int64)
    ins = [np.ascontiguousarray(a) for a in (plan.bits0[sl], plan.dir[sl], n, kind, plan.piece[sl], refoff, soff)]
    amb = (np.zeros(1, np.int64), np.empty(AMB_CAP, np.int64), np.empty(AMB_CAP, np.int64),
           np.empty(AMB_CAP, np.float32), np.empty(AMB_CAP))
    arrays = [*ins, table.params, refs, *amb, omax, oarg, osum, oncr, sx, sy, sv, serr]
    comp.fn(comp.kernel, nseg, *(a.ctypes.data for a in arrays), stride, AMB_CAP)  # ctypes releases the GIL
    # -- cross-check the sample against the definitions
    want_o = np.repeat(ostart, counts) + stride * (np.arange(ns) - np.repeat(soff, counts))
    x = from_ordinal(want_o)
    if not np.array_equal(sx, x.view(np.uint32)):
        j = int(np.argmax(sx != x.view(np.uint32)))
        raise EvoError(f"fast verifier walked the wrong input at ordinal {int(want_o[j])}")
    want_y = evaluate(p, x, np.float32)
    bad = want_y.view(np.uint32) != sy.view(np.uint32)
    if bad.any():
        j = int(np.argmax(bad))
        raise EvoError(f"backend disagrees with the interpreter at x = {float(x[j])!r}: "
                       f"{float(sy[j])!r} vs {float(want_y[j])!r}")
    err, _ = error_rules(sy, sv)
    if not np.array_equal(err, serr):
        j = int(np.argmax(err != serr))
        raise EvoError(f"fast verifier error rules disagree at x = {float(x[j])!r}: {serr[j]!r} vs {err[j]!r}")
    out = _Out(omax, oarg, osum, oncr, ns, _check_reference(target, table, plan.piece[sl], counts, x, sv))
    _decide(p, target, ostart, amb, out)
    return out


def _decide(p: Program, target: Target, ostart: np.ndarray, amb: tuple, out: _Out) -> None:
    """Results whose reference lies within AMB_ULP of a float32 midpoint (and y within 1 ULP):
    whether y is the correctly rounded float32 of the exact value, by mpmath."""
    count, seg, off, y, v = amb
    k = min(int(count[0]), AMB_CAP)
    out.undecided = int(count[0]) - k
    if not k:
        return
    x = from_ordinal(ostart[seg[:k]] + off[:k])
    want = evaluate(p, x, np.float32)
    if not np.array_equal(want.view(np.uint32), y[:k].view(np.uint32)):
        j = int(np.argmax(want.view(np.uint32) != y[:k].view(np.uint32)))
        raise EvoError(f"backend disagrees with the interpreter at x = {float(x[j])!r}: "
                       f"{float(y[j])!r} vs {float(want[j])!r}")
    _, differ_v = error_rules(y[:k], v[:k])
    for j in range(k):
        t = ref._truth(target.mp, float(x[j]))
        if t is None:
            out.undecided += 1
            continue
        _, differ_t = error_rules(y[j:j + 1], np.array([round_f32(t)]))
        out.ncr_fix += int(differ_t[0]) - int(differ_v[j])
        out.decided += 1


def _check_reference(target: Target, table: ref.PieceTable, piece: np.ndarray, counts: np.ndarray,
                     x: np.ndarray, v: np.ndarray) -> float:
    """Max |v - float64 numpy| in float32 ULP over the sample points of polynomial pieces;
    points beyond REF_CHECK_ULP (numpy can be the worse of the two, e.g. where an expression
    cancels) go to mpmath, which must find v within twice its piece's certified bound."""
    poly = table.kind[np.repeat(piece, counts)] != ref.FALLBACK
    if not poly.any():
        return 0.0
    pieces, x, v = np.repeat(piece, counts)[poly], x[poly], v[poly]
    with np.errstate(all="ignore"):
        d = np.abs(v - target.f64(x.astype(np.float64))) / ulp32(v)
    d = np.where(np.isnan(d), np.inf, d)
    for j in np.flatnonzero(d > REF_CHECK_ULP)[:_MP_CHECKS]:
        bound = table.rel_bound[pieces[j]]
        t = ref._truth(target.mp, float(x[j]))
        ok = t is not None and np.isfinite(bound) and (
            abs(mpmath.mpf(float(v[j])) - t) <= 2 * bound * abs(t) if t != 0 else v[j] == 0)
        if not ok:
            raise EvoError(f"reference table wrong at x = {float(x[j])!r}: {float(v[j])!r} "
                           f"vs mpmath {mpmath.nstr(t, 20) if t is not None else 'undefined'}")
    return float(d.max())


def fast_verify(program: Program, target: Target, interval: tuple[float, float] | None = None,
                progress: ProgressFn | None = None, threads: int | None = None, top: int = 8,
                ordinals: tuple[int, int] | None = None, degree: int = ref.DEFAULT_DEGREE,
                table: ref.PieceTable | None = None,
                cross_check_stride: int = CROSS_CHECK_STRIDE) -> FastVerifyResult:
    """Every float32 in the interval (or the ordinal range [a, b]) through `program`: its
    ULP error against the piecewise-polynomial reference, the fields of
    VerifyResult plus `worst` (the `top` largest maxima of distinct
    2^16-ordinal blocks, (x, err), largest first) and the reference's figures.

    threads: worker threads (default: every core); progress(done, total) after each task.
    degree/table: the reference (default: evo.verification.reference.build_table(target, (a, b), degree),
    cached); cross_check_stride: one input in that many is cross-checked (odd, > W).
    EvoError if a cross-check fails."""
    if cross_check_stride <= W or cross_check_stride % 2 == 0:
        raise EvoError(f"cross_check_stride must be odd and > {W}, got {cross_check_stride}")
    t = target.with_interval(*interval) if interval else target
    a, b = ordinals if ordinals else t.f32_inputs()
    t0 = time.perf_counter()
    table = table or ref.build_table(t, (a, b), degree)
    if table.ordinals[0] > a or table.ordinals[1] < b:
        raise EvoError(f"reference table covers ordinals {table.ordinals}, not [{a}, {b}]")
    if not table.ulp_error < AMB_ULP / 4:   # the midpoint window must hold the reference's error
        raise EvoError(f"reference error {table.ulp_error:.2g} ULP is too large for exact counts")
    comp = compile_verifier(program, table.degree)
    plan = _plan(table, a, b)
    total = b - a + 1
    # Tasks of ~CHUNK inputs: whole segments, in ordinal order.
    cum = np.cumsum(plan.n, dtype=np.int64)
    cuts = np.searchsorted(cum, np.arange(CHUNK, int(cum[-1]), CHUNK), side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [plan.n.size]])).tolist()
    outs: list[_Out] = []
    done = 0
    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
        futures = [pool.submit(_chunk, comp, program, t, table, plan, lo, hi, cross_check_stride)
                   for lo, hi in zip(bounds, bounds[1:])]
        try:
            for (lo, hi), fut in zip(zip(bounds, bounds[1:]), futures):
                outs.append(fut.result())
                done += int(plan.n[lo:hi].sum())
                if progress:
                    progress(done, total)
        except BaseException:
            for fut in futures:   # a failed check (or Ctrl-C): do not run the rest
                fut.cancel()
            raise
    omax = np.concatenate([o.omax for o in outs])
    oarg = np.concatenate([o.oarg for o in outs]).astype(np.int64)
    i = int(np.argmax(omax))                       # the first maximum in ordinal order
    argmax = float(from_ordinal(plan.ostart[i] + oarg[i]))
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(np.sum(np.concatenate([o.osum for o in outs]))) / total
    ncr = int(sum(int(o.oncr.sum()) + o.ncr_fix for o in outs))
    lo_f, hi_f = float(from_ordinal(a)), float(from_ordinal(b))
    return FastVerifyResult(
        float(omax[i]), mean, argmax, ncr, total, time.perf_counter() - t0, (lo_f, hi_f),
        reference=table.describe(), exhaustive=True, cross_checked=sum(o.checked for o in outs),
        worst=_worst(plan, omax, oarg, top), reference_ulp=table.ulp_error,
        fallback_inputs=int(np.sum(plan.n[plan.kind == ref.FALLBACK], dtype=np.int64)),
        reference_check_ulp=max(o.ref_diff for o in outs), mpmath_decided=sum(o.decided for o in outs),
        undecided=sum(o.undecided for o in outs))


def _worst(plan: _Plan, omax: np.ndarray, oarg: np.ndarray, top: int) -> tuple[tuple[float, float], ...]:
    """The `top` largest block maxima (first argmax within the block), largest first."""
    if top <= 0:
        return ()
    starts = np.flatnonzero(np.concatenate([[True], plan.block[1:] != plan.block[:-1]]))
    bmax = np.maximum.reduceat(omax, starts)
    order = np.argsort(-bmax, kind="stable")[:top]
    ends = np.concatenate([starts[1:], [omax.size]])
    out = []
    for k in order:
        seg = starts[k] + int(np.argmax(omax[starts[k]:ends[k]] == bmax[k]))
        out.append((float(from_ordinal(plan.ostart[seg] + oarg[seg])), float(bmax[k])))
    return tuple(out)


__all__ = ["FastVerifyResult", "verify_program", "Compiled", "fast_verify", "compile_verifier", "optimised_ir", "driver_text",
           "error_rules",
           "CROSS_CHECK_STRIDE", "W", "SUB", "BLOCK"]


def verify_program(p: Program, target: Target, interval: tuple[float, float] | None = None,
                   progress: ProgressFn | None = None, threads: int | None = None) -> FastVerifyResult:
    """Exhaustive check of a float32 program: one fused LLVM loop runs the program, a
    certified piecewise-polynomial reference and the error, cross-checked against the
    interpreter; the result also holds the inputs of the largest errors (`worst`)."""
    return fast_verify(p, target, interval, progress=progress, threads=threads)
