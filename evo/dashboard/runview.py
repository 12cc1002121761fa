"""One run directory as the dashboard sees it: the event summary (tailed), and
config.json, front.json and checkpoint.json re-read only when they change.

Nothing here raises on a bad run: a missing, corrupt or half-written file becomes
a line in `problems`, shown on the page, and the rest of the run is still shown.
"""
from __future__ import annotations

import json
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import EvoError
from ..runs.events import EventTail
from .files import RunDir, RunsRoot
from .summary import EventSummary, num

STATUS_SECONDS = 3.0


def _stamp(p: Path) -> tuple | None:
    try:
        st = os.stat(p)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class Cached:
    """A file parsed again only when its (inode, size, mtime) changes."""

    def __init__(self, parse: Callable[[Path], Any]) -> None:
        self.parse = parse
        self.key: tuple | None = None
        self.value: Any = None
        self.error: str | None = None

    def get(self, path: Path | None) -> tuple[Any, str | None]:
        if path is None:
            self.key, self.value, self.error = None, None, None
            return None, None
        key = _stamp(path)
        if key is None:
            return None, None
        if key != self.key:
            self.key = key
            try:
                self.value, self.error = self.parse(path), None
            except EvoError as e:
                self.value, self.error = None, str(e)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                self.value, self.error = None, f"{path.name}: unreadable ({type(e).__name__}: {e})"
        return self.value, self.error


def _config(path: Path):
    from ..evolution.config import open_run

    return open_run(path.parent)[1]


def _front(path: Path):
    from ..runs.front import load_front

    return load_front(path.parent)


def _checkpoint_stats(path: Path) -> dict:
    d = json.loads(path.read_text())
    if not isinstance(d, dict) or not isinstance(d.get("state", {}).get("stats"), dict):
        raise ValueError("no stats in it")
    return d["state"]["stats"]


def front_chips(best: dict[int, dict]) -> list[dict]:
    """The best verified check per op count, keeping only those that no cheaper one matches or
    beats (a 7-op check at 1.2 ULP beside a 5-op one at 0.9 is not a front point)."""
    out: list[dict] = []
    for ops, v in sorted(best.items()):
        err = num(v["max_ulp"])
        if not out or err < out[-1]["max_ulp"]:
            out.append({"ops": ops, "max_ulp": err, "id": v.get("id")})
    return out


class RunView:
    """The live state of one run directory."""

    def __init__(self, root: RunsRoot, run: RunDir) -> None:
        self.root, self.run = root, run
        self.lock = threading.Lock()
        self.summary = EventSummary()
        self.tail: EventTail | None = None
        self.config = Cached(_config)
        self.front = Cached(_front)
        self.checkpoint = Cached(_checkpoint_stats)
        self.refreshed = 0.0
        self._status, self._status_key, self._status_at = "", None, 0.0

    @property
    def key(self) -> str:
        return self.run.key

    def refresh(self) -> None:
        """Read what was appended to events.jsonl since the last call (callers hold `lock`)."""
        self.refreshed = time.monotonic()
        if self.run.outside:
            return
        ev = self.root.file(self.run, "events.jsonl")
        if ev is None:
            self.tail, self.summary = None, EventSummary()
        else:
            if self.tail is None or self.tail.path != ev:
                self.tail, self.summary = EventTail(ev), EventSummary()
            more = True
            while more:
                events, restart, more = self.tail.read()
                if restart:  # the log was replaced or cut: fold it again from the start
                    self.summary = EventSummary()
                self.summary.apply(events)

    # -- the files -----------------------------------------------------------------------
    def config_value(self) -> tuple[Any, str | None]:
        """(SearchConfig or None, what is wrong with config.json)."""
        if self.run.outside:
            return None, None
        p = self.root.file(self.run, "config.json")
        if p is None:  # a link leading outside is reported by problems()
            return None, None if (self.run.path / "config.json").is_symlink() else "config.json is missing"
        return self.config.get(p)

    def front_value(self) -> tuple[Any, str | None]:
        """(Front or None, what is wrong with front.json)."""
        if self.run.outside:
            return None, None
        return self.front.get(self.root.file(self.run, "front.json"))

    def stats_value(self) -> tuple[dict | None, str | None]:
        if self.run.outside:
            return None, None
        return self.checkpoint.get(self.root.file(self.run, "checkpoint.json"))

    def status(self) -> str:
        """finished | interrupted | running | stopped (killed: resumable), as `evo` itself says."""
        if self.run.outside:
            return "unreadable"
        from ..runs.store import RunStore

        if not any(self.root.file(self.run, f) for f in ("config.json", "events.jsonl")):
            return "empty"
        for f in (".lock", "events.jsonl"):  # RunStore reads them: only when they are ours to read
            if (self.run.path / f).exists() and self.root.file(self.run, f) is None:
                return "unreadable"
        # RunStore.status reads the log's last 64 kB: asked again only when the log or the lock
        # changed, or after STATUS_SECONDS (a searching process may die without a trace).
        key = tuple(_stamp(self.run.path / f) for f in (".lock", "events.jsonl"))
        now = time.monotonic()
        if key != self._status_key or now - self._status_at > STATUS_SECONDS:
            self._status, self._status_key, self._status_at = RunStore(self.run.path).status(), key, now
        return self._status

    def problems(self) -> list[str]:
        """What is wrong with this run directory, one line each (empty when nothing is)."""
        if self.run.outside:
            return ["links to a directory outside the runs directory: not read"]
        out = []
        for f in ("config.json", "events.jsonl", "front.json", "checkpoint.json"):
            p = self.run.path / f
            if (p.exists() or p.is_symlink()) and self.root.file(self.run, f) is None:
                out.append(f"{f} links outside the runs directory (or is broken): not read")
        _, err = self.config_value()
        if err:
            out.append(err)
        _, err = self.front_value()
        if err:
            out.append(err)
        elif not (self.run.path / "front.json").exists() and self.summary.evals:
            out.append("no front.json yet (written at the first checkpoint)")
        if self.root.file(self.run, "events.jsonl") is None:
            out.append("events.jsonl is missing")
        elif self.tail is not None:
            if self.tail.bad_lines:
                out.append(f"events.jsonl: {self.tail.bad_lines} line(s) are not valid JSON (skipped)")
            if self.tail.pending and self.status() != "running":
                out.append(f"events.jsonl: the last line is cut off ({self.tail.pending} bytes, skipped)")
        _, err = self.stats_value()
        if err:
            out.append(err)
        return out

    # -- what the pages show ---------------------------------------------------------------
    def target_info(self) -> dict:
        """target, expression, interval: from front.json, else config.json, else the start event."""
        front, _ = self.front_value()
        if front is not None:
            t = front.target
            return {"target": t.name, "expr": t.expr, "interval": list(t.interval)}
        start = self.summary.start or {}
        if isinstance(start.get("target"), dict):
            t = start["target"]
            return {"target": t.get("name"), "expr": t.get("expr"), "interval": t.get("interval")}
        config, _ = self.config_value()
        if config is not None:
            try:
                from targets import get_target

                t = get_target(config.target, config.interval)
                return {"target": t.name, "expr": t.expr, "interval": list(t.interval)}
            except EvoError:
                return {"target": config.target, "expr": config.target, "interval": config.interval}
        return {"target": None, "expr": None, "interval": None}

    def counts(self) -> dict:
        """Evaluations, elapsed seconds and evals/s: from the log, else the checkpoint."""
        s = self.summary
        evals, elapsed = s.evals, s.elapsed
        stats = self.stats_value()[0] if not evals else None  # no log: the checkpoint's counters
        if stats:
            evals, elapsed = int(stats.get("evals", 0)), float(stats.get("elapsed", 0.0))
        return {"evals": evals, "elapsed": elapsed,
                "rate": evals / elapsed if elapsed > 0 else None, "recent_rate": s.recent_rate()}

    def best_verified(self) -> list[dict]:
        """Best exhaustive max per op count (verified events, and front.json's "checked" list),
        the non-dominated ones only (front_chips)."""
        best = dict(self.summary.best_verified())
        front, _ = self.front_value()
        for c in (front.meta.get("checked") or []) if front is not None else []:
            ops, err = c.get("ops"), num(c.get("max_ulp"))
            if isinstance(ops, int) and math.isfinite(err) and (ops not in best or err < num(best[ops]["max_ulp"])):
                best[ops] = c
        return front_chips(best)

    def row(self) -> dict:
        """The runs list's row."""
        return {"key": self.key, **self.target_info(), "status": self.status(), **self.counts(),
                "best_verified": self.best_verified(), "front_size": self._front_size(),
                "problems": self.problems()}

    def _front_size(self) -> int | None:
        front, _ = self.front_value()
        return len(front) if front is not None else None
