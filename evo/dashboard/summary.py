"""What the dashboard keeps of a run's event log, updated event by event.

A long run logs millions of evaluations; the page needs a few hundred numbers.
`EventSummary.apply` folds events into counters, per-worker throughput, the best
error per cost over evaluations (only improvements are kept), a throughput series
whose resolution halves when it fills up, and the parent chain of every child in
compact arrays (ancestors' programs are not logged, only id, parent, mutation,
error and cost).
"""
from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

SERIES_POINTS = 512     # the throughput series is kept at most this long (then halved)
PROGRESS_POINTS = 400   # each best-error-per-cost series is sent at most this long
PROGRESS_COSTS = 16     # ... for the cheapest this many costs
LINEAGE_STEPS = 1000    # a parent chain is followed this far at most


def num(v: object) -> float:
    """An error figure of an event ("inf" is logged as a string) as a float; nan if unreadable."""
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


@dataclass
class Thinned:
    """A growing (x, y) series kept short: every `stride`-th sample, the stride doubling when full."""

    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    stride: int = 1
    seen: int = 0

    def add(self, x: float, y: float) -> None:
        if self.seen % self.stride == 0:
            self.xs.append(x)
            self.ys.append(y)
            if len(self.xs) >= SERIES_POINTS:
                self.xs, self.ys, self.stride = self.xs[::2], self.ys[::2], self.stride * 2
        self.seen += 1


@dataclass
class Worker:
    evals: int = 0
    first: float = math.inf   # run elapsed seconds at its first and last evaluation
    last: float = 0.0

    def rate(self) -> float | None:
        span = self.last - self.first
        return self.evals / span if self.evals > 1 and span > 0 else None


class Lineage:
    """Parent, mutation, error, cost and evaluation count of every child, indexed by id."""

    def __init__(self) -> None:
        self.parent = array("q")   # -1: none (the seed), -2: never logged
        self.error = array("d")
        self.cost = array("d")
        self.evals = array("q")
        self.mutation = array("H")
        self.mutations: list[str] = []
        self._mutation_index: dict[str, int] = {}

    def add(self, i: int, parent: int | None, mutation: str, error: float, cost: float, evals: int) -> None:
        k = self._mutation_index.get(mutation)
        if k is None:
            k = self._mutation_index[mutation] = len(self.mutations)
            self.mutations.append(mutation)
        p = -1 if parent is None else int(parent)
        n = len(self.parent)
        if i == n:  # the usual case: ids come in order
            self.parent.append(p)
            self.error.append(error)
            self.cost.append(cost)
            self.evals.append(evals)
            self.mutation.append(k)
            return
        if i < 0 or i > 50_000_000:
            return  # not an id this search makes: ignore rather than allocate
        if i > n:
            grow = i + 1 - n
            self.parent.extend([-2] * grow)
            self.error.extend([math.nan] * grow)
            self.cost.extend([math.nan] * grow)
            self.evals.extend([0] * grow)
            self.mutation.extend([0] * grow)
        self.parent[i], self.error[i], self.cost[i], self.evals[i], self.mutation[i] = p, error, cost, evals, k

    def known(self, i: int) -> bool:
        return 0 <= i < len(self.parent) and self.parent[i] != -2

    def chain(self, i: int) -> list[dict]:
        """i, its parent, its parent's parent, ... back to the seed (as logged)."""
        out: list[dict] = []
        seen: set[int] = set()
        while self.known(i) and i not in seen and len(out) < LINEAGE_STEPS:
            seen.add(i)
            p = self.parent[i]
            out.append({"id": i, "parent": p if p >= 0 else None, "mutation": self.mutations[self.mutation[i]],
                        "error": self.error[i], "cost": self.cost[i], "evals": self.evals[i]})
            if p < 0:
                break
            i = p
        return out


class EventSummary:
    """Everything the pages show that comes from events.jsonl."""

    def __init__(self) -> None:
        self.events = 0
        self.kinds: dict[str, int] = {}
        self.last_kind: str | None = None
        self.evals = 0
        self.elapsed = 0.0
        self.failures = 0
        self.start: dict | None = None       # the start event (config and target: a fallback for config.json)
        self.workers: dict[str, Worker] = {}
        self.best: dict[float, list[tuple[int, float]]] = {}   # cost -> improvements (evals, error)
        self.throughput = Thinned()           # (elapsed, evals)
        self.verified: dict[int, dict] = {}   # member id -> the last exhaustive check of it
        self.lineage = Lineage()
        self.front_events = 0

    def apply(self, events: list[dict]) -> None:
        for e in events:
            kind = e.get("event")
            if not isinstance(kind, str):
                continue
            self.events += 1
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            self.last_kind = kind
            try:
                if kind == "eval":
                    self._eval(e)
                elif kind == "verified":
                    self.verified[int(e["id"])] = {k: e.get(k) for k in
                                                   ("id", "cost", "ops", "max_ulp", "argmax", "evals", "elapsed")}
                elif kind == "start" and self.start is None:
                    self.start = e
                elif kind == "front":
                    self.front_events += 1
                elif kind in ("end", "interrupted", "resume"):
                    self.evals = max(self.evals, int(e.get("evals", 0)))
            except (KeyError, TypeError, ValueError):
                pass  # a well-formed line with odd fields: counted, not shown

    def _eval(self, e: dict) -> None:
        # Called for nearly every line of a long log: kept lean (no helper calls on the usual path).
        n, t = e["evals"], e.get("elapsed", 0.0)
        if type(n) is not int:
            n = int(n)
        if type(t) is not float:
            t = float(t)
        self.evals = n
        if t > self.elapsed:
            self.elapsed = t
        w = self.workers.get(e.get("worker"))
        if w is None:
            w = self.workers[str(e.get("worker", "?"))] = Worker()
        w.evals += 1
        if t < w.first:
            w.first = t
        if t > w.last:
            w.last = t
        th = self.throughput
        if th.seen % th.stride == 0:
            th.add(t, n)
        else:
            th.seen += 1
        err, cost = e.get("error"), e.get("cost")
        if type(err) is not float:
            err = num(err)
        if type(cost) is not float:
            cost = num(cost)
        if "failure" in e:
            self.failures += 1
        i = e.get("id")
        if i is not None:
            self.lineage.add(int(i), e.get("parent"), e.get("mutation", ""), err, cost, n)
        if err < math.inf and cost < math.inf:  # finite (nan compares false)
            series = self.best.get(cost)
            if series is None:
                self.best[cost] = [(n, err)]
            elif err < series[-1][1]:
                series.append((n, err))

    # -- views ---------------------------------------------------------------------------
    def rate(self) -> float | None:
        return self.evals / self.elapsed if self.elapsed > 0 else None

    def recent_rate(self, window: float = 60.0) -> float | None:
        """Evaluations per second over about the last `window` seconds of the run."""
        xs, ys = self.throughput.xs, self.throughput.ys
        if len(xs) < 2:
            return None
        j = len(xs) - 1
        i = next((k for k in range(j, -1, -1) if xs[j] - xs[k] >= window), 0)
        dt = xs[j] - xs[i]
        return (ys[j] - ys[i]) / dt if dt > 0 else None

    def rates(self, bins: int = 120) -> tuple[list[float], list[float]]:
        """Evaluations per second against run time, each over about 1/bins of the run so far
        (rates between single evaluations are noise)."""
        xs, ys = self.throughput.xs, self.throughput.ys
        if len(xs) < 2:
            return [], []
        step = (xs[-1] - xs[0]) / bins
        ts, rs = [], []
        i = 0
        for j in range(1, len(xs)):
            dt = xs[j] - xs[i]
            if dt > 0 and (dt >= step or j == len(xs) - 1):
                ts.append(xs[j])
                rs.append((ys[j] - ys[i]) / dt)
                i = j
        return ts, rs

    def best_verified(self) -> dict[int, dict]:
        """Per op count, the exhaustive check with the lowest max error."""
        best: dict[int, dict] = {}
        for v in self.verified.values():
            ops, err = v.get("ops"), num(v.get("max_ulp"))
            if isinstance(ops, int) and math.isfinite(err) and (ops not in best or err < num(best[ops]["max_ulp"])):
                best[ops] = v
        return dict(sorted(best.items()))

    def progress(self) -> list[dict]:
        """Best (training-set) error per cost against evaluations, the cheapest costs, thinned."""
        out = []
        for cost in sorted(self.best)[:PROGRESS_COSTS]:
            s = self.best[cost]
            if len(s) > PROGRESS_POINTS:  # keep the first, the last and evenly spaced ones between
                step = len(s) / (PROGRESS_POINTS - 1)
                s = [s[int(k * step)] for k in range(PROGRESS_POINTS - 1)] + [s[-1]]
            out.append({"cost": cost, "evals": [p[0] for p in s], "error": [p[1] for p in s]})
        return out

    def per_worker(self) -> list[dict]:
        return [{"worker": k, "evals": w.evals, "rate": w.rate()} for k, w in sorted(self.workers.items())]
