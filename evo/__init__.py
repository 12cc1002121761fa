"""evo: discover float32 numeric kernels by regularized evolution.

The Python API (evo.api): search, resume, load_run -> Run (its .front: a Front of
Member records), verify, export, baselines. Below it: programs (Program, Instr),
the interpreter (evaluate), scoring (Scorer), targets (get_target). Errors: EvoError.
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

# Modules named like API functions are imported first: importing a submodule later would
# set evo.<name> to the module, hiding the function of that name.
from . import baselines as _baselines_module, export as _export_package, verify as _verify_module  # noqa: E402,F401
from .api import Run, Verification, baselines, export, load_run, resume, search, verify  # noqa: E402
from .member import Member  # noqa: E402
from .runs import Front  # noqa: E402

__all__ = ["search", "resume", "load_run", "Run", "Front", "Member", "verify", "Verification", "export",
           "baselines", "Program", "Instr", "evaluate", "Scorer", "ErrorStats", "get_target", "Target", "TARGETS",
           "EvoError", "ProgramError", "canonical", "fold", "prune", "simplify", "render", "dumps", "loads",
           "__version__"]
