"""Target expressions: a safe subset of Python over x, evaluated with mpmath or numpy."""
from __future__ import annotations

import ast
from typing import Any, Callable

import mpmath
import numpy as np
import scipy.special

# name -> (mpmath implementation, numpy float64 implementation)
FUNCTIONS: dict[str, tuple[Callable, Callable]] = {
    "exp": (mpmath.exp, np.exp), "exp2": (mpmath.exp2, np.exp2), "expm1": (mpmath.expm1, np.expm1),
    "log": (mpmath.log, np.log), "log2": (mpmath.log2, np.log2), "log10": (mpmath.log10, np.log10),
    "log1p": (mpmath.log1p, np.log1p), "sqrt": (mpmath.sqrt, np.sqrt), "cbrt": (mpmath.cbrt, np.cbrt),
    "sin": (mpmath.sin, np.sin), "cos": (mpmath.cos, np.cos), "tan": (mpmath.tan, np.tan),
    "asin": (mpmath.asin, np.arcsin), "acos": (mpmath.acos, np.arccos), "atan": (mpmath.atan, np.arctan),
    "sinh": (mpmath.sinh, np.sinh), "cosh": (mpmath.cosh, np.cosh), "tanh": (mpmath.tanh, np.tanh),
    "asinh": (mpmath.asinh, np.arcsinh), "acosh": (mpmath.acosh, np.arccosh), "atanh": (mpmath.atanh, np.arctanh),
    "erf": (mpmath.erf, scipy.special.erf), "erfc": (mpmath.erfc, scipy.special.erfc),
    "gamma": (mpmath.gamma, scipy.special.gamma), "lgamma": (mpmath.loggamma, scipy.special.gammaln),
    "abs": (abs, np.abs),
}
CONSTANTS: dict[str, tuple[Callable[[], Any], float]] = {
    "pi": (lambda: +mpmath.pi, np.pi), "e": (lambda: +mpmath.e, np.e), "ln2": (lambda: +mpmath.ln2, np.log(2.0)),
}
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant, ast.Load,
            ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


class ExprError(ValueError):
    pass


def parse(text: str) -> ast.Expression:
    """Parse and check an expression in x; ExprError with a one-line reason otherwise."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ExprError(f"cannot parse expression {text!r}") from None
    call_names = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    uses_x = False
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"expression {text!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, (int, float))):
            raise ExprError(f"expression {text!r}: only numeric constants are allowed")
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", "?")
            if name not in FUNCTIONS:
                raise ExprError(f"expression {text!r}: unknown function {name!r} "
                                f"(known: {', '.join(sorted(FUNCTIONS))})")
            if node.keywords or len(node.args) != 1:
                raise ExprError(f"expression {text!r}: {name}() takes exactly one argument")
        if isinstance(node, ast.Name) and id(node) not in call_names:
            if node.id == "x":
                uses_x = True
            elif node.id not in CONSTANTS:
                raise ExprError(f"expression {text!r}: unknown name {node.id!r} (use x, {', '.join(CONSTANTS)})")
    if not uses_x:
        raise ExprError(f"expression {text!r} does not use x")
    return tree


def compile_mp(text: str) -> Callable[[Any], Any]:
    """f(x) on mpmath numbers."""
    code = compile(parse(text), "<target>", "eval")
    env = {k: v[0] for k, v in FUNCTIONS.items()}
    consts = {k: v[0] for k, v in CONSTANTS.items()}

    def f(x: Any) -> Any:
        return eval(code, {"__builtins__": {}}, {**env, **{k: c() for k, c in consts.items()}, "x": x})

    return f


def compile_np(text: str) -> Callable[[np.ndarray], np.ndarray]:
    """f(x) on float64 numpy arrays (the fast reference for exhaustive checks)."""
    code = compile(parse(text), "<target>", "eval")
    env = {k: v[1] for k, v in FUNCTIONS.items()} | {k: v[1] for k, v in CONSTANTS.items()}

    def f(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(eval(code, {"__builtins__": {}}, {**env, "x": np.asarray(x, np.float64)}), np.float64)

    return f
