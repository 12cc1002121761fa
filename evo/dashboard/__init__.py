"""A live, read-only web dashboard of run directories: `evo dashboard [RUNS_DIR]`.

The server (Starlette on uvicorn, evo.dashboard.app) tails each run's events.jsonl,
keeps a small summary of it in memory (evo.dashboard.summary) and re-reads
front.json, config.json and checkpoint.json when they change (evo.dashboard.runview).
The page (static/) draws with Plotly.js: its basic build (scatter, bar, pie), vendored in static/vendor/.
"""
from __future__ import annotations

from pathlib import Path


def serve(runs_dir: str | Path = "runs", host: str = "127.0.0.1", port: int = 8265) -> None:
    """Serve the dashboard of `runs_dir` until interrupted."""
    from .server import serve as _serve

    _serve(Path(runs_dir), host, port)


__all__ = ["serve"]
