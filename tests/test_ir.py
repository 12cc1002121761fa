"""evo/core/ir.py (and the interpreter that defines program meaning): validation messages,
JSON round-trip, hash stability, canonical form, prune/fold, rendering, cost."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import horner, same_f32

from evo.core.interp import evaluate
from evo.core.ir import (
    Instr,
    Program,
    canonical,
    dumps,
    fold,
    from_dict,
    loads,
    prune,
    render,
    simplify,
    to_dict,
)
from evo.errors import ProgramError
from primitives import OPS

F32 = np.float32
KNOWN = "add, sub, mul, div, fma, neg, sqrt"
PROBE = np.concatenate([
    np.linspace(-3, 3, 61, dtype=F32),
    np.array([0.0, -0.0, 2.0 ** -149, -(2.0 ** -140), 1e-30, 1e30, 0.1, 0.7, 1.5], F32),
    np.random.default_rng(0).uniform(0, 1, 200).astype(F32),
])


def X():
    return Instr("x")


def C(v):
    return Instr("const", (), v)


def P(*instrs, output=None):
    return Program(tuple(instrs), len(instrs) - 1 if output is None else output)


# -- random valid programs -----------------------------------------------------------

constants = st.one_of(
    st.floats(-4, 4, allow_nan=False, allow_infinity=False, width=32),   # float32 values
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),         # float64-only values too
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.0, 2.0 ** -149, 3.4028234663852886e38]),
)


@st.composite
def programs(draw, max_len: int = 14) -> Program:
    n = draw(st.integers(1, max_len))
    instrs = [X()]
    for i in range(1, n):
        kind = draw(st.sampled_from(["const", "const", *OPS]))
        if kind == "const":
            instrs.append(C(float(draw(constants))))
        else:
            args = tuple(draw(st.integers(0, i - 1)) for _ in range(OPS[kind].arity))
            instrs.append(Instr(kind, args))
    out = draw(st.one_of(st.just(n - 1), st.integers(0, n - 1)))
    return Program(tuple(instrs), out)


def outputs(p: Program, x: np.ndarray = PROBE) -> np.ndarray:
    return evaluate(p, x, F32)


def const_bits(p: Program) -> list[str]:
    return [float(v).hex() for v in p.constants]


prop = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@prop
@given(programs())
def test_json_round_trip(p):
    q = loads(dumps(p))
    assert q == p
    assert const_bits(q) == const_bits(p)  # bit-exact (== alone would accept -0.0 for 0.0)
    assert dumps(q) == dumps(p)


@prop
@given(programs())
def test_canonical_evaluates_identically(p):
    cp = canonical(p)
    assert same_f32(outputs(cp), outputs(p)).all()
    assert len(cp) <= len(prune(p))


@prop
@given(programs())
def test_canonical_is_idempotent_and_keeps_the_hash(p):
    cp = canonical(p)
    assert canonical(cp) == cp
    assert cp.hash() == p.hash() == prune(p).hash()
    assert cp.instrs[0] == X()


@prop
@given(programs(), st.data())
def test_swapping_commutative_arguments_keeps_hash(p, data):
    slots = [i for i, ins in enumerate(p.instrs) if ins.op in OPS and OPS[ins.op].commutative]
    if not slots:
        return
    i = data.draw(st.sampled_from(slots))
    ins = p.instrs[i]
    swapped = Instr(ins.op, (ins.args[1], ins.args[0], *ins.args[2:]))
    q = Program(p.instrs[:i] + (swapped,) + p.instrs[i + 1:], p.output)
    assert q.hash() == p.hash()
    assert canonical(q) == canonical(p)
    assert same_f32(outputs(q), outputs(p)).all()


@prop
@given(programs())
def test_prune_and_fold_preserve_outputs(p):
    want = outputs(p)
    pp = prune(p)
    assert same_f32(outputs(pp), want).all()
    live = {pp.output} | {a for ins in pp.instrs for a in ins.args}
    assert all(i in live or i == 0 for i in range(len(pp)))  # nothing dead is left (x stays)
    fp = fold(p)
    assert same_f32(outputs(fp), want).all()
    # every op left is x-dependent, or a constant-only op whose value is not finite (kept as is)
    dep = fp.x_dependent()
    for i, ins in enumerate(fp.instrs):
        if ins.op in OPS and not dep[i]:
            v = evaluate(Program(fp.instrs[: i + 1], i), np.zeros(1, F32))[0]
            assert not np.isfinite(v)
    assert same_f32(outputs(simplify(p)), want).all()


@prop
@given(programs(), st.data())
def test_forward_reference_is_rejected(p, data):
    slots = [i for i, ins in enumerate(p.instrs) if ins.args]
    if not slots:
        return
    i = data.draw(st.sampled_from(slots))
    bad = data.draw(st.integers(i, i + 5))
    ins = p.instrs[i]
    instrs = p.instrs[:i] + (Instr(ins.op, (bad, *ins.args[1:])),) + p.instrs[i + 1:]
    with pytest.raises(ProgramError) as e:
        Program(instrs, p.output)
    assert str(e.value) == f"instruction {i}: argument {bad} does not point to an earlier instruction"


# -- hand-made cases ---------------------------------------------------------------------

POLY = [1.0, 0.6931471824645996, 0.2402264475822449, 0.05550410971045494]


def test_hash_is_stable():
    """A literal: if this changes, every cache key and stored hash changes. Do it on purpose."""
    assert horner(POLY).hash() == "aa93f7855bb43fb8"
    assert Program.identity().hash() == "2d711642b726b044"


def test_hash_tells_programs_apart():
    x_minus_1 = P(X(), C(1.0), Instr("sub", (0, 1)))
    one_minus_x = P(X(), C(1.0), Instr("sub", (1, 0)))
    x_plus_1 = P(X(), C(1.0), Instr("add", (0, 1)))
    hashes = {x_minus_1.hash(), one_minus_x.hash(), x_plus_1.hash(),
              horner(POLY).hash(), horner(POLY, use_fma=False).hash(),
              P(X(), C(0.0), Instr("add", (0, 1))).hash(), P(X(), C(-0.0), Instr("add", (0, 1))).hash()}
    assert len(hashes) == 7
    # fma commutes in its first two arguments only
    f = P(X(), C(2.0), C(3.0), Instr("fma", (0, 1, 2)))
    assert P(X(), C(2.0), C(3.0), Instr("fma", (1, 0, 2))).hash() == f.hash()
    assert P(X(), C(2.0), C(3.0), Instr("fma", (0, 2, 1))).hash() != f.hash()


def test_canonical_merges_layouts_and_common_subexpressions():
    # (x*x) + (x*x) written with two separate products, in two slot orders
    a = P(X(), Instr("mul", (0, 0)), Instr("mul", (0, 0)), Instr("add", (1, 2)))
    b = P(X(), C(7.0), Instr("mul", (0, 0)), Instr("neg", (0,)), Instr("mul", (0, 0)), Instr("add", (4, 2)))
    assert canonical(a) == canonical(b)
    assert [i.op for i in canonical(a).instrs] == ["x", "mul", "add"]
    assert canonical(a).hash() == a.hash() == b.hash()


def test_json_constants_are_exact():
    p = P(X(), C(0.1), C(float(F32(0.1))), C(-0.0), Instr("fma", (0, 1, 2)), Instr("add", (4, 3)))
    d = to_dict(p)
    assert d["format"] == "evo-program/1"
    c64, c32, cz = d["instrs"][1:4]
    assert c64 == {"op": "const", "value": 0.1, "f64": "0x1.999999999999ap-4"}   # not a float32
    assert c32 == {"op": "const", "value": float(F32(0.1)), "f32": "0x3dcccccd"}
    assert cz == {"op": "const", "value": -0.0, "f32": "0x80000000"}
    assert const_bits(loads(dumps(p))) == const_bits(p)
    json.loads(dumps(p))  # plain JSON


def test_json_hex_takes_precedence_over_decimal():
    base = {"instrs": [{"op": "x"}, {"op": "const", "value": 2.0}, {"op": "add", "args": [0, 1]}], "output": 2}
    assert from_dict(base).instrs[1].value == 2.0
    base["instrs"][1]["f32"] = "0x3f800000"
    assert from_dict(base).instrs[1].value == 1.0
    base["instrs"][1] = {"op": "const", "value": 2.0, "f64": "0x1.8p+1"}
    assert from_dict(base).instrs[1].value == 3.0
    base["instrs"][1] = {"op": "const", "value": 2.0, "f32": "0x3f800000", "f64": "0x1.8p+1"}
    assert from_dict(base).instrs[1].value == 1.0


def test_json_wrapped_program_and_default_output():
    p = horner(POLY)
    assert loads(json.dumps({"name": "a front member", "program": to_dict(p)})) == p
    d = to_dict(p)
    del d["output"]
    assert from_dict(d) == p  # the last instruction


@pytest.mark.parametrize("instrs, output, message", [
    ((), 0, "program has no instructions"),
    ((C(1.0),), 0, "instruction 0 must be the input x"),
    ((X(), X()), 1, "instruction 1: the input x may only be instruction 0"),
    ((X(), Instr("pow", (0, 0))), 1, f"instruction 1: unknown op 'pow' (known: {KNOWN})"),
    ((X(), Instr("add", (0,))), 1, "instruction 1: op 'add' takes 2 arguments, got 1"),
    ((X(), Instr("fma", (0, 0))), 1, "instruction 1: op 'fma' takes 3 arguments, got 2"),
    ((X(), Instr("neg", (0, 0))), 1, "instruction 1: op 'neg' takes 1 arguments, got 2"),
    ((X(), Instr("add", (0, 2)), C(1.0)), 1, "instruction 1: argument 2 does not point to an earlier instruction"),
    ((X(), Instr("add", (0, 1))), 1, "instruction 1: argument 1 does not point to an earlier instruction"),
    ((X(), Instr("neg", (-1,))), 1, "instruction 1: argument -1 does not point to an earlier instruction"),
    ((X(), Instr("neg", ("0",))), 1, "instruction 1: argument '0' does not point to an earlier instruction"),
    ((X(), Instr("neg", (0.0,))), 1, "instruction 1: argument 0.0 does not point to an earlier instruction"),
    ((X(), C(float("inf"))), 1, "instruction 1: constant is not finite: inf"),
    ((X(), C(float("-inf"))), 1, "instruction 1: constant is not finite: -inf"),
    ((X(), C(float("nan"))), 1, "instruction 1: constant is not finite: nan"),
    ((X(), C("1.5")), 1, "instruction 1: constant is not a number: '1.5'"),
    ((X(), C(None)), 1, "instruction 1: constant is not a number: None"),
    ((X(), C(True)), 1, "instruction 1: constant is not a number: True"),
    ((X(), Instr("const", (0,), 1.0)), 1, "instruction 1: a constant takes no arguments"),
    ((X(), C(1.0)), 2, "output 2 does not point to an instruction"),
    ((X(), C(1.0)), -1, "output -1 does not point to an instruction"),
    ((X(), C(1.0)), "1", "output '1' does not point to an instruction"),
])
def test_validation_messages(instrs, output, message):
    with pytest.raises(ProgramError) as e:
        Program(instrs, output)
    assert str(e.value) == message


@pytest.mark.parametrize("text, message", [
    ("{", "malformed JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
    ("", "malformed JSON: Expecting value at line 1 column 1"),
    ("[1, 2]", "not a program: expected an object with an 'instrs' list"),
    ('{"instrs": 3}', "not a program: expected an object with an 'instrs' list"),
    ('{"instrs": [{"op": "x"}, 5]}', "instruction 1: expected an object with an 'op'"),
    ('{"instrs": [{"op": "x"}, {"op": "neg", "args": 0}]}', "instruction 1: 'args' must be a list"),
    ('{"instrs": [{"op": "x"}, {"op": "exp", "args": [0]}]}', f"instruction 1: unknown op 'exp' (known: {KNOWN})"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "value": "abc"}]}', "instruction 1: constant is not a number: 'abc'"),
    ('{"instrs": [{"op": "x"}, {"op": "const"}]}', "instruction 1: constant is not a number: None"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "value": 1e999}]}', "instruction 1: constant is not finite: inf"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "value": 1' + "0" * 400 + '}]}',
     "instruction 1: constant is not finite: inf"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "f32": "zz"}]}', "instruction 1: bad float32 bit pattern 'zz'"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "f32": "0x1ffffffff"}]}',
     "instruction 1: bad float32 bit pattern '0x1ffffffff'"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "f32": 1065353216}]}',
     "instruction 1: bad float32 bit pattern 1065353216"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "f32": 1}]}', "instruction 1: bad float32 bit pattern 1"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "f32": "0x7f800000"}]}', "instruction 1: constant is not finite: inf"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "f64": 1.5}]}', "instruction 1: bad float64 hex value 1.5"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "f64": "-inf"}]}', "instruction 1: bad float64 hex value '-inf'"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "f64": "1.5"}]}', "instruction 1: bad float64 hex value '1.5'"),
    ('{"instrs": [{"op": "x"}, {"op": "const", "value": 1}], "output": 3}',
     "output 3 does not point to an instruction"),
    ('{"instrs": []}', "program has no instructions"),
])
def test_loads_messages(text, message):
    with pytest.raises(ProgramError) as e:
        loads(text)
    assert str(e.value) == message


def test_program_is_immutable_and_constants():
    p = horner(POLY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.output = 0  # type: ignore[misc]
    assert list(p.constants) == [float(F32(c)) for c in reversed(POLY)]
    q = p.with_constants([1.0, 2.0, 3.0, 4.0])
    assert list(q.constants) == [1.0, 2.0, 3.0, 4.0] and q.hash() != p.hash()
    assert [i.op for i in q.instrs] == [i.op for i in p.instrs]
    with pytest.raises(ValueError):
        p.with_constants([1.0])
    # batched constants evaluate like separate programs
    x = np.linspace(0, 1, 9, dtype=F32)
    sets = np.array([[1.0, 2.0, 3.0, 4.0], list(reversed(POLY))], np.float32)
    batch = evaluate(p, x, constants=sets)
    assert batch.shape == (2, 9)
    assert same_f32(batch[0], evaluate(q, x)).all() and same_f32(batch[1], evaluate(p, x)).all()


def test_cost_counts_x_dependent_ops(exp2_fma6, exp2_horner6):
    assert exp2_fma6.cost() == exp2_fma6.n_ops == 6
    assert exp2_horner6.n_ops == 12
    assert exp2_horner6.cost({"mul": 0.5}) == 9.0
    # constant-only work and dead code are free
    p = P(X(), C(2.0), C(3.0), Instr("mul", (1, 2)), Instr("sqrt", (0,)), Instr("add", (0, 3)), output=5)
    assert p.n_ops == 1
    assert Program.identity().n_ops == 0


def test_fold_computes_constants_in_float32():
    p = P(X(), C(0.1), C(0.2), Instr("add", (1, 2)), Instr("mul", (0, 3)))
    f = fold(p)
    assert [i.op for i in f.instrs] == ["x", "const", "mul"]
    assert f.instrs[1].value == float(F32(F32(0.1) + F32(0.2)))
    # constants are float32 first: (1 + 2^-30 -> 1.0) + 2^-24 is a tie that rounds to 1.0
    # (adding in float64 and rounding once would give 1 + 2^-23)
    t = P(X(), C(1 + 2.0 ** -30), C(2.0 ** -24), Instr("add", (1, 2)), Instr("mul", (0, 3)))
    assert fold(t).instrs[1].value == 1.0
    assert same_f32(outputs(fold(t)), outputs(t)).all() and same_f32(outputs(t), PROBE).all()
    # a constant-only division by zero cannot become a constant: it stays an op
    z = P(X(), C(1.0), C(0.0), Instr("div", (1, 2)), Instr("add", (0, 3)))
    assert [i.op for i in fold(z).instrs] == ["x", "const", "const", "div", "add"]
    assert np.all(np.isinf(evaluate(fold(z), PROBE[np.isfinite(PROBE)])))
    # float64 folding keeps float64 constants
    assert fold(p, np.float64).instrs[1].value == 0.1 + 0.2


def test_render():
    assert render(Program.identity()) == "x"
    assert render(horner(POLY)) == "fma(fma(fma(0.05550411, x, 0.24022645), x, 0.6931472), x, 1)"
    shared = P(X(), Instr("mul", (0, 0)), Instr("mul", (1, 1)), Instr("add", (2, 1)), C(1.0), Instr("add", (3, 4)))
    assert render(shared) == "t1 = x * x; ((t1 * t1) + t1) + 1"
    assert render(P(X(), C(3.0), Instr("sub", (1, 0)), Instr("neg", (2,)))) == "-(3 - x)"
    assert render(P(X(), C(1e-9), Instr("div", (0, 1)))) == "x / 1e-09"
    assert render(P(X(), C(0.1), Instr("mul", (0, 1)))) == "x * 0.1"          # float64 constant: repr
    assert str(horner(POLY)) == render(horner(POLY))


def test_interpreter_float64_mode(exp2_fma6):
    x = np.linspace(0, 1, 101)
    y = evaluate(exp2_fma6, x, np.float64)
    assert y.dtype == np.float64
    assert np.max(np.abs(y / np.exp2(x) - 1)) < 1e-5
    # the output of a constant-only program still has one value per input
    assert np.array_equal(evaluate(P(X(), C(2.5)), x, np.float64), np.full(101, 2.5))
