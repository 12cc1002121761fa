"""LLVM backend: a program lowered (from the op table) to a loop kernel
`void kernel(const float *x, float *y, int64 n)`, optimised at O3 for the host
CPU with the new pass manager (vectorised), no fast-math flags, JIT-compiled.

Bit-exact with the interpreter: no instruction carries fast-math flags, so LLVM
may not contract a separate fmul + fadd, fma is the `llvm.fma` intrinsic, and
the JIT does not touch the FTZ/DAZ bits (subnormals kept). `probe()` in
evo.backends checks all of this on the running CPU.

Each module also holds `void bench(x, y, n, reps)`, calling the (non-inlined)
kernel `reps` times, so the timing harness measures the loop, not ctypes.
"""

from __future__ import annotations

import ctypes
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir

from ..core.ir import CONST, Program, X, live_instrs
from .common import CompileError, LoweringError, check_lowerable, op_row

__all__ = ["Kernel", "LoweringError", "CompileError", "lower", "compile_ir", "compile_kernel",
           "optimised_ir", "assembly", "vector_width", "compile_seconds"]

# numpy dtype -> (llvmlite type, its LLVM IR name)
_FLOAT_TYPES = {np.dtype(np.float32): (ir.FloatType, "float"), np.dtype(np.float64): (ir.DoubleType, "double")}
COMPILE_LOCK = threading.Lock()  # LLVM's global state is not thread-safe while compiling
_KERNEL_T = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
_BENCH_T = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)


def _new_target_machine() -> Any:
    """A target machine for the host CPU with all its features. An execution engine
    takes ownership of (and frees) the one it is given, so each engine gets its own."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(),
                                        opt=3, jit=True)


@lru_cache(maxsize=1)
def _target_machine() -> Any:
    """The shared one, for optimising and printing only: never handed to an engine."""
    return _new_target_machine()


def lower(p: Program, dtype: type = np.float32, name: str = "kernel") -> ir.Module:
    """llvmlite IR for the loop kernel of `p` (plus its `bench` driver)."""
    fty = _FLOAT_TYPES[np.dtype(dtype)][0]()
    i64 = ir.IntType(64)
    ptr = fty.as_pointer()
    module = ir.Module(name="evo")
    module.triple = llvm.get_process_triple()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr, ptr, i64]), name=name)
    fn.attributes.add("noinline")  # the bench driver must really call it `reps` times
    xs, ys, n = fn.args
    for a in (xs, ys):
        a.add_attribute("noalias")

    def body(b: ir.IRBuilder, i: Any) -> None:
        vals: list[Any] = [None] * len(p.instrs)
        for k, ins in live_instrs(p):
            if ins.op == X:
                vals[k] = b.load(b.gep(xs, [i], inbounds=True))
            elif ins.op == CONST:
                vals[k] = ir.Constant(fty, float(dtype(ins.value)))
            else:
                emit = op_row(ins.op, "llvm", "llvm")
                try:
                    vals[k] = emit(b, [vals[a] for a in ins.args])
                except Exception as e:  # a broken emitter: name the op, keep the cause
                    raise LoweringError(f"op {ins.op!r} cannot be lowered by the llvm backend: "
                                        f"{type(e).__name__}: {e}") from e
        b.store(vals[p.output], b.gep(ys, [i], inbounds=True))

    _counted_loop(fn, n, body)
    _add_bench(module, fn)
    return module


def _add_bench(module: ir.Module, kernel: ir.Function) -> None:
    """void bench(x, y, n, reps): call the kernel reps times."""
    i64 = ir.IntType(64)
    xs_t, ys_t, _ = kernel.function_type.args
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [xs_t, ys_t, i64, i64]), name="bench")
    xs, ys, n, reps = fn.args
    _counted_loop(fn, reps, lambda b, r: b.call(kernel, [xs, ys, n]))


def _counted_loop(fn: ir.Function, count: Any, body: Callable[[ir.IRBuilder, Any], Any]) -> None:
    """fn's whole body: for (i = 0; i < count; i++) body(builder, i); return.
    `body` emits into the one loop block (no blocks of its own)."""
    i64 = ir.IntType(64)
    entry, loop, done = fn.append_basic_block("entry"), fn.append_basic_block("loop"), fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_signed(">", count, i64(0)), loop, done)
    b.position_at_end(loop)
    i = b.phi(i64)
    i.add_incoming(i64(0), entry)
    body(b, i)
    nxt = b.add(i, i64(1))
    i.add_incoming(nxt, loop)
    b.cbranch(b.icmp_signed("<", nxt, count), loop, done)
    b.position_at_end(done)
    b.ret_void()


@dataclass
class Kernel:
    """A JIT-compiled program: call it on a contiguous array."""

    program: Program
    dtype: type
    _engine: Any
    _fn: Any
    _bench: Any = None

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        x = np.ascontiguousarray(x, self.dtype)
        out = np.empty_like(x) if out is None else out
        self._fn(x.ctypes.data, out.ctypes.data, x.size)  # ctypes releases the GIL
        return out

    def repeat(self, x: np.ndarray, out: np.ndarray, reps: int) -> None:
        """Run the kernel `reps` times over x into out, in one native call (for timing).
        x and out must be contiguous arrays of the kernel's dtype and equal size."""
        assert x.dtype == out.dtype == self.dtype and x.flags.c_contiguous and out.flags.c_contiguous
        assert x.size == out.size
        self._bench(x.ctypes.data, out.ctypes.data, x.size, reps)


def optimise(text: str, tm: Any | None = None) -> Any:
    """Parse and optimise a module at O3 (new pass manager, vectorisers on)."""
    tm = tm or _target_machine()
    mod = llvm.parse_assembly(text)
    # The optimiser must see the JIT's data layout (vector costs; MCJIT asserts they match).
    mod.data_layout = str(tm.target_data)
    mod.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod


def compile_ir(text: str, tm: Any | None = None) -> Any:
    """Parse, optimise at O3 (new pass manager, vectorisers on) and JIT a module.
    The engine owns `tm` (default: a fresh one), as llvmlite frees it with the engine."""
    tm = tm or _new_target_machine()
    engine = llvm.create_mcjit_compiler(optimise(text, tm), tm)
    engine.finalize_object()
    return engine


def compile_kernel(p: Program, dtype: type = np.float32) -> Kernel:
    """Lower and JIT `p` (cached by program hash)."""
    check_lowerable(p, "llvm", "llvm")
    return _compile_cached(p.hash(), np.dtype(dtype).name, p)


@lru_cache(maxsize=256)
def _compile_cached(h: str, dtype_name: str, p: Program) -> Kernel:
    return _compile(p, np.dtype(dtype_name).type)


def _compile(p: Program, dtype: type) -> Kernel:
    text = str(lower(p, dtype))
    with COMPILE_LOCK:
        try:
            engine = compile_ir(text)
        except RuntimeError as e:  # llvmlite reports parse/verify/codegen failures so
            raise CompileError("llvm", p, e) from e
        fn = _KERNEL_T(engine.get_function_address("kernel"))
        bench = _BENCH_T(engine.get_function_address("bench"))
    return Kernel(p, dtype, engine, fn, bench)


def compile_seconds(p: Program, dtype: type = np.float32) -> float:
    """Wall time to lower, optimise and JIT `p` (uncached)."""
    t0 = time.perf_counter()
    _compile(p, dtype)
    return time.perf_counter() - t0


def optimised_ir(p: Program, dtype: type = np.float32) -> str:
    """The module of `p` after the O3 pipeline (look for <16 x float>: vectorised)."""
    with COMPILE_LOCK:
        return str(optimise(str(lower(p, dtype))))


def assembly(p: Program, dtype: type = np.float32) -> str:
    """Host assembly of the optimised module of `p`."""
    with COMPILE_LOCK:
        tm = _target_machine()
        return tm.emit_assembly(optimise(str(lower(p, dtype)), tm))


def vector_width(p: Program, dtype: type = np.float32) -> int:
    """Widest <N x float> vector in the optimised kernel (1 = not vectorised)."""
    elem = _FLOAT_TYPES[np.dtype(dtype)][1]
    widths = [int(w) for w in re.findall(rf"<(\d+) x {elem}>", optimised_ir(p, dtype))]
    return max(widths, default=1)
