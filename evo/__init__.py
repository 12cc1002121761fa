"""evo: discover float32 numeric kernels by regularized evolution.

Public surface: programs (Program, Instr), the interpreter (evaluate), scoring
(Scorer), targets (get_target).
"""
from importlib.metadata import PackageNotFoundError, version

from targets import TARGETS, Target, get_target

from .errors import EvoError, ProgramError
from .interp import evaluate
from .ir import Instr, Program, canonical, dumps, fold, loads, prune, render, simplify
from .scoring import ErrorStats, Scorer

try:
    __version__ = version("evo-kernels")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+src"

__all__ = ["Program", "Instr", "evaluate", "Scorer", "ErrorStats", "get_target", "Target", "TARGETS",
           "EvoError", "ProgramError", "canonical", "fold", "prune", "simplify", "render", "dumps", "loads",
           "__version__"]
