"""The run directory runs/NAME/: resolved config, append-only event log,
atomic checkpoints, the Pareto front, plots. Nothing here overwrites a
different run or leaves a half-written file behind."""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import EvoError
from .events import read_events

CHECKPOINT_FORMAT = "evo-checkpoint/2"
FRONT_FORMAT = "evo-front/2"
ERRORS_NOTE = ("each member's error is the best known max: exhaustive (every float32 of the interval) where "
               "verified, else the larger of its train and validation max (sampled); error_on says which; "
               "max_ulp (max_rel), mean_ulp and argmax are that measurement's figures, train and validation "
               "the sampled ones")


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=1, allow_nan=False, default=_default)


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def check_run_dir(path: Path, needs: str) -> None:
    """A one-line EvoError unless `path` is a run directory holding the file `needs`."""
    if not path.is_dir():
        raise EvoError(f"{path}: no such run directory")
    if not (path / needs).exists():
        raise EvoError(f"{path} is not a run (no {needs})")


class RunStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._events = None

    # -- creation and opening ---------------------------------------------------
    @staticmethod
    def create(path: Path, config: Any) -> "RunStore":
        """A new run directory holding `config` (a SearchConfig: anything with to_dict())."""
        cfg_file = path / "config.json"
        if cfg_file.exists():
            try:
                same = json.loads(cfg_file.read_text()) == json.loads(_json(config.to_dict()))
            except (OSError, ValueError):
                same = False
            if same:
                raise EvoError(f"{path} already holds this run; continue it with: evo search --resume {path} (or evo.resume)")
            raise EvoError(f"{path} already holds a different run; choose another {{--name}} or {{--out}}")
        if path.exists() and any(path.iterdir()):
            raise EvoError(f"{path} exists and is not empty; choose another {{--name}} or {{--out}}")
        path.mkdir(parents=True, exist_ok=True)
        atomic_write(cfg_file, _json(config.to_dict()))
        return RunStore(path)

    @staticmethod
    def open(path: Path, parse: Callable[[dict], Any] = dict) -> tuple["RunStore", Any]:
        """The run directory and its config.json, read by `parse` (SearchConfig.from_dict:
        evo.evolution.config.open_run); a one-line EvoError if either is not valid."""
        cfg_file = path / "config.json"
        check_run_dir(path, "config.json")
        try:
            config = parse(json.loads(cfg_file.read_text()))
        except (ValueError, TypeError) as e:
            raise EvoError(f"{cfg_file}: not a valid run config ({str(e).splitlines()[0]})") from None
        return RunStore(path), config

    # -- checkpoints --------------------------------------------------------------
    def save_checkpoint(self, state: dict) -> None:
        atomic_write(self.path / "checkpoint.json", _json({"format": CHECKPOINT_FORMAT, **state}))

    def load_checkpoint(self) -> dict | None:
        f = self.path / "checkpoint.json"
        if not f.exists():
            return None
        try:
            d = json.loads(f.read_text())
            fmt = d.get("format")
        except (OSError, ValueError, AttributeError):
            raise EvoError(f"{f}: checkpoint is corrupt or truncated; nothing was changed") from None
        if fmt != CHECKPOINT_FORMAT:
            raise EvoError(f"{f}: checkpoint format {fmt!r} is not {CHECKPOINT_FORMAT!r} (written by another "
                           "evo version); this evo cannot resume it, nothing was changed")
        return d

    # -- outputs --------------------------------------------------------------------
    def event(self, kind: str, **fields: Any) -> None:
        if self._events is None:
            self._events = open(self.path / "events.jsonl", "a", buffering=1)
        self._events.write(json.dumps({"event": kind, "time": round(time.time(), 3), **fields},
                                      default=_default) + "\n")

    def flush(self) -> None:
        if self._events is not None:
            self._events.flush()
            os.fsync(self._events.fileno())

    def save_front(self, run: str, target: dict, settings: dict, members: list[dict], extra: dict) -> None:
        """front.json (evo.runs.front): settings are the run's platform, dtype, metric, seed and cost."""
        atomic_write(self.path / "front.json", _json({
            "format": FRONT_FORMAT, "run": run, "target": target, **settings,
            "errors": ERRORS_NOTE, **extra, "members": members}))

    def read_events(self) -> list[dict]:
        return read_events(self.path / "events.jsonl")

    def discard_if_unused(self) -> None:
        """Remove a run directory this process created and nothing was written to yet
        (a search that could not start: a retry with other settings must not find it)."""
        if self._events is None and not (self.path / "events.jsonl").exists():
            (self.path / "config.json").unlink(missing_ok=True)
            (self.path / ".lock").unlink(missing_ok=True)
            try:
                self.path.rmdir()
            except OSError:
                pass  # not empty: someone else's files, left alone

    # -- who is searching it ------------------------------------------------------------
    def claim(self) -> None:
        """Mark the run as being searched by this process (runs/NAME/.lock), or refuse
        if another live process on this machine is searching it."""
        lock = self.path / ".lock"
        owner = _lock_owner(lock)
        if owner is not None and owner != os.getpid():
            raise EvoError(f"{self.path} is being searched by process {owner}; wait for it or stop it first")
        atomic_write(lock, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}))

    def status(self) -> str:
        """finished | interrupted (Ctrl-C) | running | stopped (killed or crashed: resumable)."""
        if _lock_owner(self.path / ".lock") is not None:
            return "running"
        last = _last_event(self.path / "events.jsonl")
        return {"end": "finished", "interrupted": "interrupted"}.get(last, "stopped")

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None
        lock = self.path / ".lock"
        if _lock_owner(lock) == os.getpid():
            lock.unlink(missing_ok=True)


def _lock_owner(lock: Path) -> int | None:
    """The pid holding the run's lock, if it is alive on this machine."""
    try:
        d = json.loads(lock.read_text())
        pid = int(d["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if d.get("host") != socket.gethostname():
        return pid  # another machine's: assume it runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def _last_event(path: Path) -> str | None:
    """The kind of the last complete event line (read from the end: logs grow large)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 65536))
            tail = f.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(tail):
        try:
            return json.loads(line).get("event")
        except (ValueError, AttributeError):
            continue
    return None
