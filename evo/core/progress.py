"""Progress display: a rich bar on a terminal, plain log lines otherwise."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

ProgressFn = Callable[[int, int], None]  # (done, total)


def stderr_console() -> Console:
    return Console(stderr=True)


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True, unit_scale: float = 1.0) -> Iterator[ProgressFn]:
    """Yield an `update(done, total)` callback that draws progress on stderr."""
    if not enabled:
        yield lambda done, total: None
        return
    console = stderr_console()
    if console.is_terminal:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=console, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda done, total: bar.update(task, completed=done, total=total)
        return
    last = [0.0]

    def log(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 5.0 or done >= total:
            last[0] = now
            print(f"{description}: {done}/{total} ({100.0 * done / max(total, 1):.0f}%)", file=sys.stderr, flush=True)

    yield log
