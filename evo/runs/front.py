"""The Pareto front of (error, cost): `Front`, a set of `Member` records (evo.runs.member)
that no other member dominates. The search keeps one per island and one for the whole run
(`Front.add` says what a newcomer did); front.json records the whole-run one, which `evo
front`, `evo export`, the plots and the Python API read back with `load_front`.

front.json (format evo-front/2; evo-front/1 files are read too):
  {"format": "evo-front/2", "run": NAME, "target": {name, expr, interval},
   "platform": "float32", "dtype": "float32", "metric": "ulp", "seed": S, "cost": "ops",
   "errors": what the error figures are, "training_points": N, "checked": [...],
   "members": [Member.to_dict(), ...]}   # sorted by cost; see evo.runs.member for the keys
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from targets import Target, target_from_dict

from ..core.numbers import fmt_error
from ..core.pareto import dominates
from ..core.platform import Platform
from ..errors import EvoError
from ..platforms import get_platform, legacy_platform
from .events import read_events
from .member import Member
from .store import FRONT_FORMAT, check_run_dir

if TYPE_CHECKING:
    from matplotlib.figure import Figure

READABLE_FORMATS = ("evo-front/1", FRONT_FORMAT)
SHORT = {"exhaustive": "exh", "validation": "val", "train": "train"}

# What Front.add did with a newcomer (as pyribs' add returns a status).
NEW, REPLACED, REJECTED = "new", "replaced", "rejected"


class Front:
    """Members by cost, none dominating another on (error, cost); each error labelled by
    where it was measured. Mutable: the search adds to it, a check or a grown training set
    raises errors (then `refilter`)."""

    def __init__(self, members: Iterable[Member] = (), target: Target | None = None,
                 platform: Platform | None = None, cost_kind: str = "ops", meta: dict | None = None,
                 path: Path | None = None, by_cost: bool = True) -> None:
        """by_cost False: members in the order they joined (an island's front, which its
        strategy draws parents from by position)."""
        self.by_cost = by_cost
        self.members: list[Member] = sorted(members, key=lambda m: m.cost) if by_cost else list(members)
        self.target, self.platform, self.cost_kind = target, platform, cost_kind
        self.meta = meta or {}
        self.path = path

    # -- as a sequence ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self) -> Iterator[Member]:
        return iter(self.members)

    def __getitem__(self, i):
        return self.members[i]

    def __contains__(self, m: object) -> bool:
        return m in self.members

    # -- the Pareto set ----------------------------------------------------------------------
    def admits(self, m: Member) -> bool:
        """Whether m would join (a finite error, and no member dominates or equals it)."""
        return np.isfinite(m.error) and not any(dominates(a.point, m.point) or a.point == m.point for a in self)

    def add(self, m: Member) -> str:
        """Let m join if no member dominates or equals it, dropping those it dominates:
        NEW (nothing dropped), REPLACED (some dropped) or REJECTED."""
        if not self.admits(m):
            return REJECTED
        kept = [a for a in self.members if not (m.error <= a.error and m.cost <= a.cost)]
        status = NEW if len(kept) == len(self.members) else REPLACED
        self.members = sorted(kept + [m], key=lambda a: a.cost) if self.by_cost else kept + [m]
        return status

    def refilter(self, extra: Iterable[Member] = ()) -> None:
        """Errors went up (a grown training set, a check): keep only the non-dominated
        members, of these and `extra` (the first of equal points, by cost, error, id)."""
        out: list[Member] = []
        for m in sorted([*self.members, *(e for e in extra if e not in self.members)],
                        key=lambda m: (m.cost, m.error, m.id)):
            if np.isfinite(m.error) and not any(dominates(o.point, m.point) or o.point == m.point for o in out):
                out.append(m)
        self.members = out

    # -- reading a run's front -----------------------------------------------------------------
    @property
    def unit(self) -> str:
        return self.platform.unit

    def member(self, member_id: int | str) -> Member:
        """Front member `member_id`, by its exact id."""
        hits = [m for m in self.members if str(m.id) == str(member_id).strip()]
        if not hits:
            known = ", ".join(str(m.id) for m in self.members) or "none"
            where = f"run {self.path}" if self.path else "the front"
            raise EvoError(f"unknown id {member_id!r} in {where} (front ids: {known})")
        return hits[0]

    def best(self, max_ulp: float = 1.0, verified: bool = True) -> Member | None:
        """The cheapest member whose error is under `max_ulp`: exhaustively verified ones
        only, unless verified=False (then sampled figures count too). None if there is none."""
        ok = [m for m in self.members if m.error < max_ulp and (m.exhaustive is not None or not verified)]
        return min(ok, key=lambda m: (m.cost, m.error)) if ok else None

    def rows(self) -> list[dict]:
        """One row per member: the figures a table shows."""
        return [{"id": m.id, "cost": m.cost, "ops": m.ops, "error": m.error, "error_on": m.error_on,
                 "train": m.train.max, "validation": m.validation.max if m.validation else None,
                 "exhaustive": m.exhaustive_max, "expression": m.expression} for m in self.members]

    def table(self) -> str:
        """The front as a plain-text table (error = the best known, and where it was measured)."""
        head = f"{'id':>8} {'cost':>6}  {'max ' + self.unit:>10} {'on':<6} {'train':>9} {'valid.':>9} " \
               f"{'exhaust.':>9}  expression"
        lines = [head]
        for r in self.rows():
            lines.append(f"{r['id']:>8} {r['cost']:>6g}  {fmt_error(r['error']):>10} {SHORT[r['error_on']]:<6} "
                         f"{fmt_error(r['train']):>9} {fmt_error(r['validation']):>9} "
                         f"{fmt_error(r['exhaustive']):>9}  {r['expression']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        where = f"{self.target.expr} on {list(self.target.interval)}, " if self.target else ""
        return f"Front({where}{len(self)} members)\n{self.table()}"

    def baselines(self, **options) -> list:
        """The classical baselines of the run's target, scored as its platform scores programs
        (unavailable ones left out)."""
        return self.platform.baselines(self.target, on_skip=lambda *a: None, **options)

    def plot(self, baselines: bool = True) -> "Figure":
        """Error against cost: the front (labelled by error kind) and the classical baselines."""
        from .plots import front_figure

        return front_figure(self, baselines)


def load_front(run_dir: str | Path) -> Front:
    """The front of a run directory (front.json), each member knowing its target and run."""
    path = Path(run_dir)
    f = path / "front.json"
    check_run_dir(path, "front.json")
    try:
        d = json.loads(f.read_text())
        if d.get("format") not in READABLE_FORMATS:
            raise ValueError
        target = target_from_dict(d["target"])
        platform = get_platform(d.get("platform") or legacy_platform(d.get("dtype")))
        members = []
        for rec in d["members"]:
            m = Member.from_dict(rec)
            m.target, m.run, m.platform = target, str(path), platform
            members.append(m)
        return Front(members, target, platform, d.get("cost", "ops"), d, path)
    except (ValueError, KeyError, TypeError, EvoError):
        raise EvoError(f"{f}: not a valid front file") from None


def write_plots(run_dir: str | Path) -> None:
    """front.png and progress.png of a run directory."""
    from .plots import progress_figure

    path = Path(run_dir)
    load_front(path).plot().savefig(path / "front.png", dpi=110)
    progress_figure(read_events(path / "events.jsonl")).savefig(path / "progress.png", dpi=110)
