"""Mutations: small random edits of a program's graph or constants.

AutoNumerics-Zero weighs insert 1 : remove 2 : rewire 3 : rename 3; starting
from f(x) = x on a laptop budget, growth must come sooner, so insertion is
weighted up (see `MutationConfig.weights`), plus constant moves, and structural
moves that classical kernels are made of: a change of variable (x -> x - c, with c
a zero of the target, x -> x*x: even forms, or in reals mode x -> x + c/x), a factor
(y -> u*y: odd forms, (x - 1) * q for logs), Horner steps in the program's own
variable, grafts of a subgraph of another front member (crossover), and a rewrite of
the whole program in the forms libm kernels take (a chain of fmas P(u), v * P(u) with
the leading term rounded once, or v + v * P(u) with it exact) matched to the program's
own function: products and quotients, the forms a search from f(x) = x grows first,
seldom mutate into those chains, which cost for cost round least. Each mutation returns
a new program (or None if it does not apply); `mutate` retries until the function
really changes.

To add a mutation: a function (program, config, rng, donors) -> program | None,
one row in MUTATIONS and a weight in MutationConfig.weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from primitives import OPS

from ..core.interp import evaluate
from ..core.ir import CONST, Builder, Instr, Program, X, reachable, simplify

Rng = np.random.Generator


@dataclass(frozen=True)
class MutationConfig:
    ops: tuple[str, ...] = ("add", "sub", "mul", "div", "fma", "neg")
    weights: tuple[tuple[str, float], ...] = (
        ("insert", 2.0), ("remove", 1.0), ("rewire", 2.0), ("rename", 2.0),
        ("perturb", 1.0), ("redraw", 0.2), ("substitute", 0.1), ("factor", 0.1), ("graft", 0.2),
        ("horner", 0.3))
    max_ops: int = 24          # cap on x-dependent ops
    max_tries: int = 50
    # fma does the work of two ops with one rounding: offer it more often.
    op_weights: tuple[tuple[str, float], ...] = (("fma", 3.0), ("div", 0.5), ("neg", 0.5), ("sqrt", 0.5))
    horner_step: float = 0.3   # share of fma insertions made as v -> fma(v, u, c), u = x or a variable
    shift: float = 0.0         # c of the change of variable x -> x - c (a zero of the target, else mid-interval)
    square: float = 0.0        # share of insertions made as v -> v*v (reals mode: squaring chains)
    reciprocal: float = 0.0    # share of substitutions made as x -> x + c/x (reals mode)
    interval: tuple[float, float] = (0.0, 1.0)   # the target's: where `horner` matches a program

    def pick_op(self, rng: Rng, exclude: str = "") -> str:
        names = [o for o in self.ops if o != exclude] or list(self.ops)
        w = dict(self.op_weights)
        p = np.array([w.get(o, 1.0) for o in names])
        return names[int(rng.choice(len(names), p=p / p.sum()))]


def random_constant(rng: Rng) -> float:
    """A sign-fixed log-scale constant, +-10^U(-8, 0) (as in AutoNumerics-Zero)."""
    return float(np.float32(rng.choice((-1.0, 1.0)) * 10.0 ** rng.uniform(-8, 0)))


def _live_ops(p: Program) -> list[int]:
    live = reachable(p)
    return [i for i, ins in enumerate(p.instrs) if live[i] and ins.op in OPS]


def _operand(p: Program, before: int, rng: Rng, extra: list[Instr]) -> int:
    """An argument for a new/rewired op: x, an earlier live op, or a new constant.

    Existing constant slots are never reused: a shared constant would tie two
    parameters together in fitting."""
    r = rng.random()
    live = reachable(p)
    choices = [i for i in range(1, before) if live[i] and p.instrs[i].op in OPS]
    if r < 0.5 or (r < 0.6 and not choices):
        return 0
    if r < 0.6:
        return int(rng.choice(choices))
    extra.append(Instr(CONST, (), random_constant(rng)))
    return -len(extra)  # placeholder for a constant inserted before `before`


def _splice(p: Program, at: int, new: list[Instr], rewrite: Callable[[int, Instr], Instr],
            output: Callable[[int], int]) -> Program:
    """Insert `new` instructions before slot `at` (args in `new` may be negative:
    -k = the k-th new instruction; indices >= at are renumbered), then rewrite."""
    n = len(new)

    def shift(a: int) -> int:
        return a + n if a >= at else a

    def resolve(a: int) -> int:
        return at + (-a - 1) if a < 0 else shift(a) if a >= at else a

    out = list(p.instrs[:at])
    out += [Instr(ins.op, tuple(resolve(a) for a in ins.args), ins.value) for ins in new]
    for i, ins in enumerate(p.instrs[at:], start=at):
        ins = Instr(ins.op, tuple(shift(a) for a in ins.args), ins.value)
        out.append(rewrite(i + n, ins))
    return Program(tuple(out), output(shift(p.output)))


def insert(p: Program, cfg: MutationConfig, rng: Rng, donors: Sequence[Program] = ()) -> Program | None:
    """Put a new op on an edge: the value v flowing into a use becomes op(..v..)."""
    ops = _live_ops(p)
    edges = [(j, k) for j in ops for k in range(len(p.instrs[j].args))] + [(-1, -1)]
    j, k = edges[int(rng.integers(len(edges)))]
    src = p.output if j == -1 else p.instrs[j].args[k]
    at = len(p.instrs) if j == -1 else j
    if cfg.square and rng.random() < cfg.square:
        # v -> v*v: repeated at the output, x^8 range reconstruction (2^x = (2^(x/8))^8).
        new_slot = at
        return _splice(p, at, [Instr("mul", (src, src))], lambda i, ins: Instr(
            ins.op, tuple(new_slot if (i == j + 1 and n == k) else a for n, a in enumerate(ins.args)), ins.value),
            (lambda o: new_slot) if j == -1 else (lambda o: o))
    name = cfg.pick_op(rng)
    op = OPS[name]
    extra: list[Instr] = []
    if name == "fma" and rng.random() < cfg.horner_step:
        # A Horner step, v -> fma(v, u, c): one more degree for polynomial-like kernels,
        # in x or in the variable the program already works in (x - 1, x*x).
        u = _variable(p, at, rng)
        extra.append(Instr(CONST, (), random_constant(rng)))
        args = [src, u, -len(extra)] if rng.random() < 0.5 else [u, src, -len(extra)]
    else:
        args = [_operand(p, at, rng, extra) for _ in range(op.arity)]
        args[int(rng.integers(op.arity))] = src
    new = extra + [Instr(name, tuple(args))]
    new_slot = at + len(new) - 1

    def rewrite(i: int, ins: Instr) -> Instr:
        if i == j + len(new):
            a = list(ins.args)
            a[k] = new_slot
            return Instr(ins.op, tuple(a), ins.value)
        return ins

    return _splice(p, at, new, rewrite, (lambda o: new_slot) if j == -1 else (lambda o: o))


def remove(p: Program, cfg: MutationConfig, rng: Rng, donors: Sequence[Program] = ()) -> Program | None:
    """Bypass an op: its uses take one of its arguments instead."""
    ops = _live_ops(p)
    if not ops:
        return None
    j = int(rng.choice(ops))
    keep = int(rng.choice(p.instrs[j].args))
    instrs = [Instr(ins.op, tuple(keep if a == j else a for a in ins.args), ins.value) for ins in p.instrs]
    return Program(tuple(instrs), keep if p.output == j else p.output)


def rewire(p: Program, cfg: MutationConfig, rng: Rng, donors: Sequence[Program] = ()) -> Program | None:
    """Point one argument of an op elsewhere (x, an earlier slot, a new constant)."""
    ops = _live_ops(p)
    if not ops:
        return None
    j = int(rng.choice(ops))
    k = int(rng.integers(len(p.instrs[j].args)))
    extra: list[Instr] = []
    a = _operand(p, j, rng, extra)

    def rewrite(i: int, ins: Instr) -> Instr:
        if i == j + len(extra):
            args = list(ins.args)
            args[k] = a if a >= 0 else j + (-a - 1)
            return Instr(ins.op, tuple(args), ins.value)
        return ins

    return _splice(p, j, extra, rewrite, lambda o: o)


def rename(p: Program, cfg: MutationConfig, rng: Rng, donors: Sequence[Program] = ()) -> Program | None:
    """Change an op to another; arguments are dropped or added to fit the arity."""
    ops = _live_ops(p)
    if not ops:
        return None
    j = int(rng.choice(ops))
    old = p.instrs[j]
    name = cfg.pick_op(rng, exclude=old.op)
    arity = OPS[name].arity
    extra: list[Instr] = []
    args = list(old.args[:arity])
    while len(args) < arity:
        args.append(_operand(p, j, rng, extra))
    fixed = tuple(a if a >= 0 else j + (-a - 1) for a in args)
    return _splice(p, j, extra, lambda i, ins: Instr(name, fixed) if i == j + len(extra) else ins, lambda o: o)


def perturb(p: Program, cfg: MutationConfig, rng: Rng, donors: Sequence[Program] = ()) -> Program | None:
    """Scale one constant by a random factor (a new starting point for fitting)."""
    slots = [s for s in p.const_slots if reachable(p)[s]]
    if not slots:
        return None
    s = int(rng.choice(slots))
    c = p.constants
    j = p.const_slots.index(s)
    with np.errstate(over="ignore"):
        c[j] = float(np.float32(c[j] * (1.0 + rng.normal(0.0, 0.5)) + rng.normal(0.0, 1e-3)))
    return p.with_constants(c) if np.isfinite(c[j]) else None  # beyond float32: no such move


def redraw(p: Program, cfg: MutationConfig, rng: Rng, donors: Sequence[Program] = ()) -> Program | None:
    """Draw all constants afresh."""
    if not p.const_slots:
        return None
    return p.with_constants([random_constant(rng) for _ in p.const_slots])


def variables(p: Program, before: int | None = None) -> list[int]:
    """x, and the live slots that are one binary op of x and constants (x - c, x*x, c*x):
    the variables a kernel may be written in."""
    live = reachable(p)
    consts = set(p.const_slots)
    end = len(p.instrs) if before is None else before
    return [0] + [i for i in range(1, end) if live[i] and p.instrs[i].op in OPS and len(p.instrs[i].args) == 2
                  and 0 in p.instrs[i].args and all(a == 0 or a in consts for a in p.instrs[i].args)]


def _variable(p: Program, before: int, rng: Rng) -> int:
    """x half of the time, else one of the program's own variables (if it has any)."""
    vs = variables(p, before)
    return 0 if len(vs) == 1 or rng.random() < 0.5 else int(rng.choice(vs[1:]))


def substitute(p: Program, cfg: MutationConfig, rng: Rng, donors: Sequence[Program] = ()) -> Program | None:
    """Change of variable: every use of x becomes u = x - c (c a zero of the target) or x*x, or
    (reals mode) x + c/x: the variable of AutoNumerics-Zero's 10-op exp program, a continued
    fraction in it reaching the degree of a much longer one in x."""
    if cfg.reciprocal and rng.random() < cfg.reciprocal:
        head, u = [Instr(X), Instr(CONST, (), random_constant(rng)), Instr("div", (1, 0)), Instr("add", (2, 0))], 3
    elif rng.random() < 0.5:
        head, u = [Instr(X), Instr(CONST, (), float(cfg.shift)), Instr("sub", (0, 1))], 2
    else:
        head, u = [Instr(X), Instr("mul", (0, 0))], 1
    off = len(head) - 1

    def moved(a: int) -> int:
        return u if a == 0 else a + off

    body = [Instr(ins.op, tuple(moved(a) for a in ins.args), ins.value) for ins in p.instrs[1:]]
    return Program(tuple(head + body), moved(p.output))


def factor(p: Program, cfg: MutationConfig, rng: Rng, donors: Sequence[Program] = ()) -> Program | None:
    """y -> u * y, or y -> fma(u, c, u * y), u one of the program's variables. Odd forms
    x * q(x*x), logs (x - 1) * q; the second splits off the leading term so that it is
    rounded once, as libm kernels do (log2: fma(t, c, t * r(t)) with t = x - 1)."""
    u = int(rng.choice(variables(p)))
    n = len(p.instrs)
    if rng.random() < 0.5:
        return Program(p.instrs + (Instr("mul", (u, p.output)),), n)
    tail = (Instr("mul", (u, p.output)), Instr(CONST, (), random_constant(rng)), Instr("fma", (u, n + 1, n)))
    return Program(p.instrs + tail, n + 2)


def graft(p: Program, cfg: MutationConfig, rng: Rng, donors: Sequence[Program] = ()) -> Program | None:
    """Crossover: one op's value is replaced by a subgraph copied from another program."""
    ops = _live_ops(p)
    donors = [d for d in donors if _live_ops(d)]
    if not ops or not donors:
        return None
    d = donors[int(rng.integers(len(donors)))]
    j, k = int(rng.choice(ops)), int(rng.choice(_live_ops(d)))
    live = _reaching(d, k)
    index: dict[int, int] = {0: 0}
    new: list[Instr] = []
    for i in range(1, k + 1):
        if live[i]:
            ins = d.instrs[i]
            new.append(Instr(ins.op, tuple(index[a] for a in ins.args), ins.value))
            index[i] = -len(new)  # _splice's placeholder for the new instruction
    slot = j + len(new) - 1

    def rewrite(i: int, ins: Instr) -> Instr:
        return Instr(ins.op, tuple(slot if a == j + len(new) else a for a in ins.args), ins.value)

    return _splice(p, j, new, rewrite, lambda o: slot if o == j + len(new) else o)


def horner(p: Program, cfg: MutationConfig, rng: Rng, donors: Sequence[Program] = ()) -> Program | None:
    """The program rewritten in a form libm kernels take, with as many ops or one fewer:
    P(u) = fma(..fma(a_d, u, a_d-1).., u, a_0); v * P(u) split as fma(v, a_0, (v*u) * Q(u));
    or v + v * P(u) = fma(v, P(u), v); in u = x, x - c or x*x (v = x or x - c). The last two
    round the leading term once, as log and odd kernels (erf) do; in the last it is exact,
    so only the small v * P(u) carries error. The a_k are a least-squares match of the
    program's own function on the interval (fitting then polishes them). A lineage of
    products or quotients rarely mutates into these chains, which cost for cost round least."""
    ops = len(_live_ops(p))
    if "fma" not in cfg.ops or not ops:
        return None
    kinds = ["x"] + (["shift"] if cfg.shift != 0 and "sub" in cfg.ops else []) + (["square"] if "mul" in cfg.ops else [])
    kind = kinds[int(rng.integers(len(kinds)))]
    form = str(rng.choice(["plain", "factored", "unit"] if "mul" in cfg.ops else ["plain", "unit"]))
    degree = ops - int(rng.integers(0, 2)) - (kind != "x") - {"plain": 0, "factored": 2, "unit": 1}[form]
    if degree < 1:
        return None
    lo, hi = cfg.interval
    nodes = 4 * degree + 4
    x = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes)
    u = {"x": x, "shift": x - cfg.shift, "square": x * x}[kind]
    v = x - cfg.shift if kind == "shift" else x
    with np.errstate(all="ignore"):
        y = evaluate(p, x, np.float64) - (v if form == "unit" else 0.0)
        basis = np.vander(u, degree + 1, increasing=True) * (1.0 if form == "plain" else v[:, None])
        scale = np.linalg.norm(basis, axis=0)
        if not (np.all(np.isfinite(y)) and np.all(scale > 0)):
            return None
        a = np.linalg.lstsq(basis / scale, y, rcond=None)[0] / scale
    if not np.all(np.abs(a) <= np.finfo(np.float32).max):
        return None
    a = [float(c) for c in a.astype(np.float32)]
    b = Builder()
    if kind == "shift":
        var = b.emit("sub", 0, b.emit(CONST, value=float(cfg.shift)))
    else:
        var = b.emit("mul", 0, 0) if kind == "square" else 0
    if form == "plain":
        return b.program(b.horner(a, var))
    vs = var if kind == "shift" else 0
    if form == "unit":
        return b.program(b.emit("fma", vs, b.horner(a, var), vs))
    q = b.horner(a[1:], var)
    rest = b.emit("mul", b.emit("mul", vs, var), q)
    return b.program(b.emit("fma", vs, b.emit(CONST, value=a[0]), rest))


def _reaching(p: Program, k: int) -> list[bool]:
    """Slots slot k depends on (k included)."""
    need = [False] * len(p.instrs)
    need[k] = True
    for i in range(k, -1, -1):
        if need[i]:
            for a in p.instrs[i].args:
                need[a] = True
    return need


# (program, config, rng, donors) -> a new program, or None where the move does not apply
MUTATIONS: dict[str, Callable[[Program, MutationConfig, Rng, Sequence[Program]], Program | None]] = {
    "insert": insert, "remove": remove, "rewire": rewire, "rename": rename, "perturb": perturb, "redraw": redraw,
    "substitute": substitute, "factor": factor, "graft": graft, "horner": horner,
}

def probe_key(p: Program, probe: np.ndarray) -> bytes:
    """Outputs on a few probe points: equal keys => (almost surely) the same function.
    Programs are probed in the probes' dtype (the platform's): float64 probes tell apart
    reals-mode programs 1e-12 apart."""
    return evaluate(p, probe, probe.dtype.type).tobytes()


def mutate(p: Program, cfg: MutationConfig, rng: Rng, probe: np.ndarray,
           donors: Sequence[Program] = ()) -> tuple[Program, str]:
    """A simplified child that computes a different function than `p`, and the mutation's
    name. probe: a few inputs of the interval, in the platform's dtype. donors: programs a
    graft may copy from (other front members). Constant subexpressions are folded in the
    probe's dtype (float64: reals mode)."""
    dtype = probe.dtype.type
    names = [n for n, _ in cfg.weights]
    w = np.array([wt for _, wt in cfg.weights])
    parent_key = probe_key(p, probe)
    for _ in range(cfg.max_tries):
        name = names[int(rng.choice(len(names), p=w / w.sum()))]
        child = MUTATIONS[name](p, cfg, rng, donors)
        if child is None:
            continue
        child = simplify(child, dtype)
        if child.n_ops > cfg.max_ops or not child.x_dependent()[child.output]:
            continue  # too big, or a constant: no use as an approximation
        if probe_key(child, probe) != parent_key:
            return child, name
    return simplify(redraw(p, cfg, rng) or p, dtype), "redraw"
