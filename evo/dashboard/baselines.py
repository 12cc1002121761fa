"""The classical baselines of a run's target, computed in a child process:
`python -m evo.dashboard.baselines '{"name": ..., "expr": ..., "interval": [a, b]}' [PLATFORM]`
prints them as JSON. Building them (mpmath Remez, pure Python) holds the GIL for
seconds; in the server's own process that would stall the live page."""
from __future__ import annotations

import json
import subprocess
import sys


def compute(target: dict, platform: str = "float32") -> list[dict]:
    """The baselines as `evo front` and front.png show them (Front.baselines)."""
    from targets import target_from_dict

    from ..platforms import get_platform

    rows = get_platform(platform).baselines(target_from_dict(target), on_skip=lambda *a: None)
    return [{"name": r.name, "ops": float(r.ops), "error": float(r.max_error), "form": r.form, "kind": getattr(r, "kind", ""),
             "error_on": getattr(r, "error_on", "validation")} for r in rows]


RUNNING: set[subprocess.Popen] = set()  # children still computing (stop_all ends them)


def in_child(target: dict, platform: str = "float32", timeout: float = 600) -> list[dict]:
    p = subprocess.Popen([sys.executable, "-m", "evo.dashboard.baselines", json.dumps(target), platform],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    RUNNING.add(p)
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        RUNNING.discard(p)
        if p.poll() is None:
            p.kill()
            p.wait()
    if p.returncode != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"baselines failed: {last}")
    return json.loads(out)


def stop_all() -> None:
    """End the children still computing (the server is stopping)."""
    for p in list(RUNNING):
        p.kill()


if __name__ == "__main__":
    print(json.dumps(compute(json.loads(sys.argv[1]), *sys.argv[2:3])))
