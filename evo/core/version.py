"""The installed evo version (what exported files and run records name)."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evo-kernels")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+src"
