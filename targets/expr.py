"""Target expressions: a safe subset of Python over x, evaluated with mpmath or numpy."""
from __future__ import annotations

import ast
import warnings
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


# Bounds checked before anything evaluates an expression: Python computes an integer power of
# constants exactly (9**9**9 would not return), and an expression is evaluated per input.
MAX_LENGTH = 1000          # characters
MAX_MAGNITUDE = 2.0 ** 1000   # of a constant, or of a subexpression of constants
MAX_EXPONENT = 1024        # of a constant power of an expression in x


class ExprError(ValueError):
    pass


def parse(text: str) -> ast.Expression:
    """Parse and check an expression in x; ExprError with a one-line reason otherwise."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression of {len(text)} characters is too long (at most {MAX_LENGTH})")
    try:
        with warnings.catch_warnings():   # "invalid decimal literal" and the like: the error below says it
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExprError(f"cannot parse expression {text[:60]!r}") from None
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
    _value(tree.body, text)
    return tree


def _value(node: ast.AST, text: str) -> float | None:
    """A subexpression's value in float64 if it holds no x (None if it does, or is not a
    finite real there), checked against the bounds without computing any large number."""
    if isinstance(node, ast.Constant):
        v = node.value
        if abs(v) > MAX_MAGNITUDE:
            raise ExprError(f"expression {_short(text)!r}: constant {_short(ast.unparse(node))} is too large "
                            f"(at most 2^1000 in magnitude)")
        return float(v)
    if isinstance(node, ast.Name):
        return CONSTANTS[node.id][1] if node.id in CONSTANTS else None
    if isinstance(node, ast.UnaryOp):
        v = _value(node.operand, text)
        return None if v is None else -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call):
        v = _value(node.args[0], text)
        with np.errstate(all="ignore"):
            r = None if v is None else float(FUNCTIONS[node.func.id][1](np.float64(v)))
        return r if r is not None and np.isfinite(r) else None
    a, b = _value(node.left, text), _value(node.right, text)
    if isinstance(node.op, ast.Pow) and a is None and b is not None and abs(b) > MAX_EXPONENT:
        raise ExprError(f"expression {_short(text)!r}: exponent {_short(ast.unparse(node.right))} is too large "
                        f"(at most {MAX_EXPONENT} in magnitude)")
    if a is None or b is None:
        return None
    try:
        r = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__, ast.Div: float.__truediv__,
             ast.Pow: float.__pow__}[type(node.op)](a, b)
    except OverflowError:
        r = float("inf")
    except ZeroDivisionError:
        return None
    if isinstance(r, complex) or r != r:
        return None
    if abs(r) > MAX_MAGNITUDE:
        raise ExprError(f"expression {_short(text)!r}: {_short(ast.unparse(node))} is too large (at most 2^1000 in magnitude)")
    return r


def _short(s: str) -> str:
    return s if len(s) <= 40 else s[:37] + "..."


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
