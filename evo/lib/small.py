"""The ready bfloat16 and float16 functions (evo.lib.jax.bfloat16, evo.lib.jax.float16): a
kernel found by evo's search, its constants fitted once more so that every one of the
format's 65,536 inputs rounds correctly through the wrapper (evo.codegen.small_native), and
the result checked on all of them by running the JAX code itself (bench/build_small_lib.py)."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from targets import get_target

from ..codegen.small_native import SmallFunction, module_source, tanh_small
from ..core.formats import Format, side_distance
from ..fit.rounding import fit_to_intervals
from ..verification.formats import SmallCheck, check_small_function, correctly_rounded_everywhere
from ..verification.xla import module_from_source

SMALL_CATALOG = Path(__file__).with_name("small_kernels.json")


def load_module(functions: list[SmallFunction], doc: str = "evo small-format functions"):
    return module_from_source(module_source(functions, doc), f"evo_small_{functions[0].format}")


def kernel_targets(fn: SmallFunction) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the kernel must do for the wrapper to round every input correctly: at each reduced
    argument r (as XLA computes it), the correctly rounded c mapped into the kernel's range
    (exps: c / 2^k, gaps / 2^k; logs: c - e (log2) or c - e ln 2 (log), the same gaps).
    Only inputs with a finite, nonzero result use the kernel; repeated rows are merged."""
    import jax

    fmt = fn.fmt
    x, _, _, c = correctly_rounded_everywhere(get_target(fn.function), fmt)
    use = np.isfinite(x) & np.isfinite(c) & (c != 0)
    module = load_module([fn])
    r, aux = (np.asarray(v) for v in jax.jit(getattr(module, f"_reduce_{fn.function}"))(x[use]))
    below, above = fmt.gaps(c[use])
    if fn.function in ("log2", "log"):
        ck = c[use] - aux.astype(np.float64) * (1.0 if fn.function == "log2" else math.log(2))
        return _rows(r, ck, below, above)
    k = (aux.astype(np.float64) - float(module.MAGIC)).astype(np.int64)     # the exps' t holds k
    scale = np.ldexp(1.0, -k)
    if fn.function in ("exp2", "exp"):
        return _rows(r, c[use] * scale, below * scale, above * scale)
    if fn.function == "sigmoid":
        lo, hi = _sigmoid_interval(x[use], c[use], below, above, k, fmt)
        return _rows(r, *_scaled(lo, hi, scale))
    big = np.abs(x[use]) >= tanh_small(fmt)        # tanh: below, the result is x itself
    lo, hi = _tanh_interval(c[use], below, above)
    return _rows(r[big], *_scaled(lo[big], hi[big], scale[big]))


def _rows(r: np.ndarray, c: np.ndarray, below: np.ndarray, above: np.ndarray):
    rows = np.unique(np.stack([r.astype(np.float64), c, below, above]), axis=1)
    return rows[0].astype(np.float32), rows[1], rows[2], rows[3]


def _scaled(lo: np.ndarray, hi: np.ndarray, scale: np.ndarray):
    """An interval (lo, hi) of E as K(r) = E / 2^k must meet it: (centre, width, width), so
    that a distance of 0.5 is an end."""
    lo, hi = lo * scale, hi * scale
    return (lo + hi) / 2, hi - lo, hi - lo


def _tanh_interval(c, below, above):
    """|tanh| = (1 - E) / (1 + E) rounds to |c| for E = e^-2|x| in ((1 - b) / (1 + b),
    (1 - a) / (1 + a)), (a, b) the rounding interval of |c|."""
    neg = c < 0
    a = np.abs(c) - np.where(neg, above, below) / 2
    b = np.abs(c) + np.where(neg, below, above) / 2
    return (1 - b) / (1 + b), (1 - a) / (1 + a)


def _sigmoid_interval(x, c, below, above, k, fmt: Format):
    """sigmoid rounds to c when it lies in (a, b) = (c - below/2, c + above/2); through
    1 / (1 + E) (x >= 0) or E / (1 + E) (x < 0) that is an interval of E = e^-|x|. Where the
    result is subnormal (x < -87 in bfloat16), E itself is rounded: c's own interval."""
    a, b = c - below / 2, c + above / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(x >= 0, 1 / b - 1, a / (1 - a))
        hi = np.where(x >= 0, 1 / a - 1, b / (1 - b))
    tiny = (k <= fmt.emin) & (x < 0) if fmt.emin <= -126 else np.zeros(x.size, bool)
    lo, hi = np.where(tiny, a, lo), np.where(tiny, b, hi)
    return lo, np.where(np.isfinite(hi), hi, np.finfo(np.float64).max / 4)


def fit_small(fn: SmallFunction, max_exceptions: int = 4) -> tuple[SmallFunction, float]:
    """fn with its kernel's constants refitted to the wrapper's rounding intervals, and up to
    `max_exceptions` hard cases (reduced arguments the fitted kernel still misrounds, each
    given the value that rounds correctly for every input that reduces to it); and the
    largest distance on the kernel's points left after them (< 0.5: every input rounds
    correctly, unless XLA computes the kernel differently, which the check then shows)."""

    r, c, below, above = kernel_targets(fn)
    p, dist = fit_to_intervals(fn.program, r, c, below, above, fn.fmt)
    exceptions = []
    for rb in np.unique(r[dist >= 0.5])[: max_exceptions + 1]:
        rows = r == rb
        y = _value_inside(c[rows], below[rows], above[rows])
        if y is None or len(exceptions) == max_exceptions:
            exceptions = []          # too many, or one with no value: fewer misrounded is all there is
            break
        exceptions.append((float(rb), y))
    if exceptions:
        dist = dist.copy()
        dist[np.isin(r, [e[0] for e in exceptions])] = 0.0
    return replace(fn, program=p, exceptions=tuple(exceptions)), float(dist.max()) if dist.size else 0.0


def _value_inside(c: np.ndarray, below: np.ndarray, above: np.ndarray) -> float | None:
    """A float32 strictly inside every row's rounding interval (c - below/2, c + above/2)."""
    with np.errstate(over="ignore"):
        values = np.unique(c.astype(np.float32))
    for v in values:
        if np.all(side_distance(v, c, below, above) < 0.5):
            return float(v)
    return None


def check(fn: SmallFunction) -> SmallCheck:
    return check_small_function(getattr(load_module([fn]), fn.function), get_target(fn.function), fn.fmt)


def write_catalog(entries: list[dict], path: Path = SMALL_CATALOG) -> None:
    path.write_text(json.dumps({"format": "evo-small-lib/1", "functions": entries}, indent=1) + "\n")


def load_c(functions: list[SmallFunction], doc: str = "evo small-format functions"):
    """The C form (evo.codegen.small_c) built by gcc, each function as numpy format array ->
    format array through its array form; None without gcc."""
    import ctypes

    from ..backends.gcc import build_so, gcc_path
    from ..codegen.small_c import c_name, c_source

    if gcc_path() is None:
        return None
    so = build_so(c_source(functions, doc), "evo_small", ("-O2", "-std=c99", "-fno-fast-math"))
    lib = ctypes.CDLL(str(so))
    out = {}
    for fn in functions:
        f = getattr(lib, f"{c_name(fn)}_array")
        f.argtypes, f.restype = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t], None

        def call(x, f=f, dtype=fn.fmt.numpy_dtype):
            bits = np.ascontiguousarray(np.asarray(x).astype(dtype)).view(np.uint16)
            y = np.empty_like(bits)
            f(bits.ctypes.data, y.ctypes.data, bits.size)
            return y.view(dtype)

        out[fn.function] = call
    return out


def check_c(fn: SmallFunction) -> SmallCheck | None:
    """The C form of fn on all 65,536 inputs (None without gcc)."""
    funcs = load_c([fn])
    return None if funcs is None else check_small_function(funcs[fn.function], get_target(fn.function), fn.fmt)


def small_catalog(fmt: str, path: Path = SMALL_CATALOG) -> list[SmallFunction]:
    """The ready functions of a small format, as bench/build_small_lib.py recorded them."""
    from ..core.ir import from_dict
    from ..errors import EvoError

    try:
        entries = json.loads(path.read_text())["functions"]
        out = [SmallFunction(e["function"], e["format"], from_dict(e["program"]), _described(e),
                             tuple((float(r), float(y)) for r, y in e.get("exceptions", [])),
                             tuple((float(x), float(c)) for x, c in e.get("fixes", [])))
               for e in entries if e["format"] == fmt]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EvoError(f"{path}: not a small-format catalog ({type(e).__name__})") from None
    return out


def _described(e: dict) -> str:
    where = f"member {e['member']} of {e['front']}" if e.get("front") else e["found_by"]
    hard = f", {len(e['exceptions'])} hard cases by select" if e.get("exceptions") else ""
    hard += f", {len(e['fixes'])} hard inputs by select" if e.get("fixes") else ""
    c = f"; its C form {e['c_check']['misrounded']} misrounded" if e.get("c_check") else ""
    return (f"{e['ops']}-op kernel ({where}{hard}); {e['check']['misrounded']} of {e['check']['inputs']:,} "
            f"misrounded under jax.jit on the CPU{c}, every input checked")


def small_files(functions: list[SmallFunction], lang: str, stem: str) -> dict[str, str]:
    """lang c: {stem}_{bf16|f16}.h and .c; jax: the module evo.lib.jax.<format>; numpy: the
    same functions on numpy arrays, {stem}_{bf16|f16}.py."""
    from ..codegen.small_c import SUFFIX, c_name, c_source

    fmt = functions[0].format
    doc = (f"evo's {fmt} functions, correctly rounded on every one of the 65,536 {fmt} inputs:\n"
           + "\n".join(f"{f.function}: {f.source}" for f in functions) + "\n")
    name = f"{stem}_{SUFFIX[fmt]}"
    if lang in ("jax", "numpy"):
        return {f"{fmt}.py" if lang == "jax" else f"{name}.py": module_source(functions, doc, lang)}
    protos = "".join(f"uint16_t {c_name(f)}(uint16_t x);\nvoid {c_name(f)}_array(const uint16_t *x, uint16_t *y, "
                     "size_t n);\n" for f in functions)
    header = (f"/* {doc} */\n#ifndef {name.upper()}_H\n#define {name.upper()}_H\n#include <stddef.h>\n"
              f"#include <stdint.h>\n#ifdef __cplusplus\nextern \"C\" {{\n#endif\n{protos}#ifdef __cplusplus\n}}\n"
              "#endif\n#endif\n")
    return {f"{name}.h": header, f"{name}.c": c_source(functions, doc)}


__all__ = ["SMALL_CATALOG", "kernel_targets", "fit_small", "check", "check_c", "load_module", "load_c",
           "write_catalog", "small_catalog", "small_files"]
