"""The documented cluster path, for real: `ray start --head` plus a second node joined with
`ray start --address` (each its own --temp-dir and ports), then `evo search --address` and
`RAY_ADDRESS=... evo search` as subprocesses, an evo actor killed mid-run.

Token authentication is on, the way Ray >= 2.59 sets it up by itself: RAY_AUTH_MODE unset and a
token found (here in $RAY_AUTH_TOKEN_PATH, so the user's ~/.ray/auth_token is never touched), so
`ray start --head` enables it and `ray.init(address=...)` alone would be refused (issue 14).

Only the processes this module started are stopped: their process groups and the Ray workers
started under them (never `ray stop`, which stops every Ray on the machine)."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

pytest.importorskip("ray")

_NEXT_TO_PYTHON = Path(sys.executable).parent / "ray"
RAY = str(_NEXT_TO_PYTHON) if _NEXT_TO_PYTHON.exists() else shutil.which("ray")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not RAY or not Path("/proc/self/stat").exists(), reason="needs the ray CLI and /proc")]
AUTH_VARS = ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def free_ports(n: int) -> list[int]:
    """n distinct ports free right now (held open together, so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) of every process now."""
    out = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(p.name)] = (int(fields[1]), int(fields[2]))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class Node:
    proc: subprocess.Popen
    temp_dir: str
    log: Path

    def members(self, table: dict[int, tuple[int, int]]) -> set[int]:
        """The node's processes: its process group, and their children (Ray workers start their own sessions)."""
        found = {pid for pid, (_, pgid) in table.items() if pgid == self.proc.pid}
        while True:
            more = found | {pid for pid, (ppid, _) in table.items() if ppid in found}
            if more == found:
                return found
            found = more

    def raylet(self, table: dict[int, tuple[int, int]]) -> int:
        pids = [p for p in self.members(table) if cmdline(p).split(" ", 1)[0].endswith("/raylet")]
        assert len(pids) == 1, f"raylet of {self.temp_dir}: {pids}"
        return pids[0]


@dataclass
class RayCluster:
    address: str
    env: dict
    nodes: list[Node] = field(default_factory=list)

    def actors(self) -> dict[int, int]:
        """pid -> node index of every live evo actor process of this cluster."""
        table = proc_table()
        raylets = {n.raylet(table): i for i, n in enumerate(self.nodes)}
        return {pid: raylets[ppid] for pid, (ppid, _) in table.items()
                if ppid in raylets and cmdline(pid).startswith("ray::EvalActor")}


def launch_node(args: list[str], env: dict, root: Path, name: str) -> Node:
    """`ray start --block ARGS` in a new session (its process group is the node's)."""
    temp_dir = tempfile.mkdtemp(prefix="r", dir="/tmp")  # short: Ray's socket paths must stay < 107 chars
    log = root / f"{name}.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([RAY, "start", "--block", "--temp-dir", temp_dir, "--disable-usage-stats", *args],
                                stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return Node(proc, temp_dir, log)


def wait_started(node: Node, ready: Callable[[], bool] = lambda: False) -> None:
    """Until `ray start` says the node runs (it has registered with the GCS by then) or `ready()` is true."""
    deadline = time.monotonic() + 90
    while b"Ray runtime started" not in node.log.read_bytes() and not ready():
        if node.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"ray start failed:\n{node.log.read_text()[-3000:]}")
        time.sleep(0.1)


def gcs_up(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def stop_nodes(nodes: list[Node]) -> None:
    """SIGKILL this module's Ray processes only: each node's process group and the workers under it."""
    table = proc_table()
    pids = set().union(*(n.members(table) for n in nodes))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for n in nodes:
        n.proc.wait(timeout=30)
        shutil.rmtree(n.temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head (1 CPU) and a worker node (1 CPU) on this machine, token authentication on."""
    root = tmp_path_factory.mktemp("cluster")
    token = root / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARS}
    env |= {"RAY_AUTH_TOKEN_PATH": str(token), "RAY_USAGE_STATS_ENABLED": "0"}
    # Every port a node would otherwise take by default (fixed defaults collide with other Rays here).
    gcs, dash, *p = free_ports(12)
    head_ports = ["--dashboard-port", dash, "--dashboard-agent-listen-port", p[0], "--dashboard-agent-grpc-port",
                  p[1], "--metrics-export-port", p[2], "--runtime-env-agent-port", p[3], "--node-manager-port", p[4]]
    worker_ports = ["--dashboard-agent-listen-port", p[5], "--dashboard-agent-grpc-port", p[6],
                    "--metrics-export-port", p[7], "--runtime-env-agent-port", p[8], "--node-manager-port", p[9]]
    address = f"127.0.0.1:{gcs}"
    nodes: list[Node] = []
    try:
        # RAY_AUTH_MODE unset: `ray start --head` turns token authentication on as it finds the token.
        nodes.append(launch_node(["--head", "--port", str(gcs), "--num-cpus", "1", "--include-dashboard=false",
                                  *map(str, head_ports)], env, root, "head"))
        wait_started(nodes[0], lambda: gcs_up(gcs))  # the second node may start as soon as the GCS answers
        # A joining node needs RAY_AUTH_MODE=token (docs/distributed.md): `ray start --address` does not guess.
        nodes.append(launch_node(["--address", address, "--num-cpus", "1", *map(str, worker_ports)],
                                 env | {"RAY_AUTH_MODE": "token"}, root, "worker"))
        for node in nodes:
            wait_started(node)
        yield RayCluster(address, env, nodes)
    finally:
        stop_nodes(nodes)


def evals_of(run: Path) -> list[dict]:
    return [json.loads(ln) for ln in (run / "events.jsonl").read_text().splitlines()
            if ln.strip() and json.loads(ln)["event"] == "eval"]


def test_search_by_address_loses_nothing_when_an_actor_is_killed(cluster, tmp_path, evo_cmd):
    n = 300
    run = tmp_path / "k"
    args = ["search", "exp2", "--address", cluster.address, "--workers", "2", "--evals", str(n), "--seed", "1",
            "--name", "k", "--out", str(tmp_path), "--verify-below", "0", "-q"]
    proc = subprocess.Popen([*evo_cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cluster.env)  # no RAY_AUTH_MODE: evo finds that the cluster wants the token
    killed: dict = {}
    try:
        deadline = time.monotonic() + 150
        while proc.poll() is None and not killed and time.monotonic() < deadline:
            done = len(evals_of(run)) if (run / "events.jsonl").exists() else 0
            actors = cluster.actors()
            if done >= 60 and len(actors) == 2:
                assert sorted(actors.values()) == [0, 1], "one actor per node (1 CPU each)"
                pid = min(actors)
                os.kill(pid, signal.SIGKILL)
                killed.update(pid=pid, at=done)
            time.sleep(0.1)
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert killed and killed["at"] < n, f"the kill must land mid-run: {killed}"
    ev = evals_of(run)
    ids = [e["id"] for e in ev]
    assert len(ids) == len(set(ids)) == n, "every evaluation exactly once"
    assert not any(e.get("failure") for e in ev)
    name = f"{socket.gethostname()}:{killed['pid']}"
    assert name in {e["worker"] for e in ev}, "the killed actor had been working"
    end = json.loads((run / "events.jsonl").read_text().splitlines()[-1])
    assert end["event"] == "end" and end["evals"] == n


def test_search_by_ray_address_variable(cluster, tmp_path, evo_cmd):
    r = subprocess.run([*evo_cmd, "search", "exp2", "--evals", "80", "--workers", "2", "--name", "env", "--out",
                        str(tmp_path), "--verify-below", "0", "-q"], capture_output=True, text=True, timeout=150,
                       env=cluster.env | {"RAY_ADDRESS": cluster.address})
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "env" / "config.json").read_text())["address"] == cluster.address
    ev = evals_of(tmp_path / "env")
    assert len(ev) == len({e["id"] for e in ev}) == 80
    assert len({e["worker"] for e in ev}) == 2


def test_wrong_token_is_one_line(cluster, tmp_path, evo_cmd):
    # Also shows that the head really turned token authentication on by itself.
    r = subprocess.run([*evo_cmd, "search", "exp2", "--evals", "10", "--address", cluster.address, "--name", "w",
                        "--out", str(tmp_path), "-q"], capture_output=True, text=True, timeout=60,
                       env=cluster.env | {"RAY_AUTH_TOKEN": "not-the-token"})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr == (f"evo: error: the Ray cluster at {cluster.address} refused this machine's auth token "
                        "($RAY_AUTH_TOKEN): it must be the head's (`ray get-auth-token` on the head prints it; "
                        "see docs/distributed.md, 'Token authentication')\n")
