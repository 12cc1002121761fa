"""The op vocabulary: one table (`OPS`), one row per op. Imports nothing of ours."""
from .float32 import fma32, fma64
from .ops import DEFAULT_SEARCH_OPS, OPS, Op, get_op

__all__ = ["OPS", "Op", "get_op", "fma32", "fma64", "DEFAULT_SEARCH_OPS"]
