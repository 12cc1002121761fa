"""The one root of evo's user-facing errors (targets and the engine raise subclasses).

A message may name a setting as `{--name}` (or `{--flag=parameter}` where the two
differ): the Python API shows the parameter (`name`), the command line its flag
(`--name`), so library messages never speak of flags a notebook user does not have.
"""
from __future__ import annotations

import re

_PARAM = re.compile(r"\{--([a-z][a-z0-9-]*)(?:=([a-z_][a-z0-9_]*))?\}")


class EvoError(Exception):
    """A mistake in the user's input (bad file, option, target...): one line."""

    def __init__(self, message: str = "") -> None:
        self.template = message
        super().__init__(_PARAM.sub(lambda m: m.group(2) or m.group(1).replace("-", "_"), message))

    def cli_message(self) -> str:
        """The message as the command line shows it (settings named by their flags)."""
        return _PARAM.sub(lambda m: "--" + m.group(1), self.template)
