"""Distributed evaluation on a real local Ray (no mocks): a two-node cluster on this
machine (ray.cluster_utils.Cluster) shared by the module, plus `evo search`
subprocesses that start their own embedded Ray or join the cluster by address."""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402
from support import spec_for  # noqa: E402

import evo  # noqa: E402
from evo.core.ir import Program, to_dict  # noqa: E402
from evo.core.pareto import dominates  # noqa: E402
from evo.errors import EvoError  # noqa: E402
from evo.evolution.config import SearchConfig  # noqa: E402
from evo.evolution.distributed import (  # noqa: E402
    PER_WORKER,
    RayEvaluator,
    check_versions,
    fingerprint,
)
from evo.evolution.evaluators import LocalEvaluator  # noqa: E402
from evo.evolution.loop import Search
from evo.evolution.worker import Task  # noqa: E402
from evo.runs.store import RunStore  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes of one CPU each on this machine; this process is the driver."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.pop("RAY_ADDRESS", None)
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    ray.init(address=c.address, logging_level=logging.ERROR, log_to_driver=False, namespace="evo-tests")
    yield c
    ray.shutdown()
    c.shutdown()


def run_search(config: SearchConfig, evaluator, path: Path | None = None, on_progress=None) -> Search:
    store = RunStore.create(path, config) if path else None
    s = Search(config, evaluator.spec.target, evaluator, store, on_progress)
    try:
        s.run()
    finally:
        evaluator.close()
        if store:
            store.close()
    return s


def evals_of(run: Path) -> list[dict]:
    return [e for e in RunStore(run).read_events() if e["event"] == "eval"]


def cli(evo_cmd, *args, timeout=240, env=None) -> subprocess.CompletedProcess:
    """`evo ARGS` in a subprocess, $RAY_ADDRESS only as given in env."""
    full = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | (env or {})
    return subprocess.run([*evo_cmd, *args], capture_output=True, text=True, timeout=timeout, env=full)


# -- (a) a short search on an embedded local Ray with 2 workers --------------------------------------
def test_embedded_ray_search_with_two_workers(tmp_path, evo_cmd):
    r = cli(evo_cmd, "search", "exp2", "--evals", "240", "--workers", "2", "--name", "a", "--out", str(tmp_path),
            "--verify-below", "0", "-q")
    assert r.returncode == 0, r.stderr
    run = tmp_path / "a"
    members = json.loads((run / "front.json").read_text())["members"]
    assert members and [m["cost"] for m in members] == sorted(m["cost"] for m in members)
    # the front is over each member's best known error (train, or validation where larger)
    pts = [(m["error"], m["cost"]) for m in members]
    assert all(isinstance(e, float) and e >= 0 for e, _ in pts)
    assert all(m["error"] == max(m["train"]["max_ulp"], m["validation"]["max_ulp"]) for m in members)
    assert not any(dominates(p, q) for p in pts for q in pts), "the front holds a dominated member"
    assert min(e for e, _ in pts) < 1e6  # it did improve on f(x) = x (8.4e6 ULP)
    ev = evals_of(run)
    assert len(ev) == 240 and len({e["id"] for e in ev}) == 240
    assert len({e["worker"] for e in ev}) == 2  # two actor processes, not the driver


# -- (b) --deterministic: the same front for 0, 1 and 2 workers ---------------------------------------
def test_deterministic_front_is_identical_for_any_number_of_workers(cluster, tmp_path):
    fronts = {}
    for workers in (0, 1, 2):
        # 400 evaluations: 100 per island, enough for a front of >= 3 members for every seed tried (0-7)
        config = SearchConfig(target="exp2", max_evals=400, seed=4, workers=workers, deterministic=True,
                              verify_below=0)
        spec = spec_for(config)
        ev = LocalEvaluator(spec, config.batch_size) if workers == 0 else \
            RayEvaluator(spec, workers=workers, batch_size=config.batch_size)
        s = run_search(config, ev, tmp_path / f"w{workers}")
        assert s.stats.evals == 400
        members = json.loads((tmp_path / f"w{workers}" / "front.json").read_text())["members"]
        fronts[workers] = [(m["id"], m["program"], m["train_max"], m["max_ulp"]) for m in members]
    assert len(fronts[0]) >= 3
    assert fronts[1] == fronts[0] and fronts[2] == fronts[0]


# -- (c) a worker process killed mid-run; a node removed mid-run --------------------------------------
def test_killed_worker_process_loses_no_result(cluster, tmp_path):
    config = SearchConfig(target="exp2", max_evals=500, seed=2, workers=2)
    ev = RayEvaluator(spec_for(config), workers=2, batch_size=config.batch_size)
    killed: dict = {}

    def kill_one(s: Search) -> None:
        if killed or s.stats.evals < 80:
            return
        busy = [w for w in ev.worker_info() if w["inflight"] == 2]  # a batch running, one queued behind it
        if busy:
            os.kill(busy[0]["pid"], signal.SIGKILL)
            killed.update(busy[0], at=s.stats.evals, before={w["name"] for w in ev.worker_info()})

    store = RunStore.create(tmp_path / "c", config)
    s = Search(config, ev.spec.target, ev, store, kill_one)
    try:
        s.run()
        store.close()
        assert killed and killed["at"] < 450, "the kill must land mid-run"
        ev_ = evals_of(tmp_path / "c")
        ids = [e["id"] for e in ev_]
        assert len(ids) == len(set(ids)) == 500 == s.stats.evals  # every result exactly once, none lost
        assert not any(e.get("failure") for e in ev_)
        assert ev.redispatched >= 1 and ev.replaced >= 1
        workers = {e["worker"] for e in ev_}
        assert killed["name"] in workers
        # The replacement works. The survivor may have finished the run before it was up:
        # then feed batches until one comes back from it.
        task = Task(10_000, to_dict(Program.identity()), None, "probe")
        new, deadline = workers - killed["before"], time.monotonic() + 120
        while not new and time.monotonic() < deadline:
            for _ in range(2 * PER_WORKER):
                ev.submit([task])
            while ev.in_flight():
                new |= {r.worker for r in ev.poll()} - killed["before"]
        assert new and killed["pid"] not in {w["pid"] for w in ev.worker_info()}
    finally:
        ev.close()


def test_removed_node_loses_no_result(cluster, tmp_path):
    node = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    config = SearchConfig(target="exp2", max_evals=500, seed=3, workers=3)
    ev = RayEvaluator(spec_for(config), workers=3, batch_size=config.batch_size)
    on_node = [w for w in ev.worker_info() if w["node"] == node.node_id]
    assert on_node, "an actor should run on the node to be removed"
    removed: dict = {}

    def remove(s: Search) -> None:
        if not removed and s.stats.evals >= 80:
            removed["at"] = s.stats.evals
            cluster.remove_node(node, allow_graceful=False)

    s = run_search(config, ev, tmp_path / "n", remove)
    assert removed and removed["at"] < 450
    ids = [e["id"] for e in evals_of(tmp_path / "n")]
    assert len(ids) == len(set(ids)) == 500 == s.stats.evals


# -- (d) the driver killed mid-run, resumed onto Ray ----------------------------------------------------
def test_killed_driver_resumes_onto_ray(cluster, tmp_path, evo_cmd):
    run = tmp_path / "d"
    args = ["search", "exp2", "--evals", "900", "--workers", "2", "--address", cluster.address, "--name", "d",
            "--out", str(tmp_path), "--checkpoint-every", "0.5", "--verify-below", "0", "-q"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.Popen([*evo_cmd, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    ck = run / "checkpoint.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if ck.exists() and json.loads(ck.read_text())["state"]["stats"]["evals"] >= 150:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = json.loads(ck.read_text())["state"]["stats"]["evals"]
    assert 150 <= saved < 900, "the kill must land mid-run"
    r = cli(evo_cmd, "search", "--resume", str(run), "-q")
    assert r.returncode == 0, r.stderr
    events = RunStore(run).read_events()
    i = max(k for k, e in enumerate(events) if e["event"] == "resume")
    assert events[i]["evals"] == saved
    after = [e for e in events[i:] if e["event"] == "eval"]
    assert len(after) == 900 - saved and len({e["id"] for e in after}) == len(after)
    assert len({e["worker"] for e in after}) == 2  # evaluated by the 2 Ray actors again
    assert events[-1]["event"] == "end" and events[-1]["evals"] == 900


# -- (e) a wrong address: one line, exit code 2, well within 30 s ---------------------------------------
def _server(reply: bytes | None) -> tuple[socket.socket, int]:
    """A local TCP server that is not Ray: it answers `reply` (or nothing) to every connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve() -> None:
        held = []
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            if reply is not None:
                conn.sendall(reply)
                conn.close()
            else:
                held.append(conn)  # say nothing, hang up never

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def test_wrong_address_fails_fast_with_one_line(tmp_path, evo_cmd):
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    closed_port = free.getsockname()[1]
    free.close()
    http, http_port = _server(b"HTTP/1.0 400 Bad Request\r\n\r\n")
    mute, mute_port = _server(None)
    cases = [("--address", f"127.0.0.1:{closed_port}", "cannot reach Ray cluster"),
             ("RAY_ADDRESS", f"127.0.0.1:{http_port}", "is not a Ray cluster"),
             ("--address", f"127.0.0.1:{mute_port}", "no answer within"),
             ("--address", "no-port-here", "is not HOST:PORT")]
    try:
        for i, (how, address, expect) in enumerate(cases):
            args = ["search", "exp2", "--evals", "20", "--name", f"e{i}", "--out", str(tmp_path), "-q"]
            env = {"RAY_ADDRESS": address} if how == "RAY_ADDRESS" else {}
            if how == "--address":
                args += ["--address", address]
            t0 = time.monotonic()
            r = cli(evo_cmd, *args, env=env, timeout=60)
            took = time.monotonic() - t0
            assert r.returncode == 2, (address, r.stderr)
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("evo: error: ") and expect in lines[0], r.stderr
            assert took < 30, f"{address}: {took:.0f} s"
            assert not (tmp_path / f"e{i}").exists(), "a run that never started leaves no directory behind"
    finally:
        http.close()
        mute.close()


# -- (f) package version mismatch between driver and workers -----------------------------------------------
def test_version_check_compares_version_and_source():
    mine = fingerprint()
    assert mine["version"] == evo.__version__ and len(mine["source"]) == 12
    check_versions(mine, dict(mine))  # the same: fine
    for fake in ({**mine, "version": "0.0.1"}, {**mine, "source": "0123456789ab"}):
        with pytest.raises(EvoError) as e:
            check_versions(mine, fake, "Ray worker w:1")
        msg = str(e.value)
        assert "\n" not in msg and "Ray worker w:1" in msg and fake["version"] in msg and mine["version"] in msg


def test_version_mismatch_is_detected_at_start(cluster, monkeypatch):
    # The driver believes it runs another evo; the actors (other processes) report the real one.
    import evo.evolution.distributed as dist

    real = fingerprint()
    monkeypatch.setattr(dist, "fingerprint", lambda: {**real, "version": "9.9.9"})
    config = SearchConfig(target="exp2", max_evals=10, workers=1)
    t0 = time.monotonic()
    with pytest.raises(EvoError, match="runs evo " + re.escape(real["version"])) as e:
        RayEvaluator(spec_for(config), workers=1)
    assert "9.9.9" in str(e.value) and "\n" not in str(e.value) and time.monotonic() - t0 < 30


# -- background checks: a finished check stays until it is taken ------------------------------------
@pytest.mark.parametrize("kind", ["thread", "ray"])
def test_checker_holds_a_finished_check_until_it_is_taken(cluster, kind):
    """busy() stays true until done() has taken the check: a check that finished between the
    loop's done() and its next submit() crashed `evo search exp2 --budget 3m` on Ray
    ("one check at a time") and, in the thread checker, was silently replaced."""
    from evo.core.ir import CONST, Instr, X
    from evo.evolution.checks import ThreadChecker
    from evo.evolution.distributed import RayChecker
    from evo.platforms import FLOAT32
    from targets import get_target

    target = get_target("exp2", (0.0, 2.0 ** -10))  # a small interval: the check takes milliseconds
    checker = ThreadChecker(target, FLOAT32) if kind == "thread" else RayChecker(target, FLOAT32)
    p = Program((Instr(X), Instr(CONST, value=1.0), Instr("add", (0, 1))), 2)
    try:
        assert not checker.busy()
        checker.submit(7, p)
        time.sleep(3)  # long enough for the check to finish
        assert checker.busy()  # finished, not yet taken: no second submit
        with pytest.raises(AssertionError, match="one check at a time"):
            checker.submit(8, p)
        got = checker.wait()
        assert [c.member for c in got] == [7] and got[0].result["exhaustive"] is True
        assert not checker.busy() and checker.done() == []
    finally:
        checker.close()
