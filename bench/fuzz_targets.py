"""Fuzz the target parser and `evo search` with random expressions, intervals and options
(hypothesis): no input may hang past its time limit, print a traceback, or leave a lock
or a run directory behind when it is refused.

    python bench/fuzz_targets.py                  # 3 minutes
    python bench/fuzz_targets.py --seconds 20     # what tests/test_bench.py runs

Each target is checked by get_target (an EvoError or a Target, within the domain check's
time limit); every --cli-every'th one also goes through `evo search ... --evals 3`, in this
process (exit 0 or 2, one line on error, no traceback, no .lock left, no run directory
left by a refused target). Prints one JSON line: counts and the slowest case.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

FUNCTIONS = ("exp", "exp2", "log", "log2", "sqrt", "sin", "cos", "tan", "atan", "erf", "gamma", "lgamma", "abs",
             "cbrt", "asin", "acosh", "tanh", "expm1", "log1p")
NUMBERS = st.one_of(st.integers(-5, 12).map(str), st.sampled_from(["0.5", "1e-3", "0.40625", "3.25", "1e308", "1e-320"]),
                    st.sampled_from(["9**9**9", "10**400", "2**1000", "(2**10)**(2**10)", "pi", "e", "ln2"]),
                    st.floats(-1e3, 1e3, allow_nan=False).map(repr))


def expressions() -> st.SearchStrategy[str]:
    """Random expressions in x: numbers (some huge), functions, + - * / **, parentheses;
    now and then plain junk."""
    leaf = st.one_of(st.just("x"), st.just("x"), NUMBERS)
    tree = st.recursive(leaf, lambda inner: st.one_of(
        st.tuples(st.sampled_from(FUNCTIONS), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner).map(lambda t: f"({t[0]}){t[1]}({t[2]})"),
        inner.map(lambda s: f"-{s}"),
    ), max_leaves=8)
    junk = st.text(alphabet="x()+-*/.0123456789eE, abcsin_", max_size=30)
    return st.one_of(*[tree] * 7, junk)


def intervals() -> st.SearchStrategy[str]:
    ends = st.one_of(st.floats(-10, 10, allow_nan=False), st.sampled_from([0.0, 1.0, -1.0, 0.5, 1e-30, 1e30]))
    pairs = st.tuples(ends, ends).map(lambda ab: f"{ab[0]!r},{ab[1]!r}")
    good = st.sampled_from(["0,1", "0.5,1", "0.25,0.75", "-0.5,0.5", "1,2", "0.3,0.5", "0.5,0.502"])
    bad = st.sampled_from(["1,0", "nan,1", "0,inf", "a,b", "1", "0,1,2"])
    return st.one_of(*[good] * 6, pairs, pairs, bad)


def check_target(expr: str, interval: str, limit: float, out: dict) -> None:
    from evo.errors import EvoError
    from targets import get_target

    t0 = time.perf_counter()
    try:
        get_target(expr, interval)
        out["accepted"] += 1
    except EvoError as e:
        assert "\n" not in str(e), (expr, interval, str(e))
        out["refused"] += 1
    took = time.perf_counter() - t0
    assert took < limit + 5, f"get_target({expr!r}, {interval!r}) took {took:.1f} s (limit {limit:g} s)"
    if took > out["slowest"][0]:
        out["slowest"] = [round(took, 3), expr, interval]


def check_cli(expr: str, interval: str, options: list[str], limit: float, out: dict) -> None:
    from evo.cli import main

    with tempfile.TemporaryDirectory(prefix="evo-fuzz-") as tmp:
        runs = Path(tmp) / "runs"
        err = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["search", expr, "--interval", interval, "--evals", "3", "--workers", "0", "--out", str(runs),
                      "--verify-below", "0", "-q", *options])
                rc = 0
            except SystemExit as e:
                rc = e.code
        took = time.perf_counter() - t0
        text = err.getvalue()
        case = (expr, interval, options)
        assert rc in (0, 2), (case, rc, text[-500:])
        assert "Traceback" not in text, (case, text[-2000:])
        assert not list(runs.rglob(".lock")) if runs.exists() else True, case
        if rc == 2:
            assert text.startswith("evo: error: ") and text.count("\n") == 1, (case, text)
            assert not runs.exists() or not any(runs.iterdir()), (case, "a refused search left a run directory")
        # the domain check's and the ground truth's limits, then 3 evaluations and the plots
        assert took < 2 * limit + 60, (case, f"{took:.1f} s")
        out["cli"] += 1
        out["cli_ok" if rc == 0 else "cli_refused"] += 1


OPTIONS = st.lists(st.sampled_from([["--population", "2"], ["--tournament", "9"], ["--islands", "0"],
                                    ["--seed", "3"], ["--goal", "faithful"], ["--goal", "0"], ["--format", "bfloat16"],
                                    ["--cost", "nope"], ["--op-cost", "fma=2"], ["--batch-size", "0"]]),
                   max_size=2).map(lambda xs: [a for x in xs for a in x])


def run(seconds: float, cli_every: int, limit: float, start_seed: int = 0) -> dict:
    os.environ["EVO_TARGET_TIME_LIMIT"] = str(limit)
    out = {"accepted": 0, "refused": 0, "cli": 0, "cli_ok": 0, "cli_refused": 0, "batches": 0,
           "slowest": [0.0, "", ""]}
    end = time.monotonic() + seconds
    count = [0]

    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(expressions(), intervals(), OPTIONS)
    def batch(expr: str, interval: str, options: list[str]) -> None:
        if time.monotonic() > end:
            return
        check_target(expr, interval, limit, out)
        count[0] += 1
        if cli_every and count[0] % cli_every == 0:
            check_cli(expr, interval, options, limit, out)

    s = start_seed
    while time.monotonic() < end:
        seed(s)(batch)()
        out["batches"] += 1
        s += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--cli-every", type=int, default=8, help="every N-th target also through evo search (0: none)")
    ap.add_argument("--limit", type=float, default=5.0, help="$EVO_TARGET_TIME_LIMIT for the run (seconds)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(json.dumps(run(a.seconds, a.cli_every, a.limit, a.seed)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
