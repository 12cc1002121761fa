"""NumPy and JAX exports: self-contained Python modules.

Expressions come from the op table's `c` templates (valid Python for the infix
ops); the functions those templates call (fmaf, sqrtf) are bound to the op
table's own implementations, embedded in the file: the `f32` column for NumPy
(a ufunc by name, else its source, e.g. the exact fma), the `jax` column for JAX.

JAX: XLA on CPU contracts a*b + c into an fma, flushes float32 subnormals
(FTZ/DAZ) and rewrites literal arithmetic (x / c -> x * (1/c), (x + c) - c -> x).
So the JAX module keeps every float32 value in a float64 array and rounds it to
float32 precision after each op with lax.reduce_precision (XLA's GPU compiler drops
a float32 convert round trip) or fixed-point rounding for subnormals: the helpers of
evo's XLA exact backend, copied in (double rounding is harmless for + - * / sqrt:
53 >= 2*24 + 2 bits; the fma column returns a round-to-odd float64); inputs and
results cross to float32 through their bits;
constants go through an optimization barrier. Bit-exact with the interpreter,
subnormals included, at the cost of float64 speed. Needs float64: the module
turns it on only while tracing (jax.enable_x64).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from primitives import OPS
from targets import Target

from ..backends.c import decimal, f32_hex
from ..core.ir import CONST, Program
from ..core.source import C_FLOAT32, statements
from ..errors import EvoError
from .code import Provenance, call_names, embed, header_lines
from .fullrange import Wrapper, py_constants, py_wrapper

NUMPY_NOTES = ["NumPy, self-contained. float32 arithmetic with an exact fma (copied from evo's op table):",
               "bit-exact with the evo float32 interpreter."]
JAX_NOTES = ["JAX, self-contained; `jax.jit` and `jax.vmap` apply. Bit-exact with the evo float32",
             "interpreter, subnormals included: float32 values are carried in float64 and rounded after",
             "each op (XLA's contraction, flush-to-zero and constant rewrites cannot change them)."]

_NUMPY_HELPERS = '''
def _f2u(v):
    return v.view(np.uint32)


def _u2f(u):
    return np.asarray(u, dtype=np.uint32).view(np.float32)


def _i32(u):
    return np.asarray(u, dtype=np.uint32).view(np.int32)


def _i2f(i):
    return np.asarray(i).astype(np.float32)


_add, _sub, _div, _floor, _where = np.add, np.subtract, np.divide, np.floor, np.where
_fma = fmaf


def _ldexp(y, nb):
    """y * 2^(nb - 256) as two exact power-of-two factors: one rounding."""
    h = nb >> 1
    return (y * _u2f((h - 1) << 23)) * _u2f((nb - h - 1) << 23)


def _consts():
    return _W
'''

_JAX_HELPERS = '''
def _barrier(values):
    """Constants XLA cannot see through (it would rewrite x / c, x + 0, (x + c) - c)."""
    return lax.optimization_barrier(tuple(jnp.asarray(v, jnp.float64) for v in values))
'''

_JAX_WRAPPER_HELPERS = '''
def _f2u(v):
    return lax.bitcast_convert_type(_narrow(v), jnp.uint32)


def _u2f(u):
    return _widen(lax.bitcast_convert_type(jnp.asarray(u, jnp.uint32), jnp.float32))


def _i32(u):
    return lax.bitcast_convert_type(jnp.asarray(u, jnp.uint32), jnp.int32)


def _i2f(i):
    return jnp.asarray(i).astype(jnp.float64)


def _add(a, b):
    return _round32(a + b)


def _sub(a, b):
    return _round32(a - b)


def _div(a, b):
    return _round32(a / b)


def _fma(a, b, c):
    return _round32(fmaf(a, b, c))


_floor = jnp.floor  # an integer-valued float32 stays exact in float64


_where = jnp.where


def _ldexp(y, nb):
    """y * 2^(nb - 256), exact in float64, then rounded once to float32."""
    n = _i32(nb) - 256
    scale = lax.bitcast_convert_type((n.astype(jnp.int64) + 1023) << 52, jnp.float64)
    return _round32(y * scale)


def _consts():
    return _barrier(_W)
'''


def _bindings(p: Program, need: set[str]) -> dict[str, str]:
    """{function name called by a `c` template: the op whose column implements it}."""
    names = call_names(p)
    for op in need:  # the full-range wrappers use fma whether or not the kernel does
        names.setdefault(OPS[op].c.split("(")[0].strip(), op)
    return names


def _impl_block(p: Program, lang: str, need: set[str]) -> str:
    """Source binding every function name the `c` templates call to the op table's
    implementation (numpy: the f32 column; JAX: the jax column)."""
    column = "f32" if lang == "numpy" else "jax"
    modules = {"np": "numpy"} if lang == "numpy" else {"np": "numpy", "jnp": "jax.numpy", "lax": "jax.lax"}
    done: set[str] = set()
    lines: list[str] = []
    for fname, opname in sorted(_bindings(p, need).items()):
        impl: Callable = getattr(OPS[opname], column)
        if isinstance(impl, np.ufunc):
            mod = "np" if lang == "numpy" else "jnp"
            lines.append(f"{fname} = {mod}.{impl.__name__}  # op {opname!r}: the op table's {column} column\n")
            continue
        try:
            src = embed(impl, fname, modules, done)
        except (OSError, TypeError) as e:
            raise EvoError(f"op {opname!r} cannot be exported to {lang}: its {column} implementation "
                           f"has no source ({type(e).__name__})") from None
        lines.append(f"# op {opname!r}: the op table's {column} column, copied from {impl.__module__}\n" + src)
    return "\n".join(lines)


def _jax_helpers() -> str:
    """The float32-in-float64 helpers of evo's XLA exact backend, copied in, and _barrier."""
    from ..backends import xla

    modules, done = {"np": "numpy", "jnp": "jax.numpy", "lax": "jax.lax"}, set()
    names = ("_widen", "_round32", "_narrow")
    return "\n\n".join(embed(getattr(xla, n), n, modules, done) for n in names) + _JAX_HELPERS


def _const_tuple(p: Program, ty: str) -> str:
    """Module-level tuple of the kernel's constants (exact hex), unpacked by _kernel."""
    vals = [(k, float(ins.value)) for k, ins in enumerate(p.instrs) if ins.op == CONST]
    items = "".join(f"    {ty}(float.fromhex(\"{f32_hex(v)}\")),  # c{k} = {decimal(v)}\n" for k, v in vals)
    return f"_K = (\n{items})\n" if vals else "_K = ()\n"


def _kernel_body(p: Program, lang: str) -> str:
    """def _kernel(x): the program on values in the language's float32 representation."""
    def const(k: int, v: float) -> str:
        return f"c{k}"

    lines = ["def _kernel(x):"]
    names = [f"c{k}" for k, ins in enumerate(p.instrs) if ins.op == CONST]
    if names:
        unpack = "_barrier(_K)" if lang == "jax" else "_K"
        lines.append(f"    {', '.join(names)}{',' if len(names) == 1 else ''} = {unpack}")
    stmts, out = statements(p, C_FLOAT32, "x", const)
    for _, var, expr in stmts:
        lines.append(f"    {var} = {'_round32(' + expr + ')' if lang == 'jax' else expr}")
    if not p.x_dependent()[p.output]:
        out = f"{'jnp' if lang == 'jax' else 'np'}.broadcast_to({out}, x.shape)"
    lines.append(f"    return {out}")
    return "\n".join(lines) + "\n"


def python_source(p: Program, target: Target, fn: str, lang: str, prov: Provenance,
                  wrapper: Wrapper | None) -> str:
    """A NumPy or JAX module defining `fn(x)` (p already pruned and folded)."""
    notes = NUMPY_NOTES if lang == "numpy" else JAX_NOTES
    head = header_lines(p, target, prov, "NumPy" if lang == "numpy" else "JAX (exact float64 emulation)", fn,
                        wrapper.described if wrapper else None, notes,
                        "The full-range function is bit-exact with the C export (`evo export ... --lang c --full-range`), "
                        "which `evo verify --c FILE.c --symbol NAME --target T --full-range` checks on all 2^32 inputs.")
    parts = ['"""' + "\n".join(head).replace('"""', "'''") + '\n"""', "from __future__ import annotations\n"]
    if lang == "numpy":
        parts.append("import numpy as np\n")
    else:
        parts.append("import jax\nimport jax.numpy as jnp\nimport numpy as np\nfrom jax import lax\n")
    need = {"fma"} if wrapper else set()
    parts.append(_impl_block(p, lang, need))
    ty = "np.float32" if lang == "numpy" else "np.float64"
    parts.append(_const_tuple(p, ty))
    parts.append(_jax_helpers() if lang == "jax" else "")
    parts.append(_kernel_body(p, lang))
    if wrapper:
        w = ", ".join(f"{ty}({v!r})" if v == v and abs(v) != float("inf") else f"{ty}({_special(v)})"
                      for v in py_constants().values())
        parts.append(f"_W = ({w})  # {', '.join(py_constants())}\n")
        parts.append(_NUMPY_HELPERS if lang == "numpy" else _JAX_WRAPPER_HELPERS)
        parts.append(py_wrapper(wrapper, "_full_range"))
        inner = "_full_range"
    else:
        inner = "_kernel"
    parts.append(_public(fn, inner, lang, target, wrapper is not None))
    return "\n\n".join(x.strip("\n") + "\n" for x in parts if x.strip())


def _special(v: float) -> str:
    return "float('nan')" if v != v else ("float('inf')" if v > 0 else "-float('inf')")


def _public(fn: str, inner: str, lang: str, target: Target, full: bool) -> str:
    what = f"float32 {target.name}" + (" on every float32 input" if full else
                                       f" on [{target.interval[0]!r}, {target.interval[1]!r}]")
    if lang == "numpy":
        return (f"def {fn}(x):\n"
                f"    \"\"\"{what}: a float32 array (or scalar) in, the same shape out.\"\"\"\n"
                f"    x = np.asarray(x, dtype=np.float32)\n"
                f"    with np.errstate(all=\"ignore\"):\n"
                f"        return np.asarray({inner}(x.reshape(-1)), dtype=np.float32).reshape(x.shape)\n")
    return (f"def {fn}(x):\n"
            f"    \"\"\"{what}: jnp float32 array in, same shape out (jit / vmap friendly).\"\"\"\n"
            f"    x = jnp.asarray(x, jnp.float32)\n"
            f"    with jax.enable_x64(True):\n"
            f"        return _narrow({inner}(_widen(x)))\n")
