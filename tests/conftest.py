"""Shared fixtures. The ground-truth cache lives in a per-session temp dir: tests
never read or write ~/.cache (EVO_CACHE_DIR is set before any test runs, and
subprocesses inherit it)."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import C_HELPER, compile_c, f32_ptr, horner, lsq_exp2_coeffs  # noqa: E402

_CACHE = tempfile.mkdtemp(prefix="evo-test-cache-")
os.environ["EVO_CACHE_DIR"] = _CACHE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """The session's ground-truth cache directory ($EVO_CACHE_DIR)."""
    assert os.environ["EVO_CACHE_DIR"] == _CACHE
    return Path(_CACHE)


@pytest.fixture(scope="session")
def exp2_coeffs6() -> list[float]:
    return lsq_exp2_coeffs(6)


@pytest.fixture(scope="session")
def exp2_fma6(exp2_coeffs6):
    """Degree-6 least-squares exp2 polynomial on [0, 1], fma Horner form (13 slots, 6 fma)."""
    return horner(exp2_coeffs6, use_fma=True)


@pytest.fixture(scope="session")
def exp2_horner6(exp2_coeffs6):
    """The same polynomial in plain Horner form (mul + add)."""
    return horner(exp2_coeffs6, use_fma=False)


@pytest.fixture(scope="session")
def c_fmaf(tmp_path_factory):
    """Vectorised C library fmaf: f(a, b, c) -> float32 array, one libm call per element."""
    lib = compile_c(C_HELPER, tmp_path_factory.mktemp("cfma"), "vfmaf")
    if lib is not None:
        lib.vfmaf.restype = None
        lib.vfmaf.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_long]

        def fmaf(a, b, c):
            a, b, c = (np.array(v, np.float32) for v in np.broadcast_arrays(a, b, c))  # contiguous copies
            out = np.empty_like(a)
            lib.vfmaf(f32_ptr(a), f32_ptr(b), f32_ptr(c), f32_ptr(out), a.size)
            return out

        return fmaf
    # No C compiler: call libm's fmaf element by element (slower, same answers).
    libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    libm.fmaf.restype = ctypes.c_float
    libm.fmaf.argtypes = [ctypes.c_float] * 3
    vec = np.frompyfunc(libm.fmaf, 3, 1)
    return lambda a, b, c: vec(np.float32(a), np.float32(b), np.float32(c)).astype(np.float32)


@pytest.fixture(scope="session")
def evo_cmd() -> list[str]:
    """The installed `evo` console script next to this interpreter (else `python -m evo.cli`)."""
    script = Path(sys.executable).parent / "evo"
    return [str(script)] if script.exists() else [sys.executable, "-m", "evo.cli"]


@pytest.fixture
def evo(capsys):
    """`evo ARGS` in this process (the same entry point, main(); much faster than a process
    each). An exception that escapes main() fails the test just as a traceback would."""
    from evo.cli import main

    def call(*args) -> subprocess.CompletedProcess:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            rc = 0
        except SystemExit as e:
            rc = e.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, rc, out, err)

    return call
