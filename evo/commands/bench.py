"""evo bench {search,kernel,scaling}: benchmarks (never timed unit tests)."""
from __future__ import annotations

import importlib

import click

BENCHES = {
    "search": "Evaluations/s with and without fitting; time to a verified < 1 ULP exp2.",
    "kernel": "ns/element of a program per backend, and the ratio to library baselines.",
    "scaling": "Evaluations/s with 1 and 2 Ray workers, side by side.",
}


class _LazyBench(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(BENCHES)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in BENCHES:
            return None
        return getattr(importlib.import_module(f"evo.commands.bench_{name}"), name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Benchmarks"):
            formatter.write_dl(list(BENCHES.items()))


@click.group(cls=_LazyBench)
def bench() -> None:
    """Benchmarks. Figures are medians over repeats, measured side by side in one run."""
