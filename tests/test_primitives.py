"""primitives/: the exact float32 fma, float32 ordinals, and the op table (every row)."""
from __future__ import annotations

import inspect
import string
import warnings
import zlib

import mpmath
import numpy as np
import pytest
from support import compile_c, f32_ptr, mp_round_f32, same_f32

from primitives import DEFAULT_SEARCH_OPS, OPS, fma32, get_op
from primitives.float32 import f32_range, from_ordinal, to_ordinal

F32 = np.float32
RNG_SEED = 20240601


def bits(x) -> np.ndarray:
    return np.asarray(x, F32).view(np.uint32)


def f32_from_parts(rng: np.random.Generator, n: int, emin: int, emax: int, mant_bits: int = 23) -> np.ndarray:
    """Random float32 with unbiased exponents in [emin, emax] and `mant_bits` random mantissa bits."""
    e = rng.integers(emin, emax + 1, n)
    m = rng.integers(0, 1 << mant_bits, n) << (23 - mant_bits)
    s = rng.integers(0, 2, n)
    return ((s << 31) | ((e + 127) << 23) | m).astype(np.uint32).view(F32)


def assert_fma_matches(fmaf, a, b, c) -> None:
    a, b, c = (np.ascontiguousarray(v, F32) for v in np.broadcast_arrays(a, b, c))
    got, want = fma32(a, b, c), fmaf(a, b, c)
    assert got.dtype == F32 and got.shape == a.shape
    bad = ~same_f32(got, want)
    if bad.any():
        i = int(np.argmax(bad))
        pytest.fail(f"{int(bad.sum())} of {a.size} differ; first: fma({a[i]!r}, {b[i]!r}, {c[i]!r}) = "
                    f"{got[i]!r} (0x{int(bits(got[i])):08x}), fmaf gives {want[i]!r} (0x{int(bits(want[i])):08x})")


# -- fma32 against the C library's fmaf -------------------------------------------

def test_c_fmaf_is_fused(c_fmaf):
    """The yardstick itself: 1+2^-12 squared minus its rounded square is the tiny exact tail."""
    a = F32(1 + 2.0 ** -12)
    p = F32(a * a)  # rounded product
    assert float(c_fmaf(a, a, -p)[()]) == 2.0 ** -24


def test_fma32_random_bit_patterns(c_fmaf):
    """10^6 uniformly random bit patterns: every exponent, subnormals, inf and NaN included."""
    rng = np.random.default_rng(RNG_SEED)
    a, b, c = (rng.integers(0, 2 ** 32, 10 ** 6, dtype=np.uint32).view(F32) for _ in range(3))
    assert_fma_matches(c_fmaf, a, b, c)


def test_fma32_random_same_scale(c_fmaf):
    """10^6 random operands where a*b and c have overlapping magnitudes (where rounding is subtle)."""
    rng = np.random.default_rng(RNG_SEED + 1)
    n = 10 ** 6
    a = f32_from_parts(rng, n, -30, 30)
    b = f32_from_parts(rng, n, -30, 30)
    shift = rng.integers(-30, 31, n)
    c = (np.ldexp(a.astype(np.float64) * b, shift) * rng.uniform(-2, 2, n)).astype(F32)
    assert_fma_matches(c_fmaf, a, b, c)


def test_fma32_all_exponent_pairs(c_fmaf):
    """Every (exponent of a, exponent of b) pair, random mantissas, c across the whole range."""
    rng = np.random.default_rng(RNG_SEED + 2)
    ea, eb = np.meshgrid(np.arange(-149, 128), np.arange(-149, 128))
    ea, eb = np.repeat(ea.ravel(), 4), np.repeat(eb.ravel(), 4)
    n = ea.size
    a = np.ldexp(rng.uniform(1, 2, n), ea).astype(F32) * rng.choice([-1, 1], n).astype(F32)
    b = np.ldexp(rng.uniform(1, 2, n), eb).astype(F32)
    c = rng.integers(0, 2 ** 32, n, dtype=np.uint32).view(F32)
    with np.errstate(over="ignore"):
        c = np.where(rng.random(n) < 0.5, c, (-(a.astype(np.float64) * b)).astype(F32))  # half: cancellation
    assert_fma_matches(c_fmaf, a, b, c)


def test_fma32_exact_ties(c_fmaf):
    """a*b + c exactly halfway between two float32: ties go to even (and c one step off the tie)."""
    rng = np.random.default_rng(RNG_SEED + 3)
    n = 400_000
    a = f32_from_parts(rng, n, -20, 20)
    b = f32_from_parts(rng, n, -20, 20)
    p = a.astype(np.float64) * b                          # exact
    lo32 = p.astype(F32)                                   # a float32 neighbour of p
    up = np.nextafter(lo32, np.where(p > lo32, np.inf, -np.inf).astype(F32))
    mid = (lo32.astype(np.float64) + up) / 2               # exact midpoint
    c64 = mid - p                                          # exact in float64
    c = c64.astype(F32)
    tie = c.astype(np.float64) == c64                      # keep those where c is a float32
    a, b, c = a[tie], b[tie], c[tie]
    assert a.size > 10_000
    assert np.all(a.astype(np.float64) * b + c == mid[tie])  # really ties (exact in float64 here)
    assert_fma_matches(c_fmaf, a, b, c)
    for direction in (np.inf, -np.inf):
        assert_fma_matches(c_fmaf, a, b, np.nextafter(c, F32(direction)))


def test_fma32_double_rounding_traps(c_fmaf):
    """a*b is a float32 midpoint and c is far below it: float64 rounding would land on the tie,
    a second rounding would then go the wrong way. The exact answer is decided by c's sign."""
    rng = np.random.default_rng(RNG_SEED + 4)
    n = 400_000
    a = f32_from_parts(rng, n, -10, 10, mant_bits=12)
    b = f32_from_parts(rng, n, -10, 10, mant_bits=12)
    p = a.astype(np.float64) * b
    is_mid = (p.view(np.uint64) & np.uint64((1 << 29) - 1)) == np.uint64(1 << 28)
    a, b, p = a[is_mid], b[is_mid], p[is_mid]
    assert a.size > 10_000
    tiny = np.ldexp(1.0, np.floor(np.log2(np.abs(p))).astype(int) - 60 - rng.integers(0, 40, a.size))
    sign = rng.choice([-1.0, 1.0], a.size)
    c = (sign * tiny).astype(F32)
    assert np.all(c != 0)
    assert_fma_matches(c_fmaf, a, b, c)
    # the plain float64-then-float32 route really is wrong on about half of them
    naive = (p + c.astype(np.float64)).astype(F32)
    assert np.mean(naive != c_fmaf(a, b, c)) > 0.3


def test_fma32_subnormal_results(c_fmaf):
    rng = np.random.default_rng(RNG_SEED + 5)
    n = 300_000
    ea = rng.integers(-100, -20, n)
    eb = rng.integers(-150, -126, n) - ea  # a*b around 2^-150 .. 2^-126
    a = np.ldexp(rng.uniform(1, 2, n), ea).astype(F32)
    b = np.ldexp(rng.uniform(1, 2, n), eb).astype(F32)
    c = np.where(rng.random(n) < 0.5, F32(0),
                 rng.integers(0, 1 << 24, n).astype(np.uint32).view(F32))  # subnormal / tiny normal c
    c = c * rng.choice([-1, 1], n).astype(F32)
    assert_fma_matches(c_fmaf, a, b, c)
    out = fma32(a, b, c)
    assert np.count_nonzero((out != 0) & (np.abs(out) < 2.0 ** -126)) > n // 4  # really subnormal


@pytest.mark.parametrize("a, b, c, want", [
    (2.0 ** -75, 2.0 ** -75, 0.0, 0.0),                        # 2^-150: tie between 0 and 2^-149 -> 0
    (3 * 2.0 ** -76, 2.0 ** -75, 0.0, 2.0 ** -149),            # 1.5 * 2^-150 -> 2^-149
    (2.0 ** -75, 2.0 ** -75, 2.0 ** -149, 2.0 ** -148),        # 1.5 * 2^-149: tie -> even 2^-148
    (2.0 ** -75, 2.0 ** -75, -2.0 ** -149, -0.0),              # -2^-150: tie -> -0
    (2.0 ** -100, 2.0 ** -100, -0.0, 0.0),                     # underflow keeps the sign: +0
    (-(2.0 ** -100), 2.0 ** -100, 0.0, -0.0),                  # ... -0
    (1.0, -1.0, 1.0, 0.0),                                      # exact cancellation -> +0
    (0.0, -1.0, 0.0, 0.0),                                      # -0 + +0 = +0
    (-0.0, 1.0, -0.0, -0.0),                                    # -0 + -0 = -0
    (0.0, 5.0, -0.0, 0.0),
    (1 + 2.0 ** -12, 1 + 2.0 ** -12, -(1 + 2.0 ** -11), 2.0 ** -24),  # cancellation: the tail
    (1 + 2.0 ** -12, 1 + 2.0 ** -12, 0.0, 1 + 2.0 ** -11),     # tie 1+2^-11+2^-24 -> even
    (1 + 2.0 ** -12, 1 + 2.0 ** -12, 2.0 ** -80, 1 + 2.0 ** -11 + 2.0 ** -23),  # just above the tie
    (1 + 2.0 ** -12, 1 + 2.0 ** -12, -(2.0 ** -80), 1 + 2.0 ** -11),
    (2.0 ** 64, 2.0 ** 64, -3.4028234663852886e38, 2.0 ** 104),  # product overflows, result does not
    (2.0 ** 70, 2.0 ** 70, 0.0, np.inf),                      # overflow to inf
    (-(2.0 ** 70), 2.0 ** 70, 0.0, -np.inf),
    (3.4028234663852886e38, 1.0, 2.0 ** 103, np.inf),          # max + half ulp: tie -> inf (even)
    (3.4028234663852886e38, 1.0, 2.0 ** 103 - 2.0 ** 79, 3.4028234663852886e38),
    (np.inf, 0.0, 1.0, np.nan),
    (np.inf, 1.0, -np.inf, np.nan),
    (np.inf, 1.0, 1.0, np.inf),
    (-np.inf, 2.0, 1e30, -np.inf),
    (1.0, 1.0, np.nan, np.nan),
    (np.nan, 0.0, 1.0, np.nan),
    (1e38, 10.0, -np.inf, -np.inf),
])
def test_fma32_hard_cases(c_fmaf, a, b, c, want):
    got = fma32(np.array([a], F32), np.array([b], F32), np.array([c], F32))
    assert same_f32(got, c_fmaf(F32(a), F32(b), F32(c)).reshape(1)).all()
    assert same_f32(got, np.array([want], F32)).all(), (got, want)


def test_fma32_scalars_and_broadcasting():
    x = np.linspace(0, 1, 7, dtype=F32)
    got = fma32(x, F32(3.0), 1.0)
    assert got.dtype == F32 and got.shape == x.shape
    assert np.array_equal(got, x * F32(3) + F32(1))  # exact for these values
    assert fma32(F32(2), F32(3), F32(4)).shape == ()


def test_fma32_quiet_on_nan_and_overflow():
    """No RuntimeWarning leaks for NaN inputs or overflowing results (the interpreter is quiet)."""
    a = np.array([np.nan, 1e38, np.inf, 0.0], F32)
    b = np.array([1.0, 1e38, 0.0, np.inf], F32)
    c = np.array([1.0, 0.0, 1.0, np.nan], F32)
    sn = np.array([0x7F800001], np.uint32).view(F32)  # a signalling NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fma32(a, b, c)
        fma32(sn, sn, sn)


# -- ordinals --------------------------------------------------------------------

def test_ordinals_consecutive_and_monotone():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2 ** 32, 200_000, dtype=np.uint32).view(F32)
    x = x[np.isfinite(x)]
    o = to_ordinal(x)
    assert same_f32(from_ordinal(o), np.where(x == 0, F32(0), x)).all()
    # consecutive ordinals are consecutive floats
    up = x[x != np.finfo(F32).max]
    assert np.array_equal(to_ordinal(np.nextafter(up, F32(np.inf))), to_ordinal(up) + 1)
    s = np.sort(x)
    assert np.all(np.diff(to_ordinal(s)) >= 0)


def test_ordinal_landmarks():
    assert int(to_ordinal(F32(0.0))) == int(to_ordinal(F32(-0.0))) == 0
    assert int(to_ordinal(F32(2.0 ** -149))) == 1 and int(to_ordinal(F32(-(2.0 ** -149)))) == -1
    assert int(to_ordinal(F32(1.0))) == 0x3F800000
    assert int(to_ordinal(F32(np.inf))) == 0x7F800000
    assert float(from_ordinal(0x3F800001)) == 1 + 2.0 ** -23


@pytest.mark.parametrize("lo, hi, count", [
    (1.0, 2.0, 2 ** 23 + 1),
    (0.0, 1.0, 0x3F800000 + 1),
    (-1.0, 1.0, 2 * 0x3F800000 + 1),   # -0 and +0 are one ordinal
    (0.1, 0.2, None),
    (1.0, 1.001, None),
])
def test_f32_range(lo, hi, count):
    a, b = f32_range(lo, hi)
    first, last = float(from_ordinal(a)), float(from_ordinal(b))
    assert lo <= first and last <= hi
    assert float(from_ordinal(a - 1)) < lo and float(from_ordinal(b + 1)) > hi  # nothing left out
    if count is not None:
        assert b - a + 1 == count


# -- the op table: every row ---------------------------------------------------------

ROWS = list(OPS.values())
ids = [op.name for op in ROWS]


def n_positional(fn) -> int:
    if isinstance(fn, np.ufunc):
        return fn.nin
    params = inspect.signature(fn).parameters.values()
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in params)


def op_inputs(op, n: int, seed: int, emin: int = -20, emax: int = 20) -> list[np.ndarray]:
    """Random normal-range float32 arguments valid for `op` (sqrt: >= 0; div: b != 0)."""
    rng = np.random.default_rng(seed)
    args = [f32_from_parts(rng, n, emin, emax) for _ in range(op.arity)]
    if op.name == "sqrt":
        args[0] = np.abs(args[0])
    return args


def test_table_shape():
    assert set(DEFAULT_SEARCH_OPS) <= set(OPS)
    assert {"add", "sub", "mul", "div", "fma", "neg"} <= set(OPS)
    assert OPS["fma"].arity == 3 and OPS["fma"].commute == 2
    assert not OPS["sub"].commutative and not OPS["div"].commutative
    assert get_op("mul") is OPS["mul"]
    with pytest.raises(KeyError, match=r"unknown op 'pow' \(known: add, sub, mul, div, fma, neg, sqrt\)"):
        get_op("pow")


@pytest.mark.parametrize("op", ROWS, ids=ids)
def test_row_fields(op):
    assert OPS[op.name] is op and op.name.isidentifier()
    assert op.arity >= 1 and op.commute in (0, 2) and op.commute <= op.arity
    assert op.cost > 0
    for fn in (op.f32, op.f64, op.exact, op.jax):
        assert n_positional(fn) == op.arity, fn
    for name in ("partials", "jax_native"):  # optional per-row extras
        fn = getattr(op, name, None)
        if fn is not None:
            assert n_positional(fn) == op.arity, name
    assert callable(op.llvm)
    if op.symbol:
        assert op.arity == 2


@pytest.mark.parametrize("op", ROWS, ids=ids)
def test_c_template_placeholders(op):
    fields = [f for _, f, _, _ in string.Formatter().parse(op.c) if f is not None]
    assert sorted(fields) == [str(i) for i in range(op.arity)]  # each argument exactly once
    text = op.c.format(*(f"a{i}" for i in range(op.arity)))
    assert text.count("(") == text.count(")")


@pytest.mark.parametrize("op", ROWS, ids=ids)
def test_f32_is_float32_and_correctly_rounded(op):
    """The float32 row against the exact (mpmath) meaning rounded once to float32."""
    args = op_inputs(op, 1500, seed=zlib.crc32(op.name.encode()))
    y = op.f32(*args)
    assert isinstance(y, np.ndarray) and y.dtype == F32 and y.shape == args[0].shape
    with mpmath.workprec(400):
        want = [mp_round_f32(op.exact(*(mpmath.mpf(float(a[i])) for a in args))) for i in range(y.size)]
    assert same_f32(y, np.array(want, F32)).all()


@pytest.mark.parametrize("op", ROWS, ids=ids)
def test_f64_is_correctly_rounded_on_float32_inputs(op):
    args = [a.astype(np.float64) for a in op_inputs(op, 500, seed=1 + zlib.crc32(op.name.encode()))]
    y = op.f64(*args)
    assert y.dtype == np.float64
    with mpmath.workprec(400):
        want = [op.exact(*(mpmath.mpf(float(a[i])) for a in args)) for i in range(y.size)]
    with mpmath.workprec(53):
        want = np.array([float(+w) for w in want])  # mpmath rounds to nearest even at 53 bits
    assert np.array_equal(y, want)


@pytest.mark.parametrize("op", [op for op in ROWS if op.commutative], ids=lambda op: op.name)
def test_commutative_rows_really_commute(op):
    rng = np.random.default_rng(3)
    args = [rng.integers(0, 2 ** 32, 100_000, dtype=np.uint32).view(F32) for _ in range(op.arity)]
    swapped = [args[1], args[0], *args[2:]]
    with np.errstate(all="ignore"):
        assert same_f32(op.f32(*args), op.f32(*swapped)).all()


@pytest.mark.parametrize("op", [op for op in ROWS if not op.commutative and op.arity == 2],
                         ids=lambda op: op.name)
def test_non_commutative_rows_do_not_commute(op):
    a, b = np.array([3.0], F32), np.array([2.0], F32)
    assert op.f32(a, b)[0] != op.f32(b, a)[0]


@pytest.fixture(scope="module")
def c_ops(tmp_path_factory):
    """Every row's C template compiled into `void op_NAME(const float *a0, ..., float *out, long n)`."""
    src = ["#include <math.h>"]
    for op in ROWS:
        params = ", ".join(f"const float *a{i}" for i in range(op.arity))
        expr = op.c.format(*(f"a{i}[i]" for i in range(op.arity)))
        src.append(f"void op_{op.name}({params}, float *out, long n) "
                   f"{{ for (long i = 0; i < n; i++) out[i] = {expr}; }}")
    lib = compile_c("\n".join(src), tmp_path_factory.mktemp("cops"), "ops")
    if lib is None:
        pytest.fail("gcc is needed to check the C templates")
    return lib


@pytest.mark.parametrize("op", ROWS, ids=ids)
def test_c_template_bit_exact(op, c_ops):
    """The C expression computes exactly the float32 row (all bit patterns, subnormals too)."""
    rng = np.random.default_rng(11)
    n = 200_000
    args = [rng.integers(0, 2 ** 32, n, dtype=np.uint32).view(F32) for _ in range(op.arity)]
    out = np.empty(n, F32)
    getattr(c_ops, f"op_{op.name}")(*(f32_ptr(a) for a in args), f32_ptr(out), n)
    with np.errstate(all="ignore"):
        assert same_f32(op.f32(*args), out).all()


@pytest.mark.parametrize("op", ROWS, ids=ids)
def test_llvm_emitter_bit_exact(op):
    """Each row's llvmlite emitter, in a JIT kernel, agrees with the float32 row bit for bit."""
    from evo.backends.llvm import compile_kernel
    from evo.core.interp import evaluate
    from evo.core.ir import Instr, Program

    # op(x, c1, c2...) so that a one-input kernel exercises every argument
    consts = [1.3125, -0.7109375][: op.arity - 1]
    instrs = [Instr("x"), *(Instr("const", (), c) for c in consts),
              Instr(op.name, tuple(range(op.arity)))]
    p = Program(tuple(instrs), len(instrs) - 1)
    rng = np.random.default_rng(5)
    x = rng.integers(0, 2 ** 32, 100_000, dtype=np.uint32).view(F32)
    assert same_f32(compile_kernel(p)(x), evaluate(p, x)).all()


@pytest.mark.parametrize("op", [op for op in ROWS if getattr(op, "partials", None) is not None],
                         ids=lambda op: op.name)
def test_partials_match_mpmath_derivatives(op):
    """d op / d arg_k (used to fit constants through any program) against mpmath.diff of `exact`."""
    rng = np.random.default_rng(21)
    args = [rng.uniform(0.5, 2.0, 40) * rng.choice([-1, 1], 40) for _ in range(op.arity)]
    if op.name == "sqrt":
        args[0] = np.abs(args[0])
    got = op.partials(*args)
    assert len(got) == op.arity
    for k in range(op.arity):
        d = np.broadcast_to(np.asarray(got[k], np.float64), args[0].shape)
        for i in range(args[0].size):
            point = [mpmath.mpf(float(a[i])) for a in args]

            def along_k(t, point=point, k=k):
                return op.exact(*point[:k], t, *point[k + 1:])

            want = float(mpmath.diff(along_k, point[k]))
            assert d[i] == pytest.approx(want, rel=1e-12, abs=1e-12), (op.name, k, point)


@pytest.mark.parametrize("op", ROWS, ids=ids)
def test_jax_row_bit_exact_on_normal_range(op):
    """The JAX row agrees with the float32 row on normal-range values (XLA flushes subnormals)."""
    import jax

    with jax.enable_x64(True):  # the fma row computes through float64
        args = op_inputs(op, 20_000, seed=13, emin=-30, emax=30)
        got = np.asarray(jax.jit(op.jax)(*args))
    assert got.dtype == F32
    assert same_f32(got, op.f32(*args)).all()
