"""The Python API: what a notebook user calls, end to end, with real searches."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import evo
from evo.errors import EvoError

ROOT = Path(__file__).resolve().parents[1]


def test_example_file_runs_as_written(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "search_and_export.py"), "--budget", "4s",
                        "--workers", "0", "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "float my_exp2f(float x)" in r.stdout and "chosen: #" in r.stdout
    assert (tmp_path / "example-exp2" / "front-example.png").stat().st_size > 0


def test_search_returns_a_run_whose_front_is_labelled_and_non_dominated(tmp_path):
    run = evo.search("exp2", interval=(0.5, 0.502), budget=None, max_evals=200, workers=0, out=tmp_path,
                     name="api", progress=False, verify_below=1e9)
    assert run.status == "finished" and run.stats.evals == 200
    front = run.front
    assert len(front) >= 2 and all(m.error_on in ("exhaustive", "validation", "train") for m in front)
    # verify_below 1e9 on a tiny interval: every member was checked on every float32
    assert all(m.error_on == "exhaustive" and m.error == m.exhaustive_max for m in front)
    # the displayed front is non-dominated on the error it displays
    pts = sorted((m.cost, m.error) for m in front)
    assert all(e1 > e2 for (_, e1), (_, e2) in zip(pts, pts[1:]))
    best = front.best(max_ulp=float("inf"))
    assert best is not None and best.cost == min(m.cost for m in front)
    assert front.best(max_ulp=0.0) is None
    assert "exh" in front.table() and str(best.id) in front.table()
    from matplotlib.figure import Figure

    assert isinstance(front.plot(baselines=False), Figure)
    # load_run reads the same run back
    again = evo.load_run(run.path)
    assert [m.id for m in again.front] == [m.id for m in front] and again.status == "finished"
    # a member exports with its own target and the exhaustive figure in the header
    text = evo.export(best, lang="numpy")
    assert "verified exhaustively" in text and f"member {best.id}" in text
    # (twice: importing the code generators on first use must not hide the function)
    assert evo.export(best, lang="c") and callable(evo.export) and callable(evo.baselines) and callable(evo.verify)


def test_verify_a_program_against_a_named_target():
    import mpmath
    import numpy as np
    from support import f32_grid, horner, mp_ulp_error

    p = horner([1.0, 0.6931, 0.2402, 0.0555, 0.0096, 0.0013], use_fma=True)
    v = evo.verify(p, "exp2", interval=(0.25, 0.2500305))
    xs = f32_grid(0.25, 0.2500305)
    ys = evo.evaluate(p, xs)
    with mpmath.workprec(120):
        errs = [mp_ulp_error(float(y), mpmath.exp2(mpmath.mpf(float(x)))) for x, y in zip(xs, ys)]
    assert v.exhaustive and v.inputs == xs.size == 1024
    assert v.max_ulp == pytest.approx(max(errs), rel=1e-9) and v.argmax == float(xs[int(np.argmax(errs))])


def test_library_errors_name_parameters_not_flags(tmp_path):
    with pytest.raises(EvoError) as e:
        evo.search("exp2", budget=None, max_evals=0, workers=0, out=tmp_path, progress=False)
    assert str(e.value) == "max_evals must be positive, got 0"
    assert e.value.cli_message() == "--evals must be positive, got 0"
    with pytest.raises(EvoError, match=r"^unknown search option: 'populaton'$"):
        evo.search("exp2", max_evals=5, workers=0, out=tmp_path, populaton=3, progress=False)
    with pytest.raises(EvoError, match=r"needs an interval \(interval A,B\)"):
        evo.search("sin(x)", max_evals=5, workers=0, out=tmp_path, progress=False)
    with pytest.raises(EvoError, match="a program needs its target"):
        evo.verify(evo.Program.identity())
    assert not any(tmp_path.iterdir()), "nothing may be written for bad input"


def test_api_errors_are_evo_errors_naming_the_parameter(tmp_path):
    """What a notebook user gets wrong: each one line, naming the parameter, nothing written."""
    def message(f) -> str:
        with pytest.raises(EvoError) as e:
            f()
        return str(e.value)

    common = dict(workers=0, out=tmp_path, progress=False)
    assert message(lambda: evo.search("exp2", max_evals="abc", **common)) == \
        "search option max_evals must be an integer or None, got 'abc'"
    assert message(lambda: evo.search("exp2", max_evals=True, **common)) == \
        "search option max_evals must be an integer or None, got True"
    assert message(lambda: evo.search("exp2", max_evals=5, population=3.5, **common)) == \
        "search option population must be an integer, got 3.5"
    assert message(lambda: evo.search("exp2", budget=[3], **common)) == \
        "budget must be a duration ('90s', '10m', '1h') or seconds, got [3]"
    assert message(lambda: evo.search(5, max_evals=5, **common)) == \
        "target must be a name (exp2, exp, log2, log, erf, sigmoid, tanh) or an expression in x, got int 5"
    assert message(lambda: evo.search("sin(x)", interval=(0, "a"), max_evals=5, **common)) == \
        "interval must be two numbers (lo, hi) or a string 'A,B', got (0, 'a')"
    # a program given as text, and what front.best() returns when nothing qualifies
    assert message(lambda: evo.verify("fma(x,1,1)", "exp2")) == \
        "program must be a Program or a front Member (run.front[i], evo.loads(text)), got str 'fma(x,1,1)'"
    hint = ("is None (front.best(max_ulp=...) returns None when no member is verified under max_ulp; "
            "lower the bar, or best(verified=False) for sampled figures)")
    assert message(lambda: evo.verify(None)) == f"no member to use: program {hint}"
    assert message(lambda: evo.export(None, "c")) == f"no member to use: member {hint}"
    assert message(lambda: evo.certify(None)) == f"no member to use: program {hint}"
    assert not any(tmp_path.iterdir()), "nothing may be written for bad input"


def test_ctrl_c_stops_a_search_cleanly_and_the_run_resumes(tmp_path):
    # Python's own Ctrl-C handler, as in a notebook (a test runner started in the background
    # hands its children SIGINT ignored, and Python then installs none)
    script = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler); import evo; "
              f"r = evo.search('exp2', budget=None, max_evals=4000, workers=0, out={str(tmp_path)!r}, "
              "name='k', progress=False, verify_below=0, checkpoint_every=0.5); print(r.status)")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ck = tmp_path / "k" / "checkpoint.json"
    deadline = time.time() + 180
    while time.time() < deadline and not (ck.exists() and json.loads(ck.read_text())["state"]["stats"]["evals"] > 50):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C in a notebook does
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.strip() == "interrupted" and "Traceback" not in err
    run = evo.load_run(tmp_path / "k")
    assert run.status == "interrupted" and 50 < run.stats.evals < 4000
    done = evo.resume(tmp_path / "k", progress=False)
    assert done.status == "finished" and done.stats.evals == 4000
    events = done.events()
    assert [e["event"] for e in events].count("resume") == 1 and events[-1]["event"] == "end"
