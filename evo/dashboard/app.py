"""The dashboard's web application (Starlette): one static page and a read-only JSON API.

    GET /                         the page (runs list, run, member, compare views; hash-routed)
    GET /static/NAME              its script, style sheet and Plotly.js (basic build, vendored in static/vendor/)
    GET /api/info                 the runs directory, evo's version
    GET /api/runs                 one row per run directory
    GET /api/run?run=KEY          a run: front, progress, throughput, workers, checks, problems
    GET /api/baselines?run=KEY    classical baselines for the run's target ("computing" at first)
    GET /api/member?run=KEY&id=N  a front member: program, graph, errors, lineage, C and JAX code
    GET /api/curve?run=KEY&id=N   its error over ~3,000 sampled inputs of the interval
    GET /api/compare?run=A&run=B  several runs' fronts

Runs are named by key (see evo.dashboard.files): no request names a file.
"""
from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .assets import asset, page
from .baselines import in_child as baselines_in_child
from .files import RunsRoot
from .members import detail, error_curve, exports
from .runview import RunView

RESCAN_SECONDS = 1.0  # the runs directory is listed again at most this often
CACHED = 128          # exports and error curves kept (a live front changes often: old entries go)


def remember(cache: dict, key: tuple, make) -> Any:
    """cache[key], made once; the oldest entry leaves when the cache is full."""
    if key not in cache:
        value = make()
        if len(cache) >= CACHED:
            cache.pop(next(iter(cache)), None)
        cache[key] = value
    return cache[key]


def clean(o: Any) -> Any:
    """JSON has no inf or nan: inf becomes "inf" (as evo's own files write it), nan null."""
    if isinstance(o, float):
        if math.isnan(o):
            return None
        return o if math.isfinite(o) else ("inf" if o > 0 else "-inf")
    if isinstance(o, dict):
        return {str(k): clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [clean(v) for v in o]
    return o


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return super().render(clean(content))


def not_found(message: str) -> Json:
    return Json({"error": message}, status_code=404)


class Dashboard:
    """The runs directory's runs, their live summaries and the caches of slow figures."""

    def __init__(self, runs_dir: Path) -> None:
        self.root = RunsRoot(runs_dir)
        self.views: dict[str, RunView] = {}
        self.scanned = 0.0
        self.lock = threading.Lock()
        # Baselines are computed one target at a time, each in a child process (evo.dashboard.baselines).
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="evo-dashboard-baselines")
        self.baselines: dict[tuple, Future] = {}
        self.exports: dict[tuple, dict] = {}
        self.curves: dict[tuple, dict] = {}

    # -- runs ------------------------------------------------------------------------------
    def scan(self, force: bool = False) -> dict[str, RunView]:
        with self.lock:
            if force or time.monotonic() - self.scanned > RESCAN_SECONDS:
                found = self.root.scan()
                self.views = {k: self.views[k] if k in self.views and self.views[k].run == r else RunView(self.root, r)
                              for k, r in found.items()}
                self.scanned = time.monotonic()
            return self.views

    def view(self, key: str | None) -> RunView | None:
        if not key:
            return None
        v = self.scan().get(key)
        return v if v is not None else self.scan(force=True).get(key)

    def warm(self) -> None:
        """Read every run's log once and start on its baselines, so the first page load
        does not wait for them."""
        from .assets import PLOTLY, _load

        _load(PLOTLY)  # compressed once, now
        for v in list(self.scan(force=True).values()):
            with v.lock:
                v.refresh()
                front, _ = v.front_value()
            if front is not None and front.platform.display == "ulp":
                self.baseline_future(front)

    # -- slow figures, computed once ---------------------------------------------------------
    def baseline_future(self, front) -> Future:
        t = front.target
        key = (t.expr, tuple(t.interval), front.platform.name)
        with self.lock:
            if key not in self.baselines:
                self.baselines[key] = self.pool.submit(baselines_in_child, t.to_dict(), front.platform.name)
            return self.baselines[key]

    def close(self) -> None:
        from .baselines import stop_all

        self.pool.shutdown(wait=False, cancel_futures=True)
        stop_all()


def front_rows(front) -> list[dict]:
    return [{"id": m.id, "cost": m.cost, "ops": m.ops, "error": m.error, "error_on": m.error_on,
             "train": m.train.max, "validation": m.validation.max if m.validation else None,
             "exhaustive": m.exhaustive_max, "verified": m.exhaustive is not None, "island": m.island,
             "mutation": m.mutation, "expression": m.expression} for m in front]


def create_app(runs_dir: Path, trusted_hosts: list[str] | None = None) -> Starlette:
    """The application for `runs_dir`. trusted_hosts: the Host headers accepted (None: any);
    on a loopback address only local names are, so a web page elsewhere cannot read it
    through a DNS-rebound name."""
    d = Dashboard(Path(runs_dir))

    def index(request: Request) -> Response:
        return page()

    def static(request: Request) -> Response:
        return asset(request.path_params["name"], request.headers.get("accept-encoding", ""))

    def info(request: Request) -> Json:
        from ..core.version import __version__

        return Json({"runs_dir": str(d.root.given), "exists": d.root.root.is_dir(), "version": __version__})

    def runs(request: Request) -> Json:
        rows = []
        for v in d.scan().values():
            with v.lock:
                v.refresh()
                rows.append(v.row())
        return Json({"runs_dir": str(d.root.given), "exists": d.root.root.is_dir(), "runs": rows})

    def run(request: Request) -> Json:
        v = d.view(request.query_params.get("run"))
        if v is None:
            return not_found(f"no run {request.query_params.get('run')!r} in {d.root.given}")
        with v.lock:
            v.refresh()
            s = v.summary
            front, _ = v.front_value()
            config, _ = v.config_value()
            stats, _ = v.stats_value()
            ts, rates = s.rates()
            body = {
                **v.row(),
                "config": config.to_dict() if config is not None else None,
                "front": None if front is None else {
                    "members": front_rows(front), "unit": front.unit, "cost_kind": front.cost_kind,
                    "platform": front.platform.name, "dtype": np.dtype(front.platform.dtype).name,
                    "training_points": front.meta.get("training_points")},
                "progress": s.progress(),
                "throughput": {"elapsed": ts, "rate": rates},
                "workers": s.per_worker(),
                "checkpoint_per_worker": (stats or {}).get("per_worker"),
                "checks": sorted(s.verified.values(), key=lambda c: c.get("evals") or 0),
                "events": s.events, "event_kinds": s.kinds, "failures": s.failures,
            }
        return Json(body)

    def baselines(request: Request) -> Json:
        v = d.view(request.query_params.get("run"))
        if v is None:
            return not_found(f"no run {request.query_params.get('run')!r}")
        with v.lock:
            front, _ = v.front_value()
        if front is None or front.platform.display != "ulp":  # the panel plots max error against ops
            return Json({"state": "unavailable", "points": []})
        fut = d.baseline_future(front)
        if not fut.done():
            return Json({"state": "computing", "points": []})
        try:
            return Json({"state": "ready", "points": fut.result()})
        except Exception as e:  # noqa: BLE001 - shown on the page, the run still is
            return Json({"state": "error", "error": f"{type(e).__name__}: {e}", "points": []})

    def member_of(request: Request):
        v = d.view(request.query_params.get("run"))
        if v is None:
            return None, None, not_found(f"no run {request.query_params.get('run')!r}")
        try:
            mid = int(request.query_params.get("id", ""))
        except ValueError:
            return v, None, not_found("id must be a member id (an integer)")
        with v.lock:
            v.refresh()
            front, err = v.front_value()
        if front is None:
            return v, None, not_found(err or f"run {v.key} has no front.json yet")
        m = next((m for m in front if m.id == mid), None)
        if m is None:
            ids = ", ".join(str(m.id) for m in front)
            return v, None, not_found(f"member {mid} is not on the front of run {v.key} (front ids: {ids})")
        return v, (m, front), None

    def member(request: Request) -> Json:
        v, found, miss = member_of(request)
        if miss is not None:
            return miss
        m, front = found
        code = remember(d.exports, (v.key, m.id, v.front.key), lambda: exports(m))
        with v.lock:
            lineage = v.summary.lineage.chain(m.id)
            where = v.target_info()
        return Json({"run": v.key, **where, **detail(m, front), "lineage": lineage,
                     "lineage_note": "ancestors as logged in events.jsonl (id, mutation, error, cost); "
                                     "their programs are not logged", "exports": code})

    def curve(request: Request) -> Json:
        v, found, miss = member_of(request)
        if miss is not None:
            return miss
        m, front = found
        with v.lock:
            config, _ = v.config_value()
        return Json(remember(d.curves, (v.key, m.id, m.program.hash()), lambda: error_curve(m, front, config)))

    def compare(request: Request) -> Json:
        out = []
        for key in request.query_params.getlist("run"):
            v = d.view(key)
            if v is None:
                out.append({"key": key, "error": f"no run {key!r}"})
                continue
            with v.lock:
                v.refresh()
                front, err = v.front_value()
                out.append({"key": key, **v.target_info(), "status": v.status(), **v.counts(), "problem": err,
                            "members": front_rows(front) if front is not None else []})
        return Json({"runs": out})

    def missing(request: Request) -> Json:
        return not_found(f"no such API endpoint: {request.url.path}")

    routes = [Route("/", index), Route("/static/{name}", static), Route("/api/info", info),
              Route("/api/runs", runs), Route("/api/run", run), Route("/api/baselines", baselines),
              Route("/api/member", member), Route("/api/curve", curve), Route("/api/compare", compare),
              Route("/api/{rest:path}", missing)]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=trusted_hosts)] if trusted_hosts else []
    app = Starlette(routes=routes, middleware=middleware)
    app.state.dashboard = d
    return app


__all__ = ["create_app", "Dashboard", "clean"]
