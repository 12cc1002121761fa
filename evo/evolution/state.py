"""What a search has learned, saved in every checkpoint and restored on resume:
the islands (populations and their fronts), the whole-run archive, the counters,
the grown training set and the random state. Members are stored once, by id;
islands and the archive refer to them, so sharing survives a resume."""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field, fields

from ..core.platform import Platform
from ..runs.front import Front
from ..runs.member import Member


@dataclass
class Stats:
    evals: int = 0
    cache_hits: int = 0       # children skipped: their function was evaluated before
    duplicates: int = 0       # evaluated children whose fitted function was already known
    failures: int = 0
    fit_seconds: float = 0.0
    eval_seconds: float = 0.0
    elapsed: float = 0.0      # across resumes
    per_worker: dict = field(default_factory=dict)
    checks: int = 0           # exhaustive checks finished during the search
    check_seconds: float = 0.0
    migrations: int = 0
    restarts: int = 0
    numpy_fits: int = 0       # children the compiled fitter could not run (evo.fit.native): fitted by numpy

    @staticmethod
    def from_dict(d: dict) -> "Stats":
        known = {f.name for f in fields(Stats)}
        return Stats(**{k: v for k, v in d.items() if k in known})


@dataclass
class Island:
    """One population and the front of what it produced since it (re)started."""

    population: deque = field(default_factory=deque)
    front: Front = field(default_factory=lambda: Front(by_cost=False))   # in the order members joined
    evals: int = 0            # children of this island evaluated
    last_gain: int = 0        # `evals` when its front last gained a member
    restarts: int = 0

    def stalled(self, after: int) -> bool:
        return self.evals - self.last_gain >= after

    def to_dict(self) -> dict:
        return {"population": [m.id for m in self.population], "front": [m.id for m in self.front],
                "evals": self.evals, "last_gain": self.last_gain, "restarts": self.restarts}

    @staticmethod
    def from_dict(d: dict, members: dict[int, Member]) -> "Island":
        return Island(deque(members[i] for i in d["population"]), Front((members[i] for i in d["front"]), by_cost=False),
                      int(d["evals"]), int(d["last_gain"]), int(d["restarts"]))


@dataclass
class SearchState:
    islands: list[Island]
    front: Front = field(default_factory=Front)            # the whole-run Pareto front
    stats: Stats = field(default_factory=Stats)
    next_id: int = 0
    submitted: int = 0
    last_migration: int = 0                                 # stats.evals at the last migration
    checked: list[dict] = field(default_factory=list)     # every exhaustive check: id, cost, ops, max_ulp, ...
    verified: list[Member] = field(default_factory=list)  # the members checked: they may rejoin the front

    def members(self) -> dict[int, Member]:
        """Every member any island or the archive holds, by id."""
        out: dict[int, Member] = {}
        for isl in self.islands:
            for m in (*isl.population, *isl.front):
                out[m.id] = m
        for m in (*self.front, *self.verified):
            out[m.id] = m
        return out

    def refilter(self) -> None:
        """Errors went up (a grown training set, a check): drop what is now dominated. A
        checked member that an optimistic sampled figure pushed out comes back once that
        figure is checked too."""
        self.front.refilter(self.verified)
        for isl in self.islands:
            isl.front.refilter()

    def to_dict(self, platform: Platform) -> dict:
        # (the whole-run front is saved as "archive", as checkpoints always named it)
        return {"islands": [i.to_dict() for i in self.islands], "archive": [m.id for m in self.front],
                "members": [m.to_dict(platform) for m in self.members().values()], "stats": asdict(self.stats),
                "next_id": self.next_id, "submitted": self.submitted, "last_migration": self.last_migration,
                "checked": self.checked}

    @staticmethod
    def from_dict(d: dict) -> "SearchState":
        members = {m.id: m for m in (Member.from_dict(r) for r in d["members"])}
        # Every check is one `checked` entry and one `verified` member, so the members come
        # back from the entries (checkpoints older than `verified` held only what a front kept)
        verified = [members[e["id"]] for e in d["checked"] if e["id"] in members]
        return SearchState([Island.from_dict(i, members) for i in d["islands"]],
                           Front(members[i] for i in d["archive"]), Stats.from_dict(d["stats"]), int(d["next_id"]),
                           int(d["submitted"]), int(d["last_migration"]), list(d["checked"]), verified)
