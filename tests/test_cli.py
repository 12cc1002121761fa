"""The `evo` command line (score, verify): exact one-line errors with exit code 2 and no
traceback, and `--json` output that agrees with the library."""
from __future__ import annotations

import json
import subprocess

import pytest
from support import assert_user_error

from evo.core.ir import dumps
from evo.core.scoring import Scorer
from evo.platforms import FLOAT32, REALS
from targets import TARGETS, get_target

KNOWN_OPS = "add, sub, mul, div, fma, neg, sqrt"
KNOWN_TARGETS = "exp2, exp, log2, log, erf, sigmoid, tanh; or an expression in x with --interval A,B"


def run(evo_cmd, *args) -> subprocess.CompletedProcess:
    """`evo ARGS` in a fresh process: what a user sees."""
    return subprocess.run([*evo_cmd, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def program_file(tmp_path, exp2_fma6):
    path = tmp_path / "prog.json"
    path.write_text(dumps(exp2_fma6))
    return path


BAD_PROGRAMS = {
    "malformed": ('{"instrs": [', "malformed JSON: Expecting value at line 1 column 13"),
    "empty": ("", "malformed JSON: Expecting value at line 1 column 1"),
    "unknown_op": ('{"instrs": [{"op": "x"}, {"op": "exp", "args": [0]}], "output": 1}',
                   f"instruction 1: unknown op 'exp' (known: {KNOWN_OPS})"),
    "bad_arity": ('{"instrs": [{"op": "x"}, {"op": "add", "args": [0]}], "output": 1}',
                  "instruction 1: op 'add' takes 2 arguments, got 1"),
    "forward": ('{"instrs": [{"op": "x"}, {"op": "neg", "args": [2]}, {"op": "x"}], "output": 1}',
                "instruction 1: argument 2 does not point to an earlier instruction"),
    "non_numeric_const": ('{"instrs": [{"op": "x"}, {"op": "const", "value": "abc"}], "output": 1}',
                          "instruction 1: constant is not a number: 'abc'"),
    "non_finite_const": ('{"instrs": [{"op": "x"}, {"op": "const", "value": NaN}], "output": 1}',
                         "instruction 1: constant is not finite: nan"),
    "huge_int_const": ('{"instrs": [{"op": "x"}, {"op": "const", "value": 1' + "0" * 400 + '}], "output": 1}',
                       "instruction 1: constant is not finite: inf"),
    "bad_output": ('{"instrs": [{"op": "x"}], "output": 4}', "output 4 does not point to an instruction"),
    "not_a_program": ('[1, 2, 3]', "not a program: expected an object with an 'instrs' list"),
}


@pytest.mark.parametrize("command", ["score", "verify"])
@pytest.mark.parametrize("case", list(BAD_PROGRAMS))
def test_bad_program_files(evo, tmp_path, command, case):
    text, message = BAD_PROGRAMS[case]
    path = tmp_path / f"{case}.json"
    path.write_text(text)
    assert_user_error(evo(command, path, "--target", "exp2", "--interval", "0,0.001"), f"{path}: {message}")


@pytest.mark.parametrize("case", ["malformed", "unknown_op", "non_numeric_const"])
def test_bad_program_files_in_a_process(evo_cmd, tmp_path, case):
    text, message = BAD_PROGRAMS[case]
    path = tmp_path / f"{case}.json"
    path.write_text(text)
    assert_user_error(run(evo_cmd, "score", path, "--target", "exp2"), f"{path}: {message}")


@pytest.mark.parametrize("args, message", [
    (["--target", "exp3"], f"unknown target 'exp3' (known: {KNOWN_TARGETS})"),
    (["--target", "exp2", "--interval", "1,1"], "interval [1.0, 1.0] is empty or reversed"),
    (["--target", "exp2", "--interval", "1,0"], "interval [1.0, 0.0] is empty or reversed"),
    (["--target", "log", "--interval", "-1,1"],
     "interval [-1.0, 1.0] is outside the domain of log(x) (at x = -1.0)"),
    (["--target", "sqrt(x) + 1", "--interval", "-2,2"],
     "interval [-2.0, 2.0] is outside the domain of sqrt(x) + 1 (at x = -2.0)"),
    (["--target", "exp2", "--interval", "a,b"], "interval 'a,b' must be two numbers A,B"),
    (["--target", "sin(x)"], "custom target 'sin(x)' needs an interval (--interval A,B)"),
    (["--target", "foo(x)", "--interval", "0,1"], None),  # checked below: lists the known functions
    (["--interval", "0,1"], "Missing option '--target' / '-t'. (see 'evo {cmd} --help')"),
])
@pytest.mark.parametrize("command", ["score", "verify"])
def test_bad_targets_and_intervals(evo, program_file, command, args, message):
    r = evo(command, program_file, *args)
    if message is None:
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
        assert r.stderr.startswith("evo: error: expression 'foo(x)': unknown function 'foo' (known: ")
        assert "exp2" in r.stderr and "sin" in r.stderr
        return
    assert_user_error(r, message.format(cmd=command))


@pytest.mark.parametrize("args, message", [
    (["--target", "exp3"], f"unknown target 'exp3' (known: {KNOWN_TARGETS})"),
    (["--target", "exp2", "--interval", "1,0"], "interval [1.0, 0.0] is empty or reversed"),
    (["--target", "log", "--interval", "-1,1"],
     "interval [-1.0, 1.0] is outside the domain of log(x) (at x = -1.0)"),
])
def test_bad_targets_in_a_process(evo_cmd, program_file, args, message):
    assert_user_error(run(evo_cmd, "verify", program_file, *args), message)


@pytest.mark.parametrize("expr, interval, message", [
    ("x**(9**9**9)", "0,1", "expression 'x**(9**9**9)': 9 ** 9 ** 9 is too large (at most 2^1000 in magnitude)"),
    ("x**(10**400)", "0.5,1", "expression 'x**(10**400)': 10 ** 400 is too large (at most 2^1000 in magnitude)"),
    ("1/(x-0.40625)", "0.3,0.5", "interval [0.3, 0.5] is outside the domain of 1/(x-0.40625): a pole near "
                                 "x = 0.40625 (found by interval arithmetic)"),
])
def test_a_rejected_target_is_one_line_in_a_process_and_leaves_no_run(evo_cmd, tmp_path, expr, interval, message):
    r = subprocess.run([*evo_cmd, "search", expr, "--interval", interval, "--evals", "5", "--workers", "0",
                        "--out", str(tmp_path / "runs")], capture_output=True, text=True, timeout=60)
    assert_user_error(r, message)
    assert not (tmp_path / "runs").exists()


def test_a_target_too_slow_to_evaluate_is_rejected_before_its_run_exists(evo, tmp_path, monkeypatch):
    """The ground truth is built (within its time limit) before the run directory and its lock."""
    monkeypatch.setenv("EVO_TARGET_TIME_LIMIT", "0.2")
    expr = "gamma(x)*erf(x)+lgamma(x+1)+x"   # ~1 ms a point in mpmath: 17,000 points take seconds
    r = evo("search", expr, "--interval", "0.25,0.75", "--evals", "5", "--workers", "0", "--out", tmp_path / "runs")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"evo: error: the ground truth of {expr} on [0.25, 0.75] took over 0.2 s (at x = ")
    assert r.stderr.endswith("): simplify the expression or narrow the interval\n")
    assert not (tmp_path / "runs").exists()


def test_missing_and_unreadable_files(evo, tmp_path):
    assert_user_error(evo("score", tmp_path / "nope.json", "-t", "exp2"), f"{tmp_path / 'nope.json'}: no such file")
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    assert_user_error(evo("score", binary, "-t", "exp2"), f"{binary}: cannot read: UnicodeDecodeError")
    assert_user_error(evo("verify", "-t", "exp2"), "give a PROGRAM.json to verify")
    assert_user_error(evo("nosuch"), "No such command 'nosuch'.")
    assert_user_error(evo("score", tmp_path, "-t", "exp2"),
                      f"Invalid value for 'PROGRAM': File '{tmp_path}' is a directory. (see 'evo score --help')")


def test_score_json(evo_cmd, program_file, exp2_fma6):
    r = run(evo_cmd, "score", program_file, "--target", "exp2", "--json")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    d = json.loads(r.stdout)
    st = Scorer(TARGETS["exp2"], FLOAT32).score(exp2_fma6)
    assert {"max_ulp", "mean_ulp", "argmax"} <= d.keys()
    assert (d["max_ulp"], d["mean_ulp"], d["argmax"], d["inputs"]) == (st.max, st.mean, st.argmax, st.n)
    assert d["ops"] == 6 and d["exhaustive"] is False and d["metric"] == "ulp" and d["dtype"] == "float32"
    assert d["target"] == {"name": "exp2", "expr": "exp2(x)", "interval": [0.0, 1.0]}


def test_score_json_modes(evo, program_file, exp2_fma6):
    r = evo("score", program_file, "-t", "exp2(x) + x", "--interval", "0,0.5", "--seed", "4",
            "--fixed-ulp", "0.75", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    st = Scorer(get_target("exp2(x) + x", (0, 0.5)), FLOAT32, metric="fixed", fixed_ref=0.75, seed=4).score(exp2_fma6)
    assert (d["max_ulp"], d["argmax"], d["metric"]) == (st.max, st.argmax, "fixed")
    r = evo("score", program_file, "-t", "exp2", "--dtype", "float64", "--json")
    d = json.loads(r.stdout)
    st = Scorer(TARGETS["exp2"], REALS).score(exp2_fma6)
    assert (d["max_rel"], d["argmax"], d["metric"]) == (st.max, st.argmax, "relative")


def test_score_json_inf_is_a_string(evo, tmp_path):
    path = tmp_path / "div0.json"
    path.write_text('{"instrs": [{"op": "x"}, {"op": "sub", "args": [0, 0]}, {"op": "div", "args": [0, 1]}]}')
    r = evo("score", path, "-t", "exp2", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)  # strict JSON: no bare Infinity
    assert d["max_ulp"] == "inf" and d["mean_ulp"] == "inf"


def test_score_text(evo, program_file):
    r = evo("score", program_file, "-t", "exp2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "target   exp2(x) on [0, 1] (float32)"
    assert lines[1].startswith("program  fma(fma(fma(fma(fma(fma(") and lines[1].endswith("(6 ops)")
    assert lines[2].startswith("max      0.9") and " ULP at x = " in lines[2]


@pytest.mark.parametrize("value", ["0", "nan", "inf"])
def test_fixed_ulp_must_be_usable(evo, program_file, value):
    assert_user_error(evo("score", program_file, "-t", "exp2", "--fixed-ulp", value),
                      f"--fixed-ulp must be a finite nonzero number, not {float(value)!r}")


def test_verify_text(evo, program_file):
    r = evo("verify", program_file, "-t", "exp2", "--interval", "0.5,0.5001", "-q")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "inputs      1,678 float32 in [0.5, 0.5000999569892883] (exhaustive)" in out
    assert "max ulp" in out and "not correctly rounded" in out and "elapsed" in out


def test_help_and_version(evo_cmd):
    r = run(evo_cmd, "--help")
    assert r.returncode == 0 and "score" in r.stdout and "verify" in r.stdout
    r = run(evo_cmd, "--version")
    assert r.returncode == 0 and r.stdout.startswith("evo, version ")


def test_search_help_explains_every_option_and_the_budget(evo):
    import re

    r = evo("search", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "--tournament INTEGER Members sampled to pick each parent (the best of the sample breeds). [default: 8]" \
        in text
    assert "--budget DURATION Wall-clock budget, e.g. 90s, 10m, 1h. No default: give it or --evals" in text
    # every option has a help text
    options = re.findall(r"^  (-[-\w]+(?:, -[-\w]+)?)(?: [A-Z,.=]+)?(  +\S.*)?$", r.stdout, re.M)
    assert len(options) > 20 and all(h and not h.strip().startswith("[default") for _, h in options), \
        [o for o, h in options if not h or h.strip().startswith("[default")]


def test_example_script_says_where_its_run_lands():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "examples" / "search_and_export.py").read_text()
    assert 'name="example-exp2"' in text and "lands in OUT/example-exp2/" in text
    assert "about 12 s" not in text and "about 2 s" in text   # README: ~2 s (measured 1.4 s)


# What a command-line default may be instead of SearchConfig's, and why.
CLI_OWN_DEFAULTS = {
    "target": "an argument the user gives (SearchConfig's default target serves the Python API)",
    "workers": "the command and evo.search default to all cores on Ray; the dataclass to in-process",
    "op_cost": "text parsed into cost_weights (no text: no weights, as the dataclass's ())",
}
CLI_TO_CONFIG = {"evals": "max_evals", "budget": "budget_seconds", "op_cost": "cost_weights"}


def test_search_command_defaults_are_the_configs():
    """`evo search` repeats no default: each option that is a SearchConfig field defaults to it."""
    import dataclasses

    import click

    from evo.cli.search import search
    from evo.evolution.config import SearchConfig

    fields = {f.name: f for f in dataclasses.fields(SearchConfig)}
    ctx = click.Context(search)
    checked = 0
    for param in search.params:
        name = CLI_TO_CONFIG.get(param.name, param.name)
        if name not in fields or param.name in CLI_OWN_DEFAULTS:
            continue
        default = param.get_default(ctx)
        default = None if default is getattr(click.core, "UNSET", object()) else default  # click 8.2: no default
        assert default == fields[name].default, f"--{param.name} defaults to {default!r}, " \
                                                f"SearchConfig.{name} to {fields[name].default!r}"
        checked += 1
    assert checked >= 14


def test_front_table_fits_80_columns_and_shows_a_member_whole(evo_cmd, tmp_path):
    """`evo front RUN | cat`: one line per member in the table, expressions below it cut to
    the width with the id to see one whole (`--id`)."""
    import evo

    run = evo.search("exp2", budget=None, max_evals=300, workers=0, out=tmp_path, name="w", progress=False,
                     verify_below=0)
    long = max(run.front, key=lambda m: len(m.expression))
    r = subprocess.run([*evo_cmd, "front", str(run.path), "--no-baselines"], capture_output=True, text=True,
                       timeout=120, env={**__import__("os").environ, "COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines[:-1]) <= 80
    table = [line for line in lines if line.startswith("│")]
    assert len(table) == len(run.front) and sum(line.startswith("┃") for line in lines) == 1  # a header, a row each
    assert f"  #{long.id}: " in r.stdout
    if len(long.expression) > 80 - len(f"  #{long.id}: "):
        assert "--id ID shows one whole" in r.stdout and long.expression not in r.stdout
    one = subprocess.run([*evo_cmd, "front", str(run.path), "--id", str(long.id)], capture_output=True, text=True,
                         timeout=120)
    assert one.returncode == 0 and f"expression  {long.expression}" in one.stdout
