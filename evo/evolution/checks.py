"""Exhaustive checks while the search runs: one member at a time, in the background.

A front member under the search's `verify_below` is checked on every float32 of
the interval while evolution goes on; its result replaces the sampled error the
search ranked it by, and the inputs of its largest errors join the training set.
`ThreadChecker` runs the check in a thread of the driver (the LLVM kernel and
numpy release the GIL); evo.evolution.distributed runs it on a Ray worker instead.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from targets import Target

from ..core.ir import Program, from_dict, to_dict
from ..core.platform import Platform


@dataclass(frozen=True)
class Check:
    member: int
    result: dict          # evo.verification.result.VerifyResult.to_dict()
    worst: tuple          # inputs of the largest errors in distinct places, worst first


class Checker(Protocol):
    def busy(self) -> bool: ...              # a check was submitted and not yet taken by done()/wait()
    def submit(self, member_id: int, program: Program) -> None: ...
    def done(self) -> list[Check]: ...        # finished checks, without waiting
    def wait(self) -> list[Check]: ...        # wait for the check in flight, if any
    def close(self) -> None: ...


def check_program(member_id: int, program: dict, target: Target, platform: Platform, threads: int | None = 1) -> Check:
    """Verify one program on every input of the target's interval by its platform's
    exhaustive check (picklable: runs anywhere)."""
    r = platform.verify(from_dict(program), target, threads=threads)
    worst = tuple(float(x) for x, _ in r.worst) or (r.argmax,)
    return Check(member_id, r.to_dict(), worst)


class ThreadChecker:
    """Checks in one background thread of this process, one at a time."""

    def __init__(self, target: Target, platform: Platform, threads: int = 1) -> None:
        self.target, self.platform = target, platform
        self.threads = threads
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="evo-check")
        self._running: Future | None = None
        self.failed = 0   # checks that raised (e.g. a failed cross-check): the member stays unchecked

    def busy(self) -> bool:
        # Until done() has taken it: a check that finished in between must not be replaced
        return self._running is not None

    def submit(self, member_id: int, program: Program) -> None:
        assert not self.busy(), "one check at a time"
        self._running = self._pool.submit(check_program, member_id, to_dict(program), self.target, self.platform,
                                          self.threads)

    def done(self) -> list[Check]:
        if self._running is None or not self._running.done():
            return []
        fut, self._running = self._running, None
        try:
            return [fut.result()]
        except Exception:
            self.failed += 1
            return []

    def wait(self) -> list[Check]:
        if self._running is not None:
            try:
                self._running.exception()  # waits, without raising
            except BaseException:
                pass
        return self.done()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

