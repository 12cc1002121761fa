"""A click group whose subcommands are imported on first use (jax, ray load lazily)."""
from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use.

    Subclasses set `lazy_commands` (name -> one-line help) and `module_prefix`: the
    module `module_prefix + name` defines a click command called `name`."""

    lazy_commands: dict[str, str] = {}
    module_prefix = ""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.lazy_commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy_commands:
            return None
        return getattr(importlib.import_module(self.module_prefix + name), name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl(list(self.lazy_commands.items()))
