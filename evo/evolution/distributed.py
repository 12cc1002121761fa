"""Evaluation on Ray actors: an embedded local Ray by default, or an existing
cluster by address. The driver owns the population; each actor holds one
`Worker` (ground truth loaded once) and evaluates batches of children.

Code on the workers: the installed `evo` package (no runtime_env upload). The
embedded Ray runs workers with this interpreter, so they import exactly this
code; on a cluster every node must have the same evo installed, which is
checked at start (version and a hash of the source, see `fingerprint`).

Faults: every batch is tracked by exactly one live ObjectRef. When a ref fails
(actor process killed, node lost), its actor is dropped and replaced, and the
batch goes back to the queue for another actor, so each submitted task comes
back exactly once.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..core.ir import from_dict
from ..errors import EvoError
from .worker import EvalSpec, Result, Task, Worker

PER_WORKER = 2            # batches in flight per actor: one running, one queued behind it
CONNECT_TIMEOUT = 25.0    # seconds to connect to a cluster (the promise is an error within 30 s)
START_TIMEOUT = 60.0      # seconds for the first actor to come up
MAX_ATTEMPTS = 3          # a batch whose actor dies this often scores worst instead (a poison batch)
PACKAGES = ("evo", "primitives", "targets")


# -- versions ---------------------------------------------------------------------------
def fingerprint() -> dict:
    """evo's version and a hash of the source of evo, primitives and targets as installed now."""
    import importlib.util

    from ..core.version import __version__

    h = hashlib.sha256()
    for pkg in PACKAGES:
        root = Path(importlib.util.find_spec(pkg).origin).parent
        for f in sorted(root.rglob("*.py")):
            h.update(f"{pkg}/{f.relative_to(root).as_posix()}\0".encode())
            h.update(f.read_bytes())
    return {"version": __version__, "source": h.hexdigest()[:12]}


def check_versions(driver: dict, worker: dict, where: str = "a Ray worker") -> None:
    """Raise a one-line EvoError unless the worker runs the driver's evo (version and source)."""
    if driver.get("version") != worker.get("version") or driver.get("source") != worker.get("source"):
        raise EvoError(f"{where} runs evo {worker.get('version')} (source {worker.get('source')}) but this driver "
                       f"runs evo {driver.get('version')} (source {driver.get('source')}); "
                       "install the same evo on every node (see docs/distributed.md)")


# -- connecting ----------------------------------------------------------------------------
def probe_address(address: str, timeout: float = 5.0) -> None:
    """Fail fast, in one line, unless `address` answers like a Ray head (a gRPC, i.e. HTTP/2, server).

    ray.init on a dead or foreign address retries for minutes; this check takes milliseconds."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise EvoError(f"Ray address {address!r} is not HOST:PORT (e.g. 10.0.0.1:6379)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as s:
            s.settimeout(timeout)
            # HTTP/2 client preface + empty SETTINGS; a gRPC server answers with a SETTINGS frame (type 4).
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            head = b""
            while len(head) < 9:
                chunk = s.recv(9 - len(head))
                if not chunk:
                    break
                head += chunk
    except socket.gaierror:
        raise EvoError(f"cannot reach Ray cluster at {address}: unknown host {host!r}") from None
    except socket.timeout:
        raise EvoError(f"cannot reach Ray cluster at {address}: no answer within {timeout:g} s") from None
    except OSError as e:
        raise EvoError(f"cannot reach Ray cluster at {address}: {e.strerror or e}") from None
    if len(head) < 9 or head[3] != 4:
        raise EvoError(f"{address} is not a Ray cluster (it does not answer like a Ray head node; "
                       "start one with: ray start --head --port 6379)")


def init_ray(address: str | None, num_cpus: int | None) -> None:
    """ray.init, embedded or by address, bounded in time and quiet."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False, namespace="evo")
    if not address or address == "local":
        # An embedded Ray: "local" so that a cluster already running on this machine is not joined by accident.
        ray.init(address="local", num_cpus=num_cpus, object_store_memory=256 << 20, **quiet)
        return
    t0 = time.monotonic()
    probe_address(address)
    box: dict = {}

    def connect() -> None:
        try:
            match_cluster_auth(address)
            ray.init(address=address, **quiet)
        except BaseException as e:  # reported by the caller's thread
            box["error"] = e

    # ray.init has no timeout of its own: run it aside and give up on time (the CLI then exits).
    # Its C++ core logs each retry on fd 2: hold that back and quote it only if connecting fails.
    th = threading.Thread(target=connect, name="evo-ray-connect", daemon=True)
    with _held_stderr() as held:
        th.start()
        th.join(max(1.0, CONNECT_TIMEOUT - (time.monotonic() - t0)))
    why = _ray_log_reason(held.getvalue())
    if th.is_alive():
        raise EvoError(f"cannot connect to Ray cluster at {address}: no answer within {CONNECT_TIMEOUT:g} s"
                       + (f" ({why})" if why else ""))
    if "error" in box:
        e = box["error"]
        if isinstance(e, EvoError):  # already one line that says what to do
            raise e
        text = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise EvoError(f"cannot connect to Ray cluster at {address}: {text}" + (f" ({why})" if why else ""))


# Ray >= 2.52 has token authentication (RAY_AUTH_MODE=token; the token in $RAY_AUTH_TOKEN, the file
# $RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token). Since 2.59 `ray start --head` turns it on by itself when
# ~/.ray/auth_token exists (any earlier local ray.init() writes one), but ray.init(address=...) never does,
# so a driver on the head's own machine is refused. A driver must send the token exactly when the cluster
# wants one: with Ray 2.60, a token-mode driver on an open cluster sees its actors die as they start.
AUTH_HELP = "docs/distributed.md, 'Token authentication'"


def match_cluster_auth(address: str) -> str:
    """Ask the cluster's GCS whether it wants a token and set this process's Ray auth mode to match,
    the way `ray start --head` picks up ~/.ray/auth_token. Returns "token", "none", or "" (not checked).

    An explicit RAY_AUTH_MODE is kept when it fits the cluster; when it does not, or the token is
    missing or wrong, a one-line EvoError says what to set."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config, GcsClient
        from ray.exceptions import AuthenticationError
    except ImportError:  # a Ray without token authentication
        return ""
    explicit = os.environ.get("RAY_AUTH_MODE")
    wanted = (explicit or "").lower()
    # "auto" (Ray picks up the token itself there), ray:// (Ray Client), or a mode evo does not know (k8s...)
    if address == "auto" or "://" in address or wanted not in ("", "token", "disabled"):
        return ""
    loader = AuthenticationTokenLoader.instance()

    def set_mode(mode: str | None) -> None:
        if mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = mode
        Config.initialize("")  # RayConfig caches the mode: re-read it (as Ray's own _enable_token_auth does)
        loader.reset_cache()

    def accepted() -> bool:
        try:
            GcsClient(address=address)  # asks for the cluster ID, the first call of every Ray client
        except AuthenticationError:
            return False
        return True

    try:
        if wanted == "token":
            set_mode("disabled")  # ask without a token first, to learn what the cluster wants
        if accepted():  # an open cluster
            if wanted == "token":
                raise EvoError(f"the Ray cluster at {address} does not use token authentication but "
                               f"RAY_AUTH_MODE=token is set here; unset RAY_AUTH_MODE (see {AUTH_HELP})")
            return "none"
        if wanted == "disabled":
            raise EvoError(f"the Ray cluster at {address} requires its auth token but RAY_AUTH_MODE=disabled "
                           f"is set here; unset RAY_AUTH_MODE (see {AUTH_HELP})")
        if not loader.has_token(ignore_auth_mode=True):
            raise EvoError(f"the Ray cluster at {address} requires its auth token and this machine has none: "
                           "copy the head's ~/.ray/auth_token here (`ray get-auth-token` on the head prints it) "
                           f"or set RAY_AUTH_TOKEN (see {AUTH_HELP})")
        set_mode("token")
        if not accepted():
            raise EvoError(f"the Ray cluster at {address} refused this machine's auth token ({_token_source()}): "
                           "it must be the head's (`ray get-auth-token` on the head prints it; "
                           f"see {AUTH_HELP})")
        return "token"
    except BaseException as e:
        set_mode(explicit)  # as it was
        if isinstance(e, AuthenticationError):  # e.g. $RAY_AUTH_TOKEN_PATH names an unreadable file
            raise EvoError(f"Ray auth token: {_first_line(e).split('. ')[0]}") from None
        raise


def _token_source() -> str:
    """Where Ray reads the token from, in its order of precedence."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "$RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return os.environ["RAY_AUTH_TOKEN_PATH"]
    return "~/.ray/auth_token"


class _Held:
    def __init__(self) -> None:
        self.text = ""

    def getvalue(self) -> str:
        return self.text


@contextmanager
def _held_stderr() -> Iterator[_Held]:
    """Send file descriptor 2 to a temporary file for a while (native code writes there)."""
    held = _Held()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2: nothing to hold back
        yield held
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield held
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            held.text = tmp.read().decode(errors="replace")


def _ray_log_reason(text: str) -> str:
    """The message of the last warning/error line of Ray's native log ('[date L pid tid] file:line: msg')."""
    lines = [ln.split("] ", 1)[-1].strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


# -- the actor -------------------------------------------------------------------------------
class EvalActor:
    """One Ray actor = one worker process holding one Worker."""

    def __init__(self, spec: EvalSpec) -> None:
        self.worker = Worker(spec)
        self.fingerprint = fingerprint()  # the code this process imported (near enough: just now)

    def info(self) -> dict:
        import ray

        return {"name": self.worker.name, "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(),
                **self.fingerprint}

    def evaluate_batch(self, tasks: list[Task]) -> list[Result]:
        return self.worker.evaluate_batch(tasks)


@dataclass
class _Slot:
    handle: object
    info: dict = field(default_factory=dict)
    inflight: int = 0
    alive: bool = True


@dataclass
class _Batch:
    tasks: list[Task]
    attempts: int = 0
    slot: int = -1


def lost_results(tasks: list[Task], why: str) -> list[Result]:
    """Worst-score results for tasks no worker could finish (so none goes missing)."""
    return [Result(id=t.id, program=t.program, parent=t.parent, mutation=t.mutation, error=float("inf"),
                   mean=float("inf"), cost=float(from_dict(t.program).n_ops), fit_seconds=0.0, seconds=0.0,
                   worker="lost", failure=why) for t in tasks]


class RayEvaluator:
    """Evaluator protocol on a pool of Ray actors, asynchronous, fault tolerant."""

    def __init__(self, spec: EvalSpec, workers: int | None = None, address: str | None = None,
                 batch_size: int = 8) -> None:
        import ray

        self.spec = spec
        self.batch_size = batch_size
        self._owns_ray = False
        if not ray.is_initialized():
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            init_ray(address, max(cores, workers or 0) if not address or address == "local" else None)
            self._owns_ray = True
        if not workers:  # None (or 0 with an address): one actor per CPU of the cluster
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.workers = workers
        self._fingerprint = fingerprint()
        self._actor_cls = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(EvalActor)
        self._slots: dict[int, _Slot] = {}
        self._starting: dict[object, int] = {}     # info ref -> slot key
        self._batches: dict[object, _Batch] = {}   # result ref -> batch
        self._queue: deque[_Batch] = deque()       # batches waiting for an actor
        self._next_key = 0
        self.replaced = 0        # actors started to replace lost ones
        self.redispatched = 0    # batches sent again after their actor was lost
        self.refused = 0         # actors that failed to start or ran other code
        self._running = False    # past the start: a version mismatch refuses the actor instead of failing
        self.active: int | None = None  # give work to at most this many actors (bench scaling: 1 vs 2 of one pool)
        try:
            for _ in range(workers):
                self._start_actor()
            self._wait_started()
            self._running = True
        except BaseException:
            self.close()
            raise

    # -- actors -----------------------------------------------------------------------
    def _start_actor(self) -> None:
        key, self._next_key = self._next_key, self._next_key + 1
        handle = self._actor_cls.options(scheduling_strategy="SPREAD").remote(self.spec)
        self._slots[key] = _Slot(handle, alive=False)
        self._starting[handle.info.remote()] = key

    def _started(self, ref: object) -> None:
        """An actor answered (or failed to start): check its evo, then let it work.

        At start a mismatch is an error; a replacement with other code (the package was
        changed under a running search) is turned away, so results never mix two versions."""
        import ray

        key = self._starting.pop(ref)
        slot = self._slots[key]
        try:
            slot.info = ray.get(ref)
            check_versions(self._fingerprint, slot.info, f"Ray worker {slot.info.get('name')}")
        except (ray.exceptions.RayError, EvoError) as e:
            self._slots.pop(key)
            try:
                ray.kill(slot.handle, no_restart=True)
            except Exception:
                pass
            if isinstance(e, EvoError) and not self._running:
                raise
            self.refused += 1
            if not self.workers_alive() and not self._starting:
                raise EvoError(f"no Ray worker could start: {_first_line(e)}") from None
            return
        slot.alive = True

    def _wait_started(self) -> None:
        """Wait for every actor, or, after a while, go on with those that came up."""
        import ray

        t0 = time.monotonic()
        while self._starting:
            waited = time.monotonic() - t0
            if waited > START_TIMEOUT or (self.workers_alive() and waited > 10.0):
                break
            ready, _ = ray.wait(list(self._starting), num_returns=1, timeout=1.0)
            for ref in ready:
                self._started(ref)
        if not self.workers_alive():
            cpus = ray.available_resources().get("CPU", 0)
            raise EvoError(f"no Ray worker started within {START_TIMEOUT:g} s ({cpus:g} CPUs free in the cluster)")

    def _lose(self, key: int) -> None:
        """An actor failed: drop it and start a replacement (bounded, in case every start dies)."""
        import ray

        slot = self._slots.get(key)
        if slot is None or not slot.alive:
            return
        slot.alive = False
        try:
            ray.kill(slot.handle, no_restart=True)  # it may be hung rather than dead
        except Exception:
            pass
        if self.replaced < 4 * self.workers + 4:
            self.replaced += 1
            self._start_actor()

    # -- the Evaluator protocol ------------------------------------------------------------
    @property
    def capacity(self) -> int:
        return PER_WORKER * max(1, min(self.workers_alive(), self.active or self.workers_alive()))

    def submit(self, tasks: list[Task]) -> None:
        self._queue.append(_Batch(list(tasks)))
        self._dispatch()

    def in_flight(self) -> int:
        return len(self._batches) + len(self._queue)

    def workers_alive(self) -> int:
        return sum(s.alive for s in self._slots.values())

    def worker_info(self) -> list[dict]:
        """name, pid, node and batches in flight of each live actor (tests kill workers by these pids)."""
        return [dict(s.info, inflight=s.inflight) for s in self._slots.values() if s.alive]

    def _dispatch(self) -> None:
        """Queued batches go to the least busy live actors, PER_WORKER at most each."""
        while self._queue:
            alive = [(k, s) for k, s in self._slots.items() if s.alive][:self.active]
            free = [(s.inflight, k) for k, s in alive if s.inflight < PER_WORKER]
            if not free:
                return
            _, key = min(free)
            b = self._queue.popleft()
            b.slot = key
            self._slots[key].inflight += 1
            self._batches[self._slots[key].handle.evaluate_batch.remote(b.tasks)] = b

    def poll(self) -> list[Result]:
        """Block until at least one batch is back; failed batches go back to the queue."""
        import ray

        out: list[Result] = []
        back = 0
        idle_since = time.monotonic()
        while back == 0 and self.in_flight():
            self._dispatch()
            if not self.workers_alive():  # queued work and no live actor: start one, wait a while for it
                if time.monotonic() - idle_since > START_TIMEOUT:
                    raise EvoError(f"all Ray workers are lost ({self.replaced} replaced); see `ray status`")
                if not self._starting and self.replaced < 4 * self.workers + 4:
                    self.replaced += 1
                    self._start_actor()
            refs = [*self._batches, *self._starting]
            if not refs:
                raise EvoError(f"all Ray workers are lost ({self.replaced} replaced); see `ray status`")
            ready, _ = ray.wait(refs, num_returns=1, timeout=1.0)
            if ready:  # take everything that is ready now, not just the first
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in ready:
                if ref in self._starting:
                    self._started(ref)
                    continue
                b = self._batches.pop(ref)
                slot = self._slots.get(b.slot)
                if slot is not None:
                    slot.inflight -= 1
                try:
                    out += ray.get(ref)
                    back += 1
                except ray.exceptions.RayError as e:
                    self._lose(b.slot)
                    b.attempts += 1
                    if b.attempts >= MAX_ATTEMPTS:
                        out += lost_results(b.tasks, f"worker lost {b.attempts} times: {_first_line(e)}")
                        back += 1
                    else:
                        self.redispatched += 1
                        self._queue.appendleft(b)
            if self.workers_alive():
                idle_since = time.monotonic()
        self._dispatch()
        return out

    def checker(self, target, platform) -> "RayChecker":
        """Exhaustive checks during the search run on the cluster, not in the driver."""
        return RayChecker(target, platform)

    def close(self) -> None:
        import ray

        if not ray.is_initialized():
            return
        for s in self._slots.values():
            try:
                ray.kill(s.handle, no_restart=True)
            except Exception:
                pass
        self._slots.clear()
        self._starting.clear()
        self._batches.clear()
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False


class RayChecker:
    """evo.evolution.checks.Checker on Ray: one check at a time, as a task of its own. It asks
    for no CPU (the evaluation actors hold them all): it shares a core for the seconds it runs."""

    def __init__(self, target, platform) -> None:
        import ray

        from .checks import check_program

        self.target, self.platform = target, platform
        self._task = ray.remote(num_cpus=0, max_retries=2)(check_program)
        self._ref = None
        self.failed = 0   # checks that raised (reported in the run's events by the caller)

    def busy(self) -> bool:
        # Until done() has taken it (asking Ray again here raced with done(): a check that
        # finished in between was neither taken nor in the way of the next submit)
        return self._ref is not None

    def submit(self, member_id: int, program) -> None:
        from ..core.ir import to_dict

        assert self._ref is None, "one check at a time"
        self._ref = self._task.remote(member_id, to_dict(program), self.target, self.platform, 1)

    def _take(self, timeout: float | None) -> list:
        import ray

        if self._ref is None or not ray.wait([self._ref], timeout=timeout)[0]:
            return []
        ref, self._ref = self._ref, None
        try:
            return [ray.get(ref)]
        except ray.exceptions.RayError:
            self.failed += 1  # a lost node or a failed cross-check: the member stays unchecked
            return []

    def done(self) -> list:
        return self._take(0)

    def wait(self) -> list:
        return self._take(None)

    def close(self) -> None:
        import ray

        if self._ref is not None and ray.is_initialized():
            ray.cancel(self._ref, force=True)
        self._ref = None


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    errs = [ln for ln in lines if "Error" in ln.split(":")[0]]  # the exception line of a remote traceback
    return (errs[-1] if errs else lines[0] if lines else type(e).__name__)[:200]
