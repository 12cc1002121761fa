"""Search configuration: one frozen dataclass, resolved and saved as runs/NAME/config.json."""
from __future__ import annotations

import numbers
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from primitives import OPS

from ..backends.registry import COST_BACKENDS, SEMANTICS_BACKENDS
from ..errors import EvoError
from ..fit.config import FitConfig
from ..platforms import DEFAULT as DEFAULT_PLATFORM
from ..platforms import PLATFORMS, get_platform, legacy_platform, platform_of_semantics
from ..runs.store import RunStore
from .strategy import STRATEGIES

ALGORITHMS = tuple(STRATEGIES)
COSTS = ("ops", *COST_BACKENDS)  # the op count, or a backend's measured ns/element
SEMANTICS = SEMANTICS_BACKENDS


@dataclass(frozen=True)
class SearchConfig:
    target: str = "exp2"
    interval: tuple[float, float] | None = None
    platform: str = DEFAULT_PLATFORM     # the number format (evo.platforms): float32 | reals
    metric: str = ""                     # one of the platform's ("": its default); float32: ulp | fixed
                                         # (errors in ulp(fixed_ref))
    fixed_ref: float = 1.5
    algorithm: str = "regularized"
    population: int = 64
    tournament: int = 8
    archive_parents: float = 0.25        # share of parents drawn from their island's front
    islands: int = 4                     # populations evolving side by side (population members each)
    migrate_every: int = 2000            # evaluations between migrations of whole-run front members
    restart_after: int = 6000            # an island whose front has not moved in this many of its
                                         # evaluations starts again from f(x) = x
    train_capacity: int = 512            # grown training points kept (the oldest leave first)
    second_start: float = 0.0            # share of children whose constants are fitted twice
                                         # (inherited, and fresh): keeps the better
    mutation_weights: tuple[tuple[str, float], ...] = ()   # overrides of MutationConfig.weights
    budget_seconds: float | None = None
    max_evals: int | None = None
    seed: int = 0
    workers: int | None = 0              # None: all cores (Ray); 0: in-process
    address: str | None = None           # Ray cluster address
    batch_size: int = 8                  # children per worker task
    deterministic: bool = False          # generation-synchronous batches
    cost: str = "ops"                    # ops | xla | llvm (measured ns/element)
    cost_weights: tuple[tuple[str, float], ...] = ()
    semantics: str = "interp"            # score as computed by: interp | llvm | xla | xla-exact
    ops: tuple[str, ...] = ()            # () : the platform's
    max_ops: int = 24
    fit: FitConfig = field(default_factory=FitConfig)
    checkpoint_every: float = 30.0       # seconds
    verify_below: float = 2.0            # verify front members under this max ULP (in the loop and at the end)
    goal: str = ""                       # stop at the first verified member that meets it (goal_met):
                                         # faithful | correctly-rounded | a max error
    validation_seed: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "platform", platform_of_semantics(self.platform, self.semantics))
        if self.platform in PLATFORMS:  # the platform's defaults, resolved (config.json states them)
            row = PLATFORMS[self.platform]
            if self.semantics == "interp" and "interp" not in row.semantics:
                object.__setattr__(self, "semantics", row.semantics[0])
            object.__setattr__(self, "metric", self.metric or row.metrics[0])
            object.__setattr__(self, "ops", tuple(self.ops) or row.ops)
        check(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "SearchConfig":
        d = dict(d)
        if "dtype" in d and "platform" not in d:  # written before platforms: float64 was reals mode
            d["platform"] = legacy_platform(d.pop("dtype"))
            if d["platform"] != DEFAULT_PLATFORM:
                d["metric"] = ""
        known = {f.name for f in fields(SearchConfig)}
        unknown = set(d) - known
        if unknown:
            raise EvoError(f"unknown config keys: {', '.join(sorted(unknown))}")
        if d.get("interval") is not None:
            d["interval"] = tuple(d["interval"])
        d["cost_weights"] = tuple(tuple(w) for w in d.get("cost_weights", ()))
        d["ops"] = tuple(d.get("ops", ()))
        d["mutation_weights"] = tuple(tuple(w) for w in d.get("mutation_weights", ()))
        if isinstance(d.get("fit"), dict):
            fd = dict(d["fit"])
            fd["polish_steps"] = tuple(fd.get("polish_steps", FitConfig.polish_steps))
            d["fit"] = FitConfig(**fd)
        return SearchConfig(**d)


# What a setting's annotation allows, and how a message says it.
_KINDS = {"int": ((numbers.Integral,), "an integer"), "float": ((numbers.Real,), "a number"),
          "str": ((str,), "a string"), "bool": ((bool,), "True or False"), "tuple": ((tuple, list), "a tuple"),
          "FitConfig": ((FitConfig,), "a FitConfig"), "None": ((type(None),), "None")}


def check_types(c: SearchConfig) -> None:
    """Each setting of the kind its annotation says (max_evals="abc" named as such, not a TypeError)."""
    for f in fields(c):
        v = getattr(c, f.name)
        kinds = [_KINDS[k.split("[", 1)[0].strip()] for k in str(f.type).split(" | ")]
        said = [name for _, name in kinds]
        ok = any(isinstance(v, types) for types, _ in kinds) and (not isinstance(v, bool) or "True or False" in said)
        if not ok:  # (a bool is an int to Python, not to a user: max_evals=True is a mistake)
            raise EvoError(f"search option {f.name} must be {' or '.join(said)}, got {v!r}")


def check(c: SearchConfig) -> None:
    """Reject bad settings with one-line messages."""
    check_types(c)
    if c.algorithm not in ALGORITHMS:
        raise EvoError(f"unknown algorithm {c.algorithm!r} (known: {', '.join(ALGORITHMS)})")
    if c.cost not in COSTS:
        raise EvoError(f"unknown cost {c.cost!r} (known: {', '.join(COSTS)})")
    row = get_platform(c.platform)
    if c.semantics not in SEMANTICS:
        raise EvoError(f"unknown semantics {c.semantics!r} (known: {', '.join(SEMANTICS)})")
    if c.semantics not in row.semantics:
        raise EvoError(f"semantics {c.semantics!r} is not offered on the {c.platform} platform "
                       f"(known: {', '.join(row.semantics)})")
    if c.metric not in row.metrics:
        raise EvoError(f"metric {c.metric!r} is not offered on the {c.platform} platform (known: {', '.join(row.metrics)})")
    if c.budget_seconds is None and c.max_evals is None:
        raise EvoError("give a budget: {--budget=budget_seconds} or {--evals=max_evals}")
    if c.budget_seconds is not None and not c.budget_seconds > 0:
        raise EvoError(f"budget must be positive, got {c.budget_seconds:g} s")
    if c.max_evals is not None and c.max_evals <= 0:
        raise EvoError(f"{{--evals=max_evals}} must be positive, got {c.max_evals}")
    if c.islands < 1:
        raise EvoError(f"islands must be >= 1, got {c.islands}")
    if c.migrate_every < 1 or c.restart_after < 1 or c.train_capacity < 0:
        raise EvoError("migrate_every and restart_after must be >= 1, train_capacity >= 0")
    if c.tournament < 1 or c.population < 2:
        raise EvoError(f"population must be >= 2 and tournament >= 1 (got {c.population}, {c.tournament})")
    if c.population < c.tournament:
        raise EvoError(f"population ({c.population}) is smaller than tournament ({c.tournament})")
    if not 0.0 <= c.archive_parents <= 1.0:
        raise EvoError(f"archive parent share must be in [0, 1], got {c.archive_parents}")
    if c.workers is not None and c.workers < 0:
        raise EvoError(f"{{--workers}} must be >= 0, got {c.workers}")
    if c.batch_size < 1:
        raise EvoError(f"batch size must be >= 1, got {c.batch_size}")
    bad = [o for o in c.ops if o not in OPS]
    if bad:
        raise EvoError(f"unknown op {bad[0]!r} (known: {', '.join(OPS)})")
    from .mutate import MUTATIONS

    for name, w in c.mutation_weights:
        if name not in MUTATIONS or not w >= 0:
            raise EvoError(f"mutation weight {name}={w}: known mutations are {', '.join(MUTATIONS)}, weights >= 0")
    if c.goal:
        check_goal(c.goal, row)
    for name, w in c.cost_weights:
        if name not in OPS:
            raise EvoError(f"unknown op {name!r} in the op costs (known: {', '.join(OPS)})")
        if not w >= 0:
            raise EvoError(f"op costs must be >= 0, got {name}={w}")


def check_goal(goal: str, platform) -> None:
    """A goal the platform can check: one of its named goals, or a positive max error."""
    try:
        if float(goal) > 0:
            return
    except ValueError:
        if goal in platform.goals:
            return
    offered = ", ".join(platform.goals)
    if goal == "correctly-rounded":
        raise EvoError(f"goal 'correctly-rounded' is not offered on the {platform.name} platform: correct rounding "
                       f"is decided on every input only with bfloat16 or float16 inputs (offered: {offered}, "
                       "or a max error)")
    raise EvoError(f"unknown goal {goal!r} on the {platform.name} platform (offered: {offered}, or a max error > 0)")


def goal_met(goal: str, result: dict) -> bool:
    """Whether an exhaustive check's result meets a search's goal: correctly-rounded (no input
    misrounded), faithful (the output under 1 ulp) or a max error (of the output)."""
    err = float(result.get("rounded_max_ulp", result["max_ulp"]))
    if goal == "correctly-rounded":
        return int(result.get("not_correctly_rounded", 1)) == 0
    if goal == "faithful":
        return err < 1.0
    return err <= float(goal)


_UNITS = {"s": 1, "m": 60, "h": 3600, "": 1}


def parse_duration(text: str) -> float:
    """'90', '90s', '10m', '1.5h' -> seconds."""
    m = re.fullmatch(r"\s*(-?[0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not m:
        raise EvoError(f"budget {text!r} is not a duration (e.g. 90s, 10m, 1h)")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise EvoError(f"budget must be positive, got {text!r}")
    return seconds


def open_run(path: Path) -> tuple[RunStore, SearchConfig]:
    """A run directory and its config (one-line EvoError if either is not valid)."""
    return RunStore.open(Path(path), SearchConfig.from_dict)
