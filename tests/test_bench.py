"""The benchmark scripts behind the README's figures still run (no timing is asserted:
figures come from the scripts themselves, on a quiet machine)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def bench_export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "bench_export.py"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@needs_gcc
def test_bench_export_measures_the_discovered_kernels():
    r = bench_export("-n", "256", "--repeats", "1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["kernels"] == {"exp2": "run bench/kernels/exp2-sym-6ops, member 714",
                              "exp": "run bench/kernels/exp-7ops, member 2158"}
    for row in out["ns_per_element"].values():
        assert {"evo", "libmvec", "libm"} <= set(row) and all(v > 0 for v in row.values())


@needs_gcc
def test_bench_export_refuses_a_kernel_for_another_function():
    r = bench_export("--exp2", "bench/kernels/exp-7ops")
    assert r.returncode != 0
    assert r.stderr.strip() == "error: bench/kernels/exp-7ops is a kernel for exp, not exp2"


def test_fuzz_targets_short_run(tmp_path):
    """bench/fuzz_targets.py for 15 s: random expressions, intervals and options through
    get_target and `evo search`; none hangs, prints a traceback or leaves a lock."""
    import os

    r = subprocess.run([sys.executable, str(ROOT / "bench" / "fuzz_targets.py"), "--seconds", "15", "--cli-every", "6"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env=dict(os.environ, EVO_CACHE_DIR=str(tmp_path)))
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["accepted"] > 0 and out["refused"] > 0 and out["cli_ok"] > 0 and out["cli_refused"] > 0, out
