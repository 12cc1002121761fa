"""The targets' one-line errors."""
from primitives.errors import EvoError


class TargetError(EvoError, ValueError):
    """Unknown target, bad expression or bad interval (one-line message)."""


class TimeLimitError(TargetError):
    """A target took longer than its limit to check or to evaluate (targets.limits)."""
