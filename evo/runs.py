"""Reading run directories (runs/NAME/): the front of a run as `Front`, a list of
`Member` records (evo.member), what `evo front`, `evo export`, the plots and the
Python API read. The search writes them (evo.store.RunStore).

front.json (format evo-front/2; evo-front/1 files are read too):
  {"format": "evo-front/2", "run": NAME, "target": {name, expr, interval},
   "dtype": "float32", "metric": "ulp", "seed": S, "cost": "ops",
   "errors": what the error figures are, "training_points": N, "checked": [...],
   "members": [Member.to_dict(), ...]}   # sorted by cost; see evo.member for the keys
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from targets import Target, target_from_dict

from .errors import EvoError
from .member import Member

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FRONT_FORMAT = "evo-front/2"
READABLE_FORMATS = ("evo-front/1", FRONT_FORMAT)
ERRORS_NOTE = ("each member's error is the best known max: exhaustive (every float32 of the interval) where "
               "verified, else the larger of its train and validation max (sampled); error_on says which")
SHORT = {"exhaustive": "exh", "validation": "val", "train": "train"}


@dataclass(frozen=True)
class Front:
    """The Pareto front of a run: members by cost, each error labelled."""

    members: tuple[Member, ...]
    target: Target
    dtype: str = "float32"
    cost_kind: str = "ops"
    meta: dict = field(default_factory=dict, repr=False)
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self) -> Iterator[Member]:
        return iter(self.members)

    def __getitem__(self, i: int) -> Member:
        return self.members[i]

    @property
    def unit(self) -> str:
        return "ulp" if self.dtype == "float32" else "rel"

    def member(self, member_id: int | str) -> Member:
        """Front member `member_id` (an exact id, else a unique prefix of one)."""
        hits = [m for m in self.members if str(m.id) == str(member_id)] or \
            [m for m in self.members if str(m.id).startswith(str(member_id))]
        if len(hits) != 1:
            known = ", ".join(str(m.id) for m in self.members) or "none"
            what = "ambiguous" if hits else "unknown"
            where = f"run {self.path}" if self.path else "the front"
            raise EvoError(f"{what} id {member_id!r} in {where} (front ids: {known})")
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
            lines.append(f"{r['id']:>8} {r['cost']:>6g}  {_fmt(r['error']):>10} {SHORT[r['error_on']]:<6} "
                         f"{_fmt(r['train']):>9} {_fmt(r['validation']):>9} {_fmt(r['exhaustive']):>9}  "
                         f"{r['expression']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Front({self.target.expr} on {list(self.target.interval)}, {len(self)} members)\n{self.table()}"

    def plot(self, baselines: bool = True) -> "Figure":
        """Error against cost, log scale: the front (labelled by error kind) and the classical baselines."""
        from .plots import front_figure

        return front_figure(self, baselines)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return "inf" if v == float("inf") else f"{v:.4g}"


def load_front(run_dir: str | Path) -> Front:
    path = Path(run_dir)
    f = path / "front.json"
    if not path.is_dir():
        raise EvoError(f"{path}: no such run directory")
    if not f.exists():
        raise EvoError(f"{path}: not a run (no front.json)")
    try:
        d = json.loads(f.read_text())
        if d.get("format") not in READABLE_FORMATS:
            raise ValueError
        target = target_from_dict(d["target"])
        members = []
        for rec in d["members"]:
            m = Member.from_dict(rec)
            m.target, m.run = target, str(path)
            members.append(m)
        return Front(tuple(members), target, d.get("dtype", "float32"), d.get("cost", "ops"), d, path)
    except (ValueError, KeyError, TypeError):
        raise EvoError(f"{f}: not a valid front file") from None
