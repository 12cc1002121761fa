"""LLVM backend: a program lowered (from the op table) to a loop kernel
`void kernel(const float *x, float *y, int64 n)`, optimised at O3 for the host
CPU with the new pass manager (vectorised), no fast-math flags, JIT-compiled.
"""
from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir

from primitives import OPS

from ..errors import EvoError
from ..ir import CONST, X, Program, _reachable

_lock = threading.Lock()
_KERNEL_T = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


class LoweringError(EvoError):
    pass


@lru_cache(maxsize=1)
def _target_machine() -> Any:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(),
                                        opt=3, jit=True)


def lower(p: Program, dtype: type = np.float32, name: str = "kernel") -> ir.Module:
    """llvmlite IR for the loop kernel of `p`."""
    fty = ir.FloatType() if dtype == np.float32 else ir.DoubleType()
    i64 = ir.IntType(64)
    ptr = fty.as_pointer()
    module = ir.Module(name="evo")
    module.triple = llvm.get_process_triple()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr, ptr, i64]), name=name)
    xs, ys, n = fn.args
    for a in (xs, ys):
        a.add_attribute("noalias")
    entry, loop, done = fn.append_basic_block("entry"), fn.append_basic_block("loop"), fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_signed(">", n, i64(0)), loop, done)
    b.position_at_end(loop)
    i = b.phi(i64)
    i.add_incoming(i64(0), entry)
    live = _reachable(p)
    vals: list[Any] = [None] * len(p.instrs)
    for k, ins in enumerate(p.instrs):
        if not live[k]:
            continue
        if ins.op == X:
            vals[k] = b.load(b.gep(xs, [i], inbounds=True))
        elif ins.op == CONST:
            vals[k] = ir.Constant(fty, float(dtype(ins.value)))
        else:
            op = OPS.get(ins.op)
            if op is None or op.llvm is None:
                raise LoweringError(f"op {ins.op!r} cannot be lowered by the llvm backend")
            vals[k] = op.llvm(b, [vals[a] for a in ins.args])
    b.store(vals[p.output], b.gep(ys, [i], inbounds=True))
    nxt = b.add(i, i64(1))
    i.add_incoming(nxt, loop)
    b.cbranch(b.icmp_signed("<", nxt, n), loop, done)
    b.position_at_end(done)
    b.ret_void()
    return module


@dataclass
class Kernel:
    """A JIT-compiled program: call it on a contiguous array."""

    program: Program
    dtype: type
    _engine: Any
    _fn: Any

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        x = np.ascontiguousarray(x, self.dtype)
        out = np.empty_like(x) if out is None else out
        self._fn(x.ctypes.data, out.ctypes.data, x.size)  # ctypes releases the GIL
        return out


def compile_ir(text: str, tm: Any | None = None) -> Any:
    """Parse, optimise at O3 (new pass manager, vectorisers on) and JIT a module."""
    tm = tm or _target_machine()
    mod = llvm.parse_assembly(text)
    mod.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    return engine


def compile_kernel(p: Program, dtype: type = np.float32) -> Kernel:
    """Lower and JIT `p` (cached by program hash)."""
    return _compile_cached(p.hash(), np.dtype(dtype).name, p)


@lru_cache(maxsize=256)
def _compile_cached(h: str, dtype_name: str, p: Program) -> Kernel:
    dtype = np.dtype(dtype_name).type
    text = str(lower(p, dtype))
    with _lock:  # LLVM's global state is not thread-safe while compiling
        engine = compile_ir(text)
        fn = _KERNEL_T(engine.get_function_address("kernel"))
    return Kernel(p, dtype, engine, fn)
