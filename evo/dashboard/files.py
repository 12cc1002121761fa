"""Which files the dashboard may read: only those under the runs directory.

Requests never name a path. They name a run by its key (its path relative to the
runs directory, e.g. "exp2-seed0" or "ten-minute/exp2-seed0"), and a key is looked
up among the runs found by scanning the directory, so `..`, `%2e%2e` or an absolute
path can only miss. Symlinks are followed only when they resolve inside the
runs directory: a run directory or a run file linking elsewhere is not read.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

RUN_FILES = ("config.json", "events.jsonl", "front.json", "checkpoint.json")
MAX_DEPTH = 2  # runs/NAME and runs/GROUP/NAME (e.g. bench/ten_minute_runs.sh's layout)


@dataclass(frozen=True)
class RunDir:
    key: str            # path relative to the runs directory, '/'-separated
    path: Path          # the real (resolved) directory
    outside: bool = False  # a symlink to somewhere outside the runs directory: never read


class RunsRoot:
    """The runs directory and the run directories in it."""

    def __init__(self, root: Path) -> None:
        self.given = root
        self.root = Path(os.path.realpath(root))

    def inside(self, p: Path | str) -> bool:
        """Whether p, symlinks resolved, lies in the runs directory."""
        real = os.path.realpath(p)
        return real == str(self.root) or real.startswith(str(self.root) + os.sep)

    def scan(self) -> dict[str, RunDir]:
        """Every run directory (one holding any run file), by key, sorted."""
        found: dict[str, RunDir] = {}
        if self.root.is_dir():
            self._scan(self.root, "", 1, found)
        return dict(sorted(found.items()))

    def _scan(self, d: Path, prefix: str, depth: int, found: dict[str, RunDir]) -> None:
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            if e.name.startswith(".") or not e.is_dir(follow_symlinks=True):
                continue
            key = prefix + e.name
            if not self.inside(e.path):
                found[key] = RunDir(key, Path(e.path), outside=True)
                continue
            path = Path(os.path.realpath(e.path))
            if any((path / f).exists() for f in RUN_FILES):
                found[key] = RunDir(key, path)
            elif depth < MAX_DEPTH:
                self._scan(path, key + "/", depth + 1, found)

    def file(self, run: RunDir, name: str) -> Path | None:
        """run/name if it exists and (symlinks resolved) lies in the runs directory."""
        if run.outside or name not in RUN_FILES + (".lock",):
            return None
        p = run.path / name
        return p if p.exists() and self.inside(p) else None
