"""evo: discover float32 numeric kernels by regularized evolution.

The Python API (evo.api): search, resume, load_run -> Run (its .front: a Front of
Member records), verify, verify_c, verify_library, certify, export, baselines. Below
it: programs (Program, Instr), the interpreter (evaluate), scoring (Scorer), targets
(get_target), number formats (PLATFORMS). Errors: EvoError.
"""
from targets import TARGETS, Target, get_target

from .api import (
                  Run,
                  Verification,
                  baselines,
                  certify,
                  export,
                  load_run,
                  resume,
                  search,
                  verify,
                  verify_c,
                  verify_library,
)
from .core.interp import evaluate
from .core.ir import (
                  Instr,
                  Program,
                  canonical,
                  dumps,
                  fold,
                  loads,
                  prune,
                  render,
                  simplify,
)
from .core.scoring import ErrorStats, Scorer
from .core.version import __version__
from .errors import EvoError, ProgramError
from .platforms import PLATFORMS
from .runs.front import Front
from .runs.member import Member

__all__ = ["search", "resume", "load_run", "Run", "Front", "Member", "verify", "verify_c", "verify_library",
           "certify", "Verification", "export", "baselines", "Program", "Instr", "evaluate", "Scorer", "ErrorStats",
           "get_target", "Target", "TARGETS", "PLATFORMS", "EvoError", "ProgramError", "canonical", "fold", "prune",
           "simplify", "render", "dumps", "loads", "__version__"]
