"""Live progress of a search: a rich panel on a terminal, plain log lines otherwise."""
from __future__ import annotations

import sys
import time
from collections import deque
from typing import TYPE_CHECKING

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..core.ir import render
from ..core.numbers import fmt_error
from ..core.progress import stderr_console

if TYPE_CHECKING:
    from .loop import Search

TAG = {"exhaustive": "x", "validation": "v", "train": "t"}


def _fmt(v: float) -> str:
    return fmt_error(v, precision=3)


class Monitor:
    def __init__(self, budget_text: str, enabled: bool = True, every: float = 10.0) -> None:
        self.console = stderr_console()
        self.enabled = enabled
        self.budget_text = budget_text
        self.every = every
        self._last = 0.0
        self._live: Live | None = None
        self._evals0: tuple[float, int] | None = None
        self._seen: deque[tuple[float, dict]] = deque()  # (time, evals per worker) snapshots
        self.window = 10.0

    def __enter__(self) -> "Monitor":
        if self.enabled and self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def rate(self, s: "Search") -> float:
        now = time.monotonic()
        if self._evals0 is None:
            self._evals0 = (now, s.stats.evals)
            return 0.0
        t0, e0 = self._evals0
        return (s.stats.evals - e0) / max(now - t0, 1e-9)

    def worker_rates(self, s: "Search") -> dict[str, float]:
        """Evaluations/s of each worker over the last `window` seconds (idle or lost workers left out)."""
        now = time.monotonic()
        self._seen.append((now, dict(s.stats.per_worker)))
        while len(self._seen) > 2 and now - self._seen[1][0] >= self.window:
            self._seen.popleft()
        t0, old = self._seen[0]
        dt = max(now - t0, 1e-9)
        return {w: (n - old.get(w, 0)) / dt for w, n in s.stats.per_worker.items() if n > old.get(w, 0)}

    def __call__(self, s: "Search") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < (0.5 if self._live else self.every):
            return
        self._last = now
        rate = self.rate(s)
        st = s.stats
        fit_share = 100.0 * st.fit_seconds / max(st.eval_seconds, 1e-9)
        workers = s.evaluator.workers_alive()
        head = (f"{s.elapsed:6.0f}s / {self.budget_text}  evals {st.evals}  {rate:.1f}/s  "
                f"cache hits {st.cache_hits}  fitting {fit_share:.0f}% of eval time  "
                f"workers {workers if workers else 'in-process'}")
        if workers:
            head += "  evals/s per worker " + (" ".join(
                f"{w} {r:.1f}" for w, r in sorted(self.worker_rates(s).items())) or "-")
        head += (f"  islands {len(s.state.islands)} (restarts {st.restarts})  training points {s.training.size}"
                 f"  exhaustive checks {st.checks}")
        if st.numpy_fits:  # children holding an op the compiled fitter lacks
            head += f"  numpy fits {st.numpy_fits}"
        if self._live is None:
            front = "  ".join(f"{a.cost:g}:{_fmt(a.error)}{TAG[a.error_on]}" for a in s.front)
            print(f"[evo] {head}  front (cost:max {s.scorer.unit}; x exhaustive, v validation, t train) {front}",
                  file=sys.stderr, flush=True)
            return
        table = Table(title=f"Pareto front ({s.target.expr}; max {s.scorer.unit} is the best known: exhaustive, "
                            "else the larger of validation and train)", expand=False)
        for col in ("cost", f"max {s.scorer.unit}", "measured on", "id", "expression"):
            table.add_column(col)
        for a in s.front[-12:]:
            table.add_row(f"{a.cost:g}", _fmt(a.error), a.error_on, str(a.id), render(a.program)[:90])
        self._live.update(Group(Text(head), table))
