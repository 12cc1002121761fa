"""Where children are evaluated. The search only sees this small interface, so
parallelism is a swappable map (in-process here, Ray actors in evo.distributed)."""
from __future__ import annotations

from typing import Protocol

from .worker import EvalSpec, Result, Task, Worker


class Evaluator(Protocol):
    spec: EvalSpec    # what its workers evaluate with (the target, the platform, ...)
    capacity: int     # batches worth keeping in flight
    batch_size: int   # children per batch

    def submit(self, tasks: list[Task]) -> None: ...
    def in_flight(self) -> int: ...        # batches submitted and not yet returned
    def poll(self) -> list[Result]: ...    # blocks until at least one batch is back
    def workers_alive(self) -> int: ...
    def close(self) -> None: ...


class LocalEvaluator:
    """`--workers 0`: evaluate in the driver, one batch at a time."""

    capacity = 1

    def __init__(self, spec: EvalSpec, batch_size: int = 1) -> None:
        self.spec = spec
        self.worker = Worker(spec)
        self.batch_size = batch_size
        self._pending: list[list[Task]] = []

    def submit(self, tasks: list[Task]) -> None:
        self._pending.append(tasks)

    def in_flight(self) -> int:
        return len(self._pending)

    def poll(self) -> list[Result]:
        out = [r for batch in self._pending for r in self.worker.evaluate_batch(batch)]
        self._pending = []
        return out

    def workers_alive(self) -> int:
        return 0

    def close(self) -> None:
        pass
