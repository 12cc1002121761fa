"""The `evo` command line. Each subcommand lives in evo/cli/<name>.py and is
imported only when used, so `evo --help` stays fast (jax, ray load lazily).

User mistakes print one line, `evo: error: ...`, on stderr and exit with 2.
"""
from __future__ import annotations

import sys

import click

from ..errors import EvoError
from ._lazy import LazyGroup

COMMANDS = {
    "score": "Score a program on a target's validation set.",
    "verify": "Check every float32 input of an interval (exhaustive).",
    "baselines": "Classical approximations (Taylor, minimax, Pade, rational) scored alike.",
    "search": "Evolve programs from f(x) = x; write runs/NAME.",
    "front": "Show the Pareto front of a run.",
    "export": "Export a program as C, JAX or NumPy code.",
    "lib": "Write the ready library of discovered functions (C header and source, or JAX).",
    "bench": "Benchmarks: search, kernel speed, scaling.",
    "dashboard": "Serve a live web page of the runs in a directory (read-only).",
}


class _Commands(LazyGroup):
    lazy_commands = COMMANDS
    module_prefix = "evo.cli."


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="evo-kernels", prog_name="evo")
def cli() -> None:
    """evo: discover fast float32 kernels with a certified accuracy."""


def fail(message: str) -> None:
    click.echo(f"evo: error: {message}", err=True)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="evo", standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted")
    except click.UsageError as e:
        hint = f" (see 'evo {e.ctx.info_name} --help')" if e.ctx is not None and e.ctx.info_name != "evo" else ""
        fail(e.format_message().replace("\n", " ") + hint)
    except click.ClickException as e:
        fail(e.format_message().replace("\n", " "))
    except EvoError as e:
        fail(e.cli_message())
    except KeyboardInterrupt:
        fail("interrupted")
    except BrokenPipeError:
        sys.exit(1)

