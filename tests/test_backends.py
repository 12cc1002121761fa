"""Compiled backends against the interpreter: bit for bit on random programs and
special inputs (XLA exact mode, LLVM, gcc); XLA native mode's systematic
differences found by the probe; lowering/compile errors; the speed harness and
`evo bench kernel`."""
from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import horner, lsq_exp2_coeffs, same_f32

from evo.backends import (
    BACKENDS,
    REGISTRY,
    CompileError,
    LoweringError,
    probe,
    run_backend,
    structure_key,
)
from evo.backends import gcc as gccb
from evo.backends import llvm as llvmb
from evo.backends import timing as T
from evo.backends import xla as xlab
from evo.backends.findings import SPECIALS
from evo.cli import main
from evo.core.interp import evaluate
from evo.core.ir import CONST, Instr, Program, X, dumps
from primitives import OPS

N_INPUTS = 48  # fixed length: one XLA compile per program structure, not per input size
F32 = np.float32


# -- random programs from the op table -------------------------------------------

finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
any_f32 = st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True)


@st.composite
def programs(draw: st.DrawFn, max_ops: int = 7) -> Program:
    instrs = [Instr(X)]
    for _ in range(draw(st.integers(1, max_ops))):
        if draw(st.booleans()):
            instrs.append(Instr(CONST, (), float(F32(draw(finite_f32)))))
        op = OPS[draw(st.sampled_from(sorted(OPS)))]
        args = tuple(draw(st.integers(0, len(instrs) - 1)) for _ in range(op.arity))
        instrs.append(Instr(op.name, args))
    return Program(tuple(instrs), len(instrs) - 1)


@st.composite
def inputs(draw: st.DrawFn) -> np.ndarray:
    drawn = draw(st.lists(any_f32, min_size=N_INPUTS - len(SPECIALS), max_size=N_INPUTS - len(SPECIALS)))
    return np.concatenate([SPECIALS, np.array(drawn, F32)])


def _agree(p: Program, x: np.ndarray, backends: tuple[str, ...], zero_sign_free: bool = False) -> None:
    want = evaluate(p, x, F32)
    for b in backends:
        got = run_backend(p, x, b)
        bad = ~same_f32(want, got)
        if zero_sign_free:
            bad &= ~((want == 0) & (got == 0))
        assert not bad.any(), (f"{b} differs on {p}: x={x[bad][:4]} interp={want[bad][:4]} {b}={got[bad][:4]}")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), inputs())
def test_interp_xla_exact_llvm_bit_for_bit(p: Program, x: np.ndarray) -> None:
    _agree(p, x, ("xla-exact", "llvm"))


@pytest.mark.skipif(gccb.gcc_path() is None, reason="no gcc")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_ops=5), inputs())
def test_gcc_kernel_bit_for_bit(p: Program, x: np.ndarray) -> None:
    # gcc 12 with FMA turns -fmaf(a, b, c) into fnmsub, -(a*b) - c, whatever the flags: an
    # exact zero loses its sign. The probe reports it; only then is the sign of zero let go.
    neg_fma = any(ins.op == "neg" and p.instrs[ins.args[0]].op == "fma" for ins in p.instrs)
    _agree(p, x, ("gcc",), zero_sign_free=neg_fma and _finding("gcc", "neg-fma").differs)


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_on_special_pairs(name: str) -> None:
    """Each op of the table on every pair of special values (as x and a constant)."""
    op = OPS[name]
    x = SPECIALS
    for c in SPECIALS[np.isfinite(SPECIALS)][::3]:
        const = Instr(CONST, (), float(c))
        args = {1: (0,), 2: (0, 1), 3: (0, 1, 0)}[op.arity]
        _agree(Program((Instr(X), const, Instr(name, args)), 2), x, ("xla-exact", "llvm"))


def test_fma_horner_native_xla_is_exact_on_the_interval() -> None:
    """Native XLA gets fma from its own contraction of a*b + c: verified fused here."""
    p = horner(lsq_exp2_coeffs(6), use_fma=True)
    x = T.points((0.0, 1.0), 4096)
    assert same_f32(run_backend(p, x, "xla"), evaluate(p, x)).all()


# -- what XLA really computes ------------------------------------------------------

def _raw_xla(f, x: float) -> float:
    return float(np.asarray(jax.jit(f)(np.array([x], F32)))[0])


def _finding(backend: str, name: str):
    return next(f for f in probe(backend) if f.name == name)


def test_probe_reports_xla_ftz_if_this_cpu_flushes() -> None:
    flushes = _raw_xla(lambda v: v * F32(0.5), 2.0 ** -126) == 0.0
    assert _finding("xla", "ftz").differs == flushes
    reads_zero = _raw_xla(lambda v: v * F32(2.0 ** 24), 2.0 ** -140) == 0.0
    assert _finding("xla", "daz").differs == reads_zero


def test_probe_reports_xla_contraction_if_it_fuses() -> None:
    b, c = F32(1 / 3), F32(-0.4)
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 2, 1000).astype(F32)
    fused = not np.array_equal(np.asarray(jax.jit(lambda v: v * b + c)(x)), x * b + c)
    f = _finding("xla", "contraction")
    assert f.differs == fused
    if fused:
        assert f.detail["same_as_fused"] == 1.0


def _needs(backend: str) -> list:
    """Marks for a test of `backend`: gcc ones are skipped where there is no gcc."""
    return [pytest.mark.skipif(gccb.gcc_path() is None, reason="no gcc")] if backend == "gcc" else []


@pytest.mark.parametrize("backend", [pytest.param(b.name, marks=_needs(b.name)) for b in REGISTRY.values() if b.exact])
def test_exact_backends_have_no_findings(backend: str) -> None:
    """An exact row shows no probe finding but those it tolerates (gcc: at most the negated fma)."""
    differs = [f for f in probe(backend) if f.differs]
    assert [str(f) for f in differs if f.name not in REGISTRY[backend].tolerated] == []


def test_interpreter_keeps_subnormals_after_backends_ran() -> None:
    """Nothing we load (XLA, LLVM, the C library loops) may switch the process to FTZ/DAZ."""
    T._libm(True), T._libm(False)
    run_backend(Program.identity(), SPECIALS, "xla")
    assert F32(2.0 ** -126) * F32(0.5) != 0
    assert F32(2.0 ** -140) * F32(2.0 ** 24) != 0


# -- LLVM code quality ---------------------------------------------------------

def test_llvm_kernel_is_vectorised_without_fast_math() -> None:
    p = horner(lsq_exp2_coeffs(6), use_fma=True)
    text = llvmb.optimised_ir(p)
    assert llvmb.vector_width(p) >= 4, "loop not vectorised"
    assert "llvm.fma.v" in text  # the fma intrinsic, vectorised
    assert " fast " not in text and "contract" not in text


def test_llvm_bench_driver_runs_the_kernel_reps_times() -> None:
    p = horner(lsq_exp2_coeffs(6), use_fma=True)
    k = llvmb.compile_kernel(p)
    x = T.points((0.0, 1.0), 1000)
    out = np.zeros_like(x)
    k.repeat(x, out, 3)
    assert same_f32(out, evaluate(p, x)).all()


# -- errors ----------------------------------------------------------------------

@pytest.fixture
def bogus_op(monkeypatch):
    """A temporary op table row with no llvm emitter and no jax function."""
    row = dataclasses.replace(OPS["neg"], name="bogus", llvm=None, jax=None, jax_native=None)
    monkeypatch.setitem(OPS, "bogus", row)
    return Program((Instr(X), Instr("bogus", (0,))), 1)


@pytest.mark.parametrize("backend", ["llvm", "xla", "xla-exact"])
def test_missing_lowering_names_op_and_backend(bogus_op: Program, backend: str) -> None:
    with pytest.raises(LoweringError, match=rf"op 'bogus' cannot be lowered by the {backend.split('-')[0]} backend"):
        run_backend(bogus_op, SPECIALS, backend)


def test_unknown_op_names_op_and_backend(bogus_op: Program, monkeypatch) -> None:
    monkeypatch.delitem(OPS, "bogus")
    with pytest.raises(LoweringError, match=r"op 'bogus' .* llvm backend: not in the op table"):
        llvmb.compile_kernel(bogus_op)


def test_llvm_compile_failure_is_reported_with_the_program(monkeypatch) -> None:
    def invalid(b, a):  # uses a value before defining it: parses, fails verification
        blk = b.block
        v = b.fadd(a[0], a[0])
        b.position_at_start(blk)
        w = b.fmul(v, v)
        b.position_at_end(blk)
        return w

    monkeypatch.setitem(OPS, "broken", dataclasses.replace(OPS["neg"], name="broken", llvm=invalid))
    p = Program((Instr(X), Instr("broken", (0,))), 1)
    with pytest.raises(CompileError, match=rf"llvm backend failed to compile program {p.hash()} \(broken\(x\)\)") as e:
        llvmb.compile_kernel(p)
    assert e.value.program == p


def test_unknown_backend_is_a_user_error() -> None:
    with pytest.raises(Exception, match="unknown backend 'cuda'"):
        run_backend(Program.identity(), SPECIALS, "cuda")
    assert "xla" in BACKENDS and "llvm" in BACKENDS


# -- the backend table -------------------------------------------------------------

def test_config_choices_are_read_off_the_table() -> None:
    from evo.evolution.config import COSTS, SEMANTICS

    assert BACKENDS == ("interp", "llvm", "xla", "xla-exact", "gcc")
    assert set(COSTS) == {"ops", "xla", "llvm"} and COSTS[0] == "ops"
    assert SEMANTICS == ("interp", "llvm", "xla", "xla-exact")
    assert [b.name for b in REGISTRY.values() if not b.exact] == ["xla"]


@pytest.mark.parametrize("backend", [pytest.param(b, marks=_needs(b)) for b in BACKENDS])
def test_every_row_computes_the_program(backend: str) -> None:
    """Each row's compiler on an fma Horner kernel (native XLA too: it contracts nothing there)."""
    p = horner(lsq_exp2_coeffs(6), use_fma=True)
    x = T.points((0.0, 1.0), 1000)
    assert same_f32(REGISTRY[backend].compile(p)(x), evaluate(p, x)).all()


@pytest.mark.parametrize("backend", [pytest.param(b.name, marks=_needs(b.name))
                                     for b in REGISTRY.values() if b.runner is not None])
def test_every_timed_row_is_timed(backend: str) -> None:
    p = horner(lsq_exp2_coeffs(3), use_fma=True)
    t = T.kernel_timing(p, backend, (0.0, 1.0), n=1000, repeats=3, min_sample_s=1e-4)
    assert t.ns_per_elem > 0 and t.n == 1000 * (T.AZ_ITERS if t.protocol == "az" else 1)


def test_untimed_backend_is_a_user_error() -> None:
    with pytest.raises(Exception, match=r"unknown speed backend 'interp' \(known: llvm, xla, gcc\)"):
        T.kernel_cost(Program.identity(), "interp", (0.0, 1.0))


def test_backends_import_jax_only_when_used() -> None:
    """The table, the config and an LLVM run leave jax unimported (`evo --help` stays fast)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; import evo.evolution.config; from evo.backends import run_backend; "
            "from evo.core.ir import Program; run_backend(Program.identity(), np.ones(4, np.float32), 'llvm'); "
            "print('jax' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


@pytest.mark.skipif(gccb.gcc_path() is None, reason="no gcc")
def test_gcc_driver_reports_the_first_error_on_one_line() -> None:
    with pytest.raises(gccb.GccError, match=r"\.c does not compile: .*error") as e:
        gccb.build_so("float f(float x) { return x +; }\n", "bad", ("-O2",))
    assert "\n" not in str(e.value) and "error" in e.value.stderr


@pytest.mark.skipif(gccb.gcc_path() is None, reason="no gcc")
def test_gcc_driver_links_fast_math_objects_without_ftz() -> None:
    """Linked with -ffast-math, gcc would add crtfastmath.o, which sets FTZ/DAZ on loading."""
    so = gccb.build_so("float half(float x) { return x * 0.5f; }\n", "fast", ("-O2", "-ffast-math"))
    gccb.load(so)
    assert F32(2.0 ** -126) * F32(0.5) != 0


# -- speed harness -----------------------------------------------------------------

def test_structure_key_ignores_constants() -> None:
    p = horner(lsq_exp2_coeffs(6), use_fma=True)
    assert structure_key(p) == structure_key(p.with_constants(p.constants * 1.5))
    assert structure_key(p) != structure_key(horner(lsq_exp2_coeffs(5), use_fma=True))


def test_kernel_cost_llvm_is_cached_per_structure_and_fast() -> None:
    import time

    p = horner(lsq_exp2_coeffs(6), use_fma=True)
    t0 = time.perf_counter()
    c = T.kernel_cost(p, "llvm", (0.0, 1.0))
    assert 0 < c < 100 and time.perf_counter() - t0 < 1.0
    assert T.kernel_cost(p.with_constants(p.constants * 1.01), "llvm", (0.0, 1.0)) == c
    assert T.kernel_cost(p, "llvm", (0.0, 1.0), fresh=True) > 0
    assert T.cost_noise(p, "llvm", (0.0, 1.0), trials=3) >= 0


def test_kernel_cost_xla() -> None:
    p = horner(lsq_exp2_coeffs(3), use_fma=False)
    assert 0 < T.kernel_cost(p, "xla", (0.0, 1.0), repeats=3) < 1000


def test_measure_reports_median_and_quartiles() -> None:
    x = T.points((0.0, 1.0), 2000)
    out = np.empty_like(x)
    (t,) = T.measure([T.Runner("np.exp2", "call", lambda k: [np.exp2(x, out=out) for _ in range(k)], x.size)],
                     repeats=5, min_sample_s=1e-4)
    assert t.lo <= t.q1 <= t.ns_per_elem <= t.q3 <= t.hi and t.repeats == 5 and t.n == 2000


def test_compile_times_are_measured() -> None:
    p = horner(lsq_exp2_coeffs(5), use_fma=False)  # 10 ops
    assert p.n_ops == 10
    assert 0 < llvmb.compile_seconds(p) < 5
    assert 0 < xlab.compile_seconds(p) < 30


# -- evo bench kernel --------------------------------------------------------------

def _cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bench_kernel_json(tmp_path, capsys) -> None:
    f = tmp_path / "p.json"
    f.write_text(dumps(horner(lsq_exp2_coeffs(6), use_fma=True)))
    code, out, err = _cli(capsys, ["bench", "kernel", str(f), "-t", "exp2", "--repeats", "3", "--points", "2000",
                                   "--json"])
    assert code == 0, err
    d = json.loads(out)
    for b in ("xla", "llvm"):
        assert d[b]["ns_per_elem"] > 0
        assert {"jnp.exp2", "np.exp2", "libm exp2f"} <= set(d[b]["speedup"])
        assert d[b]["speedup"]["jnp.exp2"] == pytest.approx(d["baselines"]["jnp.exp2"]["ns_per_elem"]
                                                            / d[b]["ns_per_elem"])
    if gccb.gcc_path():
        assert "gcc -O3 kernel" in d["llvm"]["speedup"] and d["compile_ms"]["gcc"] > 0
    assert d["compile_ms"]["llvm"] > 0 and d["compile_ms"]["xla"] > 0
    assert {f["name"] for f in d["findings"]["xla"]} >= {"ftz", "contraction"}
    assert d["xla"]["threads"] >= 1 and d["llvm"]["threads"] == 1 and "pinned to CPU" in d["notes"][0]


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity"), reason="Linux only")
def test_one_core_restores_the_affinity() -> None:
    import os

    before = os.sched_getaffinity(0)
    with T.one_core() as note:
        assert len(os.sched_getaffinity(0)) == 1 and "pinned" in note
    assert os.sched_getaffinity(0) == before


def test_bench_kernel_text_custom_target(tmp_path, capsys) -> None:
    f = tmp_path / "p.json"
    f.write_text(dumps(horner([1.0, 0.5, 0.25], use_fma=True)))
    code, out, err = _cli(capsys, ["bench", "kernel", str(f), "-t", "cosh(x)", "--interval", "0,1",
                                   "--backend", "llvm", "--repeats", "3", "--points", "1000"])
    assert code == 0, err
    assert "speedup" in out and "llvm" in out and "no library baselines for a custom target" in out


@pytest.mark.parametrize("argv,message", [
    (["bench", "kernel", "{f}"], "a program file needs --target T"),
    (["bench", "kernel", "{f}", "-t", "exp2", "--id", "3"], "--id needs a run directory"),
    (["bench", "kernel", "{d}"], "is a run directory: choose a front member with --id K"),
    (["bench", "kernel", "{d}", "--id", "1"], "not a run (no front.json)"),
    (["bench", "kernel", "{d}/missing.json", "-t", "exp2"], "no such file"),
])
def test_bench_kernel_bad_input(tmp_path, capsys, argv: list[str], message: str) -> None:
    f = tmp_path / "p.json"
    f.write_text(dumps(Program.identity()))
    argv = [a.format(f=f, d=tmp_path) for a in argv]
    code, out, err = _cli(capsys, argv)
    assert code == 2 and err.startswith("evo: error: ") and message in err and err.count("\n") == 1
