"""The search end to end: runs, reproducibility, resume after SIGKILL, bad input."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from support import local_search

from evo.core.ir import from_dict
from evo.core.scoring import Scorer
from evo.evolution.config import SearchConfig
from evo.platforms import FLOAT32
from targets import get_target


def run_evo(evo_cmd, *args, timeout=300):
    return subprocess.run([*evo_cmd, *args], capture_output=True, text=True, timeout=timeout)


def front_of(run: Path) -> list[dict]:
    return json.loads((run / "front.json").read_text())["members"]


def test_search_improves_from_empty_code_and_front_is_consistent():
    cfg = SearchConfig(target="exp2", max_evals=400, seed=3, islands=1)
    s = local_search(cfg)
    s.run()
    assert s.stats.evals == 400
    errors = {a.cost: a.error for a in s.front}
    assert errors[min(errors)] > 1e5          # cheap members are inaccurate...
    assert min(errors.values()) < 1e3         # ...but evolution found accurate ones
    # the archive is a Pareto front: error strictly falls as cost rises
    pts = sorted((a.cost, a.error) for a in s.front)
    assert all(e1 > e2 for (_, e1), (_, e2) in zip(pts, pts[1:]))
    # recorded errors are what the scorer says, independently recomputed: train on the
    # training set as grown (nothing left it in so short a run), validation on the sample
    scorer = Scorer(get_target("exp2"), FLOAT32)
    grown = s.training.points()
    assert grown.x.size == s.training.size < 1300 + 512
    for a in s.front:
        assert scorer.score(a.program, grown).max == pytest.approx(a.train.max)
        assert a.validation.max == pytest.approx(scorer.score(a.program, "validation").max)
        assert a.error == max(a.train.max, a.validation.max)
    # every individual records its parent and mutation
    assert all(a.mutation and (a.parent is not None or a.mutation == "seed") for a in s.population)


def test_nsga2_mode_runs_and_keeps_population_size():
    cfg = SearchConfig(target="exp2", max_evals=300, population=16, tournament=2, algorithm="nsga2", seed=1)
    s = local_search(cfg)
    s.run()
    assert len(s.state.islands) == 4 and all(len(i.population) <= 16 for i in s.state.islands)
    assert min(a.error for a in s.front) < 1e5


def test_same_seed_gives_identical_front(tmp_path, evo_cmd):
    for name in ("a", "b"):
        r = run_evo(evo_cmd, "search", "exp2", "--evals", "150", "--workers", "0", "--seed", "5",
                    "--name", name, "--out", str(tmp_path), "--verify-below", "0", "-q")
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "a" / "front.json").read_text().replace('"a"', '"b"') == \
        (tmp_path / "b" / "front.json").read_text()
    other = run_evo(evo_cmd, "search", "exp2", "--evals", "150", "--workers", "0", "--seed", "6",
                    "--name", "c", "--out", str(tmp_path), "--verify-below", "0", "-q")
    assert other.returncode == 0
    assert front_of(tmp_path / "c") != front_of(tmp_path / "a")


def test_run_directory_contents_and_front_command(tmp_path, evo_cmd):
    r = run_evo(evo_cmd, "search", "exp2", "--interval", "0.5,0.502", "--evals", "200", "--workers", "0", "--name", "r",
                "--out", str(tmp_path), "--verify-below", "1e9", "-q")
    assert r.returncode == 0, r.stderr
    run = tmp_path / "r"
    for f in ("config.json", "events.jsonl", "checkpoint.json", "front.json", "front.png", "progress.png"):
        assert (run / f).stat().st_size > 0, f
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["event"] == "eval"]
    assert len(evals) == 200 and len({e["id"] for e in evals}) == 200
    assert events[-1]["event"] == "end"
    # verify-below 1e9: every finite member was verified exhaustively at the end
    out = run_evo(evo_cmd, "front", str(run), "--json")
    members = json.loads(out.stdout)
    assert members and all({"id", "cost", "max_ulp", "exhaustive_max_ulp", "program"} <= set(m) for m in members)
    assert all(m["exhaustive_max_ulp"] is not None for m in members)
    # the exhaustive max is over a superset of the validation points
    assert all(m["exhaustive_max_ulp"] >= m["validation"]["max_ulp"] - 1e-9 for m in members)
    # one meaning per key: the top-level max_ulp is the best known error (here: the exhaustive one)
    assert all(m["max_ulp"] == m["error"] == m["exhaustive_max_ulp"] and m["error_on"] == "exhaustive"
               and m["argmax"] == m["verified"]["argmax"] for m in members)
    # a member's program is what `evo score` reads, and scores the same (on the validation sample)
    best = min(members, key=lambda m: m["validation"]["max_ulp"])
    prog = tmp_path / "best.json"
    prog.write_text(json.dumps(best["program"]))
    sc = json.loads(run_evo(evo_cmd, "score", str(prog), "-t", "exp2", "--interval", "0.5,0.502", "--json").stdout)
    assert sc["max_ulp"] == pytest.approx(best["validation"]["max_ulp"])
    table = run_evo(evo_cmd, "front", str(run), "--no-baselines")
    assert table.returncode == 0 and "exhaustive" in table.stdout


def test_resume_after_sigkill_loses_at_most_one_checkpoint_interval(tmp_path, evo_cmd):
    args = ["search", "exp2", "--evals", "1500", "--workers", "0", "--name", "k", "--out", str(tmp_path),
            "--checkpoint-every", "0.5", "--verify-below", "0", "-q"]
    proc = subprocess.Popen([*evo_cmd, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ck = tmp_path / "k" / "checkpoint.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if ck.exists() and json.loads(ck.read_text())["state"]["stats"]["evals"] >= 100:
            break
        time.sleep(0.2)
    time.sleep(0.7)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = json.loads(ck.read_text())["state"]["stats"]["evals"]
    assert 100 <= saved < 1500, "the kill must land mid-run"
    logged = sum(1 for line in (tmp_path / "k" / "events.jsonl").read_text().splitlines() if '"eval"' in line)
    r = run_evo(evo_cmd, "search", "--resume", str(tmp_path / "k"), "-q")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in (tmp_path / "k" / "events.jsonl").read_text().splitlines()
              if line.strip().endswith("}")]
    resumed = [e for e in events if e["event"] == "resume"]
    assert len(resumed) == 1 and resumed[0]["evals"] == saved
    assert events[-1]["event"] == "end" and events[-1]["evals"] == 1500
    # what was lost is what came after the last checkpoint: at most one interval's worth
    assert logged - saved < 400


def _bad(evo_cmd, *args):
    r = run_evo(evo_cmd, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    return r.stderr.strip()


def test_bad_search_input_one_line_errors(tmp_path, evo_cmd):
    out = ["--out", str(tmp_path), "--workers", "0"]
    assert _bad(evo_cmd, "search", "exp2", "--budget", "0", *out) == "evo: error: budget must be positive, got '0'"
    assert _bad(evo_cmd, "search", "exp2", "--budget", "-5m", *out) == "evo: error: budget must be positive, got '-5m'"
    assert _bad(evo_cmd, "search", "exp2", "--budget", "soon", *out) == \
        "evo: error: budget 'soon' is not a duration (e.g. 90s, 10m, 1h)"
    assert _bad(evo_cmd, "search", "exp2", "--evals", "0", *out) == "evo: error: --evals must be positive, got 0"
    assert _bad(evo_cmd, "search", "exp2", "--evals", "9", "--population", "4", "--tournament", "8", *out) == \
        "evo: error: population (4) is smaller than tournament (8)"
    assert _bad(evo_cmd, "search", "exp2", "--evals", "9", "--algorithm", "annealing", *out) == \
        "evo: error: unknown algorithm 'annealing' (known: regularized, nsga2)"
    assert _bad(evo_cmd, "search", "nope", "--evals", "9", *out).startswith("evo: error: unknown target 'nope'")
    assert _bad(evo_cmd, "search", "--resume", str(tmp_path)) == f"evo: error: {tmp_path} is not a run (no config.json)"
    assert not any(tmp_path.iterdir()), "nothing may be written for bad input"


def test_corrupt_checkpoint_and_name_clash_change_nothing(tmp_path, evo_cmd):
    r = run_evo(evo_cmd, "search", "exp2", "--evals", "30", "--workers", "0", "--name", "x", "--out", str(tmp_path),
                "--verify-below", "0", "-q")
    assert r.returncode == 0, r.stderr
    run = tmp_path / "x"
    before = {f.name: f.read_bytes() for f in run.iterdir()}
    # the same name with other settings is a different run
    msg = _bad(evo_cmd, "search", "exp2", "--evals", "31", "--workers", "0", "--name", "x", "--out", str(tmp_path))
    assert msg == f"evo: error: {run} already holds a different run; choose another --name or --out"
    msg = _bad(evo_cmd, "search", "exp2", "--evals", "30", "--workers", "0", "--name", "x", "--out", str(tmp_path),
               "--verify-below", "0")
    assert msg == f"evo: error: {run} already holds this run; continue it with: evo search --resume {run} (or evo.resume)"
    assert {f.name: f.read_bytes() for f in run.iterdir()} == before
    # a truncated checkpoint is refused, and left as it was
    ck = run / "checkpoint.json"
    ck.write_bytes(before["checkpoint.json"][: len(before["checkpoint.json"]) // 2])
    truncated = ck.read_bytes()
    assert _bad(evo_cmd, "search", "--resume", str(run)) == \
        f"evo: error: {ck}: checkpoint is corrupt or truncated; nothing was changed"
    assert ck.read_bytes() == truncated
    assert (run / "events.jsonl").read_bytes() == before["events.jsonl"]


def test_custom_target_search(tmp_path, evo_cmd):
    # 500 evaluations (about 2 s): every seed tried (0-5) gets under 600 ULP; 150 left some at 8.6e4
    r = run_evo(evo_cmd, "search", "sin(x)", "--interval", "0,0.5", "--evals", "500", "--workers", "0",
                "--name", "s", "--out", str(tmp_path), "--verify-below", "0", "-q")
    assert r.returncode == 0, r.stderr
    members = front_of(tmp_path / "s")
    assert min(m["max_ulp"] for m in members) < 1e4
    assert from_dict(members[-1]["program"]).n_ops >= 1


def test_a_custom_expressions_default_run_name_is_made_from_it(tmp_path):
    """Not `custom-seed0` for every expression (a second one needed --name)."""
    import evo
    from evo.api import default_run_name

    assert default_run_name("exp2", 3) == "exp2-seed3"
    assert default_run_name("sin(x)+1", 0) == default_run_name("sin(x)  +  1", 0) == "sin-x-plus-1-d99c7a-seed0"
    assert default_run_name("sin(x + 1)", 0) == "sin-x-plus-1-93a6b8-seed0"   # parentheses matter: the hash
    assert default_run_name("1/(x-0.40625)", 1) == "1-over-x-minus-0.40625-80a8b0-seed1"
    for expr in ("sin(x)", "cos(x)"):
        run = evo.search(expr, interval=(0.0, 0.5), budget=None, max_evals=8, workers=0, out=tmp_path,
                         progress=False, verify_below=0)
        assert run.path == tmp_path / default_run_name(expr, 0) and run.status == "finished"


def test_training_set_holds_the_points_where_programs_break():
    from evo.core.scoring import training_inputs

    x = training_inputs(get_target("exp2", (-0.5, 0.5)))
    assert 0.0 in x and np.float32(1e-45) in x and np.float32(-1e-45) in x


def test_front_tables_print_errors_as_stored_in_json():
    from evo.core.numbers import fmt_error as fmt_ulp

    assert [fmt_ulp(v) for v in (0.93871, "inf", float("inf"), None)] == ["0.9387", "inf", "inf", "-"]


def test_a_records_top_level_max_ulp_is_its_best_known_error():
    """front.json / `evo front --json`: max_ulp, mean_ulp and argmax are the figures of `error`
    (exhaustive where verified), never a sampled max beside a verified one; the sampled
    figures are under train and validation."""
    from evo.core.ir import Program
    from evo.core.scoring import ErrorStats
    from evo.platforms import FLOAT32
    from evo.runs.member import Member

    verified = Member(1, Program.identity(), 3, ErrorStats(0.70, 0.1, 0.25, 512),
                      validation=ErrorStats(0.748, 0.2, 0.5, 16382),
                      exhaustive={"max_ulp": 0.901, "mean_ulp": 0.3, "argmax": 0.75, "inputs": 1065353217})
    d = verified.to_dict(FLOAT32)
    assert (d["max_ulp"], d["mean_ulp"], d["argmax"], d["error"], d["error_on"]) == (0.901, 0.3, 0.75, 0.901,
                                                                                      "exhaustive")
    assert d["validation"]["max_ulp"] == 0.748 and d["train"]["max_ulp"] == 0.70
    assert Member.from_dict(d).validation.max == 0.748 and Member.from_dict(d).error == 0.901
    sampled = Member(2, Program.identity(), 3, ErrorStats(0.9, 0.1, 0.25, 512), validation=ErrorStats(0.8, 0.2, 0.5, 9))
    d = sampled.to_dict(FLOAT32)
    assert (d["max_ulp"], d["mean_ulp"], d["argmax"], d["error_on"]) == (0.9, 0.1, 0.25, "train")


def test_op_cost_weights(tmp_path, evo_cmd):
    r = run_evo(evo_cmd, "search", "exp2", "--evals", "60", "--workers", "0", "--op-cost", "fma=2,div=4",
                "--name", "w", "--out", str(tmp_path), "--verify-below", "0", "-q")
    assert r.returncode == 0, r.stderr
    for m in front_of(tmp_path / "w"):
        p = from_dict(m["program"])
        assert m["cost"] == p.cost({"fma": 2.0, "div": 4.0})
    assert _bad(evo_cmd, "search", "exp2", "--evals", "5", "--op-cost", "fma", "--out", str(tmp_path)) == \
        "evo: error: --op-cost 'fma': expected OP=WEIGHT pairs, e.g. div=4,fma=1"


def test_front_members_stored_error_is_their_exhaustive_error(tmp_path):
    """Every front member under verify_below ends with its stored error = its exhaustive max,
    measured again here by the independent numpy verifier (within 0.05 ULP; in fact ~1e-9)."""
    import evo
    from evo.verification.yardstick import verify_program_numpy

    run = evo.search("exp2", interval=(-0.5, -0.49), budget=None, max_evals=300, workers=0, out=tmp_path,
                     name="v", progress=False, verify_below=2.0)
    low = [m for m in run.front if m.error < 2.0]
    assert low, "the search should reach under 2 ULP on so small an interval"
    for m in low:
        assert m.error_on == "exhaustive"
        independent = verify_program_numpy(m.program, run.front.target)
        assert abs(m.error - independent.max_ulp) <= 0.05
    # each check recorded the sampled estimate the search ranked the member by before it
    checked = run.front.meta["checked"]
    assert checked and all(c["sampled"] != "inf" and float(c["sampled"]) <= float(c["max_ulp"]) + 1e-6
                           for c in checked)


def test_checkpoint_restores_islands_training_set_and_random_state(tmp_path):
    """What a resumed run continues from is exactly what the search had: islands (their
    populations and fronts, shared members still shared), the grown training set, the RNG."""
    from evo.runs.store import RunStore

    cfg = SearchConfig(target="exp2", interval=(0.5, 0.6), max_evals=500, seed=2, islands=3, verify_below=0,
                       migrate_every=150)
    store = RunStore.create(tmp_path / "r", cfg)
    s = local_search(cfg, store)
    s.run()
    assert s.training.extra.x.size > 0 and s.stats.migrations >= 2  # it grew, and members migrated
    again = local_search(cfg, store)
    again.restore(store.load_checkpoint())
    for a, b in zip(s.state.islands, again.state.islands):
        assert [m.id for m in a.population] == [m.id for m in b.population]
        assert [m.id for m in a.front] == [m.id for m in b.front]
        assert (a.evals, a.last_gain, a.restarts) == (b.evals, b.last_gain, b.restarts)
    assert [(m.id, m.error, m.error_on) for m in s.front] == [(m.id, m.error, m.error_on) for m in again.front]
    shared = {id(m) for isl in again.state.islands for m in isl.population} & {id(m) for m in again.front}
    assert shared, "a member in a population and the archive is one object after a resume too"
    assert np.array_equal(s.training.extra.x, again.training.extra.x) and again.training.size == s.training.size
    assert s.rng.random() == again.rng.random()
    assert again.stats == s.stats


def test_children_that_fail_are_counted_not_kept_and_checkpoints_still_save(tmp_path, monkeypatch):
    """A child whose evaluation raises scores worst, is logged with its reason, and does not
    join any population (its NaN arg-max once broke the checkpoint's JSON)."""
    import evo.evolution.worker as worker
    from evo.runs.store import RunStore

    real, calls = worker.Worker.fit, [0]

    def flaky(self, *a, **k):
        calls[0] += 1
        if calls[0] % 5 == 0:
            raise FloatingPointError("injected")
        return real(self, *a, **k)

    monkeypatch.setattr(worker.Worker, "fit", flaky)
    cfg = SearchConfig(target="exp2", max_evals=200, seed=1, verify_below=0)
    store = RunStore.create(tmp_path / "f", cfg)
    s = local_search(cfg, store)
    s.run()
    assert s.stats.failures >= 30 and s.stats.evals == 200
    kept = {m.id for m in s.state.members().values()}
    failed = [e for e in store.read_events() if e["event"] == "eval" and "failure" in e]
    assert len(failed) == s.stats.failures and "injected" in failed[0]["failure"]
    assert not kept & {e["id"] for e in failed}
    assert json.loads((tmp_path / "f" / "checkpoint.json").read_text())["state"]["stats"]["failures"] == s.stats.failures


def test_a_checked_member_returns_to_the_front_when_what_pushed_it_out_is_checked():
    from evo.core.ir import Program
    from evo.core.scoring import ErrorStats
    from evo.evolution.state import Island, SearchState
    from evo.runs.front import Front
    from evo.runs.member import Member

    def member(i, cost, train):
        return Member(i, Program.identity(), cost, ErrorStats(train, train, 0.5, 10))

    checked, optimistic = member(1, 6, 0.8), member(2, 5, 0.7)
    checked.exhaustive = {"max_ulp": 0.95}
    # as Search._checked records a check: an entry in `checked`, the member in `verified`
    st = SearchState([Island()], front=Front([checked]), checked=[{"id": 1, "max_ulp": 0.95}], verified=[checked])
    st.front = Front([optimistic])    # a sampled 0.7 at 5 ops dominates the verified 0.95 at 6
    st.refilter()
    assert list(st.front) == [optimistic]
    optimistic.exhaustive = {"max_ulp": 1.3}   # its check: worse than the sample said
    st.refilter()
    assert [m.id for m in st.front] == [2, 1]
    again = SearchState.from_dict(st.to_dict(FLOAT32))
    assert [m.id for m in again.verified] == [1]
    # a checkpoint written before `verified` existed (same format) restores them too
    old = st.to_dict(FLOAT32)
    old.pop("verified", None)
    assert [m.id for m in SearchState.from_dict(old).verified] == [1]


def test_a_member_that_fails_its_check_is_fitted_again_on_the_grown_training_set():
    """erf as fma(x, P(x*x), x), P of degree 6, with its minimax constants rounded to
    float32 all at once: right structure, wrong constants, 1.167 ULP over all floats. When
    its check comes back worse than its sampled error, a 'refit' child of the same structure
    is fitted on the grown training set, and it is under 1 ULP on every float of [0, 1]."""
    from evo.core.ir import Builder, to_dict
    from evo.evolution.checks import check_program
    from evo.runs.front import Front
    from evo.runs.member import Member
    from evo.verification.fused import verify_program

    p64 = [0.12837916564, -0.37612638, 0.11283603, -0.0268544, 0.0051892, -0.00080179, 7.8745e-05]
    b = Builder()
    u = b.emit("mul", 0, 0)
    stale = b.program(b.emit("fma", 0, b.horner([float(np.float32(c)) for c in p64], u), 0))
    cfg = SearchConfig(target="erf", max_evals=100, seed=0, islands=1)
    s = local_search(cfg)
    s._seed()
    m = Member(99_999, stale, float(stale.n_ops), s.scorer.score(stale, "train"), s._seed_member.id, "insert", 0)
    m.validation = s.scorer.score(stale, "validation")
    s.state.islands[0].population.append(m)
    s.state.front = Front([*s.front, m])
    check = check_program(m.id, to_dict(stale), s.target, s.platform)
    assert check.result["max_ulp"] > 1.1 and check.result["max_ulp"] > m.error + 0.05
    s._take_checks([check])
    assert m.error == check.result["max_ulp"]
    for r in s.evaluator.poll():
        s._add(r)
    refits = [a for a in s.state.members().values() if a.mutation == "refit"]
    assert [a.parent for a in refits] == [m.id]
    refit = refits[0].program
    assert [i.op for i in refit.instrs] == [i.op for i in stale.instrs] and refit.constants.tolist() != \
        stale.constants.tolist()
    assert verify_program(refit, s.target).max_ulp < 1.0
