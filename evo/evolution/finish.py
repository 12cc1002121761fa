"""What a search does once it has evolved, in the steps its platform names
(Platform.finish): re-time a measured cost, check the front on every input (float32),
prove bounds on the front's errors (reals). Each step takes the finished Search and
whether to show progress; evo.api runs them in order, and one that fails says so in one
line and lets the others run."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from typing import TYPE_CHECKING, Callable

from ..core.progress import progress_bar

if TYPE_CHECKING:
    from .loop import Search


def remeasure(search: "Search", progress: bool, trials: int = 3) -> None:
    """With a measured cost, time every front member again (fresh compiles) and record
    the median and the spread: one timing per child is noisy, the front should not be."""
    if search.config.cost == "ops":
        return
    from ..backends.timing import kernel_cost
    from .worker import start_xla_on_one_core

    if search.config.cost == "xla":
        start_xla_on_one_core()
    for a in search.front:
        ts = sorted(kernel_cost(a.program, search.config.cost, search.target, fresh=True) for _ in range(trials))
        med = ts[len(ts) // 2]
        a.remeasured = {"ns_per_elem": med, "spread": (ts[-1] - ts[0]) / med if med else 0.0, "trials": trials}
    noise = [a.remeasured["spread"] for a in search.front]
    if search.store and noise:
        search.store.event("remeasured", members=len(noise), median_spread=sorted(noise)[len(noise) // 2])
    search.save_front()


def verify(search: "Search", progress: bool) -> None:
    """Check every front member under `verify_below` not checked yet on every input of the
    interval (all cores). A check raises a member's error, which may let an unchecked one
    onto the front: repeat."""
    check = search.platform.verify
    below = search.config.verify_below
    search.finish_checks()
    a0, b0 = search.target.f32_inputs()
    while True:
        todo = [a for a in search.front if a.exhaustive is None and a.error < below]
        if not todo:
            break
        a = min(todo, key=lambda a: (a.error, a.cost))  # one at a time: each check reshapes the front
        bar = progress_bar(f"verifying #{a.id} ({a.cost:g} ops)", b0 - a0 + 1) if progress else nullcontext(None)
        with bar as update:
            search.checked(a, check(a.program, search.target, progress=update).to_dict())
    search.save_front()


def certify(search: "Search", progress: bool, processes: int | None = None) -> None:
    """Prove a bound on the error of every front member under the platform's `certify_below`
    (in place: Member.certified_max_rel), each certificate in the run's events; members side
    by side on the machine's cores. A member that cannot be certified stays uncertified."""
    prove, below = search.platform.certify, search.platform.certify_below
    todo = [m for m in search.front if m.error < below and m.program.n_ops > 0]
    if not todo:
        return
    n = max(1, min(len(todo), processes or os.cpu_count() or 1))
    # spawn, not fork: the driver may hold threads (Ray's, XLA's) that a forked child would inherit locked
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(prove, m.program, search.target) for m in todo]
        for m, fut in zip(todo, futures):
            c = fut.result()
            m.certified_max_rel = c.bound if c.ok else None
            if search.store:
                search.store.event("certified", id=m.id, cost=m.cost,
                                   **{k: v for k, v in c.to_dict().items() if k != "what"})
            if progress:
                print(f"[evo] certified #{m.id} ({m.cost:g} ops): "
                      + (f"max relative error <= {c.bound:.4g} ({c.digits:.2f} digits)" if c.ok else c.reason),
                      flush=True)
    search.save_front()


STEPS: dict[str, Callable[..., None]] = {"remeasure": remeasure, "verify": verify, "certify": certify}
