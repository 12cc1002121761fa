"""evo dashboard [RUNS_DIR]: a live web page of the runs in a directory."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import EvoError


@click.command()
@click.argument("runs_dir", default="runs", type=click.Path(file_okay=False))
@click.option("--port", default=8265, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 makes the page reachable from other machines.")
def dashboard(runs_dir: str, port: int, host: str) -> None:
    """Serve a live, read-only web page of the runs in RUNS_DIR (default: runs): their
    fronts against the classical baselines, progress, throughput, members and their code."""
    from ..dashboard.server import serve

    if not Path(runs_dir).is_dir():
        raise EvoError(f"{runs_dir}: no such directory (give the directory that holds your runs: "
                       "evo search --out, default runs)")
    serve(Path(runs_dir), host, port, echo=click.echo)
