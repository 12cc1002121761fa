"""Reading run directories (runs/NAME/): what `evo front`, `evo export` and
`evo bench kernel` need. The search writes them (evo.search.store).

front.json:
  {"format": "evo-front/1", "run": NAME, "target": {name, expr, interval},
   "dtype": "float32", "metric": "ulp", "seed": S,
   "members": [{"id", "cost", "ops", "max_ulp", "mean_ulp", "argmax",
                "exhaustive_max_ulp" (null until verified), "verified" (verify result or null),
                "expression", "program" (the JSON that `evo score` reads),
                "parent", "mutation"}, ...]}   # sorted by cost
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from targets import Target, target_from_dict

from .errors import EvoError
from .ir import Program, from_dict

FRONT_FORMAT = "evo-front/1"


@dataclass(frozen=True)
class RunFront:
    path: Path
    target: Target
    dtype: str
    members: tuple[dict, ...]
    meta: dict

    def member(self, member_id: str) -> tuple[Program, dict]:
        """The program and record of front member `member_id` (exact id, else a unique prefix)."""
        hits = [m for m in self.members if str(m["id"]) == str(member_id)] or \
            [m for m in self.members if str(m["id"]).startswith(str(member_id))]
        if len(hits) != 1:
            known = ", ".join(str(m["id"]) for m in self.members) or "none"
            what = "ambiguous" if hits else "unknown"
            raise EvoError(f"{what} id {member_id!r} in run {self.path} (front ids: {known})")
        return from_dict(hits[0]["program"]), hits[0]


def load_front(run_dir: str | Path) -> RunFront:
    path = Path(run_dir)
    f = path / "front.json"
    if not path.is_dir():
        raise EvoError(f"{path}: no such run directory")
    if not f.exists():
        raise EvoError(f"{path}: not a run (no front.json)")
    try:
        d = json.loads(f.read_text())
        if d.get("format") != FRONT_FORMAT:
            raise ValueError
        return RunFront(path, target_from_dict(d["target"]), d.get("dtype", "float32"), tuple(d["members"]), d)
    except (ValueError, KeyError, TypeError):
        raise EvoError(f"{f}: not a valid front file") from None
