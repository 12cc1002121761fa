"""Time limits on what a target costs before a search starts: the domain check of its
interval and the ground truth of its points. A target that exceeds one is rejected in
one line (the limit in seconds: $EVO_TARGET_TIME_LIMIT, else the defaults below)."""
from __future__ import annotations

import contextvars
import os
import time
from contextlib import contextmanager
from typing import Iterator

from primitives.errors import EvoError

from .errors import TimeLimitError

DOMAIN_SECONDS = 20.0    # the interval's domain check (samples, then interval arithmetic)
TRUTH_SECONDS = 120.0    # a search's training and validation ground truth (mpmath)

_deadline: contextvars.ContextVar[tuple[float, float, str] | None] = contextvars.ContextVar("evo_target_deadline",
                                                                                             default=None)


def seconds(default: float) -> float:
    """The limit: $EVO_TARGET_TIME_LIMIT (seconds) where set, else `default`."""
    try:
        v = float(os.environ.get("EVO_TARGET_TIME_LIMIT", default))
    except ValueError:
        raise EvoError(f"EVO_TARGET_TIME_LIMIT={os.environ['EVO_TARGET_TIME_LIMIT']!r} is not a number of seconds") \
            from None
    return v if v > 0 else default


@contextmanager
def time_limit(limit: float, what: str) -> Iterator[None]:
    """Within it, check_time() raises TimeLimitError once `limit` seconds have passed
    ("WHAT took over N s ..."). Nested limits: the inner one counts."""
    token = _deadline.set((time.monotonic() + limit, limit, what))
    try:
        yield
    finally:
        _deadline.reset(token)


def check_time(at: str = "") -> None:
    """Raise TimeLimitError if the current time limit has passed (nothing without one)."""
    d = _deadline.get()
    if d is not None and time.monotonic() > d[0]:
        where = f" (at {at})" if at else ""
        raise TimeLimitError(f"{d[2]} took over {d[1]:g} s{where}: simplify the expression or narrow the interval")
