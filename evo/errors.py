"""User-facing errors: the CLI prints their message on one line and exits 2.
The root, EvoError, lives in primitives so that targets can raise it too."""
from primitives.errors import EvoError


class ProgramError(EvoError, ValueError):
    """A program that is not well formed."""


__all__ = ["EvoError", "ProgramError"]
