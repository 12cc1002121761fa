"""User-facing errors: the CLI prints their message on one line and exits 2."""


class EvoError(Exception):
    """A mistake in the user's input (bad file, option, target...)."""


class ProgramError(EvoError, ValueError):
    """A program that is not well formed."""
