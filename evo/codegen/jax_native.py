"""Native JAX export: plain float32 jnp/lax code, no float64, no x64 flag, for whatever
backend JAX has (CPU, GPU, TPU), differentiable (`jax.grad`, `jax.jvp`) and composable
(`jax.jit`, `jax.vmap`, any shape).

It is what XLA makes of the program: fma(a, b, c) is written a * b + c, which XLA
contracts into a fused multiply-add on CPU and GPU; constants are float32 literals, as
the XLA backend's native mode writes them (so `--semantics xla` scores what this code
computes); XLA may rewrite x / c into x * (1/c), and on CPU it flushes subnormal values
to zero. The error it states is therefore measured by running this very code under
jax.jit (evo.verification.xla), never inferred from the interpreter. The full-range
wrappers (evo.codegen.fullrange) work on the bits of their input (uint32/int32), so a
subnormal input is read exactly even where the arithmetic flushes it; their constants
pass through an optimization barrier, so that XLA cannot fold (x + MAGIC) - MAGIC back
into x. A full-range function defines its derivative with jax.custom_jvp from its own
value (exp2: y ln 2; exp: y; log2: 1/(x ln 2); log: 1/x); a kernel alone is
differentiated through its arithmetic.

Dtypes: float32, bfloat16 and float16 arrays are computed in float32 and returned in
their own dtype; Python numbers, integer and boolean arrays become float32; float64 is
refused (a float32 function would silently drop its precision).
"""
from __future__ import annotations

from string import Template

from targets import Target

from ..backends.c import decimal, f32_hex
from ..core.ir import CONST, Program
from ..core.source import JAX_FLOAT32, statements
from .code import Provenance, header_lines
from .fullrange import JVP, Wrapper, native_wrapper, py_constants

NOTES = [
    "JAX, native float32: plain jnp/lax code (no float64, no x64), for any JAX backend.",
    "jax.jit, jax.vmap, jax.grad and jax.jvp apply; arrays of any shape. float32, bfloat16",
    "and float16 are computed in float32 and returned in their dtype; float64 is refused.",
    "fma(a, b, c) is written a * b + c: XLA fuses it into one fma (CPU, GPU) in compiled code;",
    "the function is jitted itself, so even a call outside jax.jit runs the code measured below.",
]

_IMPORTS = "import jax\nimport jax.numpy as jnp\nimport numpy as np\nfrom jax import lax\n"

# The full-range wrappers' vocabulary (evo.codegen.fullrange), in native float32.
_HELPERS = '''
def _f2u(v):
    return lax.bitcast_convert_type(v, jnp.uint32)


def _u2f(u):
    return lax.bitcast_convert_type(jnp.asarray(u, jnp.uint32), jnp.float32)


def _i32(u):
    return lax.bitcast_convert_type(jnp.asarray(u, jnp.uint32), jnp.int32)


def _i2u(i):
    return lax.bitcast_convert_type(i, jnp.uint32)


def _i2f(i):
    return jnp.asarray(i).astype(jnp.float32)


def _round(v):
    return lax.round(v, lax.RoundingMethod.TO_NEAREST_EVEN)


_add, _sub, _div, _floor, _where = jnp.add, jnp.subtract, jnp.divide, jnp.floor, jnp.where


def _fma(a, b, c):
    return a * b + c  # XLA contracts it into one fused multiply-add


def _ldexp(y, nb):
    """y * 2^(nb - 256) as two exact power-of-two factors (a subnormal result is flushed on CPU)."""
    h = nb >> 1
    return (y * _u2f((h - 1) << 23)) * _u2f((nb - h - 1) << 23)


def _consts():
    # Behind a barrier: XLA must not fold (x + MAGIC) - MAGIC into x (the wrappers that round
    # that way; the native exps round by lax.round and need no barrier, but it costs nothing).
    return lax.optimization_barrier(_W)
'''

_DTYPES = '''
def _float32_input(x, name):
    """The dtype rule: float32, bfloat16 and float16 are computed in float32 and returned in
    their dtype; Python numbers, integers and booleans become float32; float64 is refused."""
    if isinstance(x, (bool, int, float)):
        return jnp.asarray(x, jnp.float32), jnp.float32
    x = jnp.asarray(x)
    if x.dtype == jnp.float64:
        raise TypeError(f"{name} is a float32 function: cast float64 input to float32 (or use a float64 function)")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return x.astype(jnp.float32), jnp.float32
    return x.astype(jnp.float32), x.dtype
'''

_JVP = Template('''
@jax.custom_jvp
def _f32(x):
    return $inner(x)


@_f32.defjvp
def _f32_jvp(primals, tangents):
    """The derivative from the function's own value: $what."""
    (x,), (t,) = primals, tangents
    y = _f32(x)
    ONE, ZERO, NAN, INF, LIM, MAGIC, LOG2E, LN2_HI, LN2_LO = _consts()
    return y, ($deriv) * t
''')

_PUBLIC = Template('''
def $fn(x):
    """$what.

    $accuracy
    """
    x32, dtype = _float32_input(x, "$fn")
    return _compiled(x32).astype(dtype)
''')


def _constants(p: Program) -> str:
    vals = [(k, float(ins.value)) for k, ins in enumerate(p.instrs) if ins.op == CONST]
    items = "".join(f"    np.float32(float.fromhex(\"{f32_hex(v)}\")),  # c{k} = {decimal(v)}\n" for k, v in vals)
    return f"_K = (\n{items})\n" if vals else "_K = ()\n"


def kernel_body(p: Program) -> str:
    """def _kernel(x): the program in native float32 jnp (p pruned and folded)."""
    lines = ["def _kernel(x):"]
    names = [f"c{k}" for k, ins in enumerate(p.instrs) if ins.op == CONST]
    if names:
        lines.append(f"    {', '.join(names)}{',' if len(names) == 1 else ''} = _K")
    stmts, out = statements(p, JAX_FLOAT32, "x", lambda k, v: f"c{k}")
    lines += [f"    {var} = {expr}" for _, var, expr in stmts]
    if not p.x_dependent()[p.output]:
        out = f"jnp.broadcast_to(jnp.asarray({out}, jnp.float32), jnp.shape(x))"
    lines.append(f"    return {out}")
    return "\n".join(lines) + "\n"


def native_body(p: Program, target: Target, wrapper: Wrapper | None) -> str:
    """Everything after the header: what runs, and so what a measurement under XLA is keyed by."""
    parts = ["from __future__ import annotations\n", _IMPORTS, _constants(p), kernel_body(p)]
    if wrapper:
        w = ", ".join(f"np.float32({v!r})" if v == v and abs(v) != float("inf") else _special(v)
                      for v in py_constants().values())
        parts.append(f"_W = ({w})  # {', '.join(py_constants())}\n")
        parts.append(_HELPERS)
        parts.append(native_wrapper(wrapper, "_full_range", target))
        jvp, what = JVP[wrapper.name]
        parts.append(_JVP.substitute(inner="_full_range", deriv=jvp, what=what))
    else:
        parts.append("_f32 = _kernel  # differentiated through its arithmetic\n")
    # Compiled even when called op by op: XLA fuses a * b + c only inside a compiled computation
    # (eagerly each op rounds apart), and the measured figure is of the compiled code.
    parts.append("_compiled = jax.jit(_f32)\n")
    parts.append(_DTYPES)
    return "\n\n".join(x.strip("\n") + "\n" for x in parts if x.strip())


def public_function(fn: str, target: Target, full: bool, accuracy: str) -> str:
    what = f"float32 {target.name}" + (" on every float32 input" if full else
                                       f" on [{target.interval[0]!r}, {target.interval[1]!r}]")
    return _PUBLIC.substitute(fn=fn, what=what, accuracy=accuracy)


def native_source(p: Program, target: Target, fn: str, prov: Provenance, wrapper: Wrapper | None,
                  measured: list[str]) -> str:
    """The module: header (with what was measured under XLA, `measured`), body, public function."""
    head = header_lines(p, target, prov, "JAX (native float32)", fn, wrapper.described if wrapper else None,
                        NOTES + measured, "Its error under XLA is stated below.")
    accuracy = " ".join(measured) or "Accuracy under XLA: not measured."
    return ('"""' + "\n".join(head).replace('"""', "'''") + '\n"""\n' + native_body(p, target, wrapper)
            + "\n\n" + public_function(fn, target, wrapper is not None, accuracy).strip("\n") + "\n")


def _special(v: float) -> str:
    return "np.float32('nan')" if v != v else ("np.float32('inf')" if v > 0 else "np.float32('-inf')")
