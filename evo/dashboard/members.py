"""What the member page shows: the program as text and as a graph, its labelled
errors, its exported C and JAX code, and its error over a dense sample of the interval."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..core.ir import CONST, Program, X, format_const, reachable, render

if TYPE_CHECKING:
    from ..evolution.config import SearchConfig
    from ..runs.front import Front
    from ..runs.member import Member

CURVE_EVEN = 2400      # the sampled error curve: points evenly spaced in value ...
CURVE_ORDINAL = 600    # ... and evenly spaced over float32 bit patterns (small magnitudes)


def listing(p: Program) -> list[str]:
    """The program one live instruction per line, SSA style: `t3 = fma(t1, x, 0.5)`."""
    live = reachable(p)
    names: dict[int, str] = {}
    lines = []
    for i, ins in enumerate(p.instrs):
        if not live[i]:
            continue
        if ins.op == X:
            names[i] = "x"
        elif ins.op == CONST:
            names[i] = format_const(ins.value)
        else:
            names[i] = f"t{i}"
            lines.append(f"t{i} = {ins.op}({', '.join(names[a] for a in ins.args)})")
    lines.append(f"return {names[p.output]}")
    return lines


def graph(p: Program) -> dict:
    """Nodes (live instructions) and edges (argument -> user). A node's depth is its
    column in a drawing: x at 0, an op one right of its deepest argument, and a
    constant just left of its first user (so edges stay short)."""
    live = reachable(p)
    depth: dict[int, int] = {}
    nodes, edges = [], []
    dep = p.x_dependent()
    for i, ins in enumerate(p.instrs):
        if live[i] and ins.op != CONST:
            depth[i] = 1 + max((depth[a] for a in ins.args if a in depth), default=-1)
    for i, ins in enumerate(p.instrs):
        for a in ins.args if live[i] else ():
            if p.instrs[a].op == CONST:
                depth[a] = min(depth.get(a, depth[i] - 1), depth[i] - 1)
    for i, ins in enumerate(p.instrs):
        if not live[i]:
            continue
        label = "x" if ins.op == X else format_const(ins.value) if ins.op == CONST else ins.op
        nodes.append({"slot": i, "op": ins.op, "label": label, "depth": max(depth.get(i, 0), 0),
                      "x_dependent": dep[i], "output": i == p.output})
        edges += [{"src": a, "dst": i, "arg": k} for k, a in enumerate(ins.args)]
    return {"nodes": nodes, "edges": edges}


def errors(m: "Member", unit: str) -> dict:
    """The three labelled error figures (None where not measured) and which one counts."""
    v, ex = m.validation, m.exhaustive
    return {
        "error": m.error, "error_on": m.error_on, "unit": unit,
        "train": {"max": m.train.max, "mean": m.train.mean, "argmax": m.train.argmax, "inputs": m.train.n},
        "validation": {"max": v.max, "mean": v.mean, "argmax": v.argmax, "inputs": v.n} if v else None,
        "exhaustive": {"max": float(ex["max_ulp"]), "mean": ex.get("mean_ulp"), "argmax": ex.get("argmax"),
                       "inputs": ex.get("inputs"), "seconds": ex.get("seconds"),
                       "reference": ex.get("reference")} if ex else None,
    }


def detail(m: "Member", front: "Front") -> dict:
    return {"id": m.id, "cost": m.cost, "ops": m.ops, "island": m.island, "parent": m.parent,
            "mutation": m.mutation, "expression": render(m.program), "listing": listing(m.program),
            "graph": graph(m.program), "errors": errors(m, front.unit), "remeasured": m.remeasured}


def exports(m: "Member") -> dict[str, str]:
    """The member's code as `evo export` writes it, C and JAX (a failure is reported, not raised).
    The page does not run XLA over every input for the JAX form: its header says it was not
    measured there (`evo export --lang jax` measures it)."""
    from ..api import export
    from ..errors import EvoError

    out = {}
    for lang in ("c", "jax"):
        try:
            out[lang] = export(m, lang, **({"xla_check": False} if lang == "jax" else {}))
        except (EvoError, ValueError, KeyError) as e:
            out[lang] = f"/* cannot export as {lang}: {e} */"
    return out


def error_curve(m: "Member", front: "Front", config: "SearchConfig | None") -> dict:
    """Per-input error on ~3,000 points of the interval (a sample: the max over every
    float32 is the exhaustive figure), computed as the run scores (metric, semantics)."""
    from ..core.scoring import PointSet, Scorer, training_inputs

    t = front.target
    if config is not None:
        from ..evolution.worker import EvalSpec

        scorer = EvalSpec.of(config, t).scorer()
    else:
        scorer = Scorer(t, front.platform)
    x = training_inputs(t, CURVE_EVEN, CURVE_ORDINAL, scorer.np_dtype)
    hi, lo = t.exact(x)
    err = scorer.point_errors(m.program, PointSet(x, hi, lo))
    finite = np.isfinite(err)
    i = int(np.argmax(err))  # inf (a NaN or overflow) is the worst
    return {"x": [float(v) for v in x], "error": [float(e) if math.isfinite(e) else None for e in err],
            "max": float(err[i]), "argmax": float(x[i]),
            "non_finite": int((~finite).sum()), "points": int(x.size), "unit": scorer.unit,
            "sampled": True}
