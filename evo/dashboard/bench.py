"""How fast the dashboard answers for a long run: writes a synthetic run with 100,000
events, starts the server on it (cold: nothing parsed yet), times the API responses,
and, where Debian's chromium is installed, the page load in a real browser.

    python -m evo.dashboard.bench [--events 100000] [--dir DIR]

The run is synthetic (made-up errors, a small real front), labelled so in its name.
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
import urllib.request
from pathlib import Path


def write_synthetic_run(path: Path, n_events: int = 100_000, seed: int = 0) -> Path:
    """A run directory shaped like a real one: config.json, front.json and an events.jsonl
    of `n_events` lines (eval events with lineage, workers and falling errors; front and
    verified events among them)."""
    from targets import get_target

    from ..core.ir import CONST, Instr, Program, X
    from ..core.scoring import ErrorStats
    from ..evolution.config import SearchConfig
    from ..platforms import FLOAT32
    from ..runs.member import Member
    from ..runs.store import RunStore

    rng = random.Random(seed)
    config = SearchConfig(target="exp2", max_evals=n_events, workers=2, seed=seed)
    store = RunStore.create(path, config)
    target = get_target("exp2")

    def horner(cs: list[float]) -> Program:  # fma Horner: a real program for each front member
        ins = [Instr(X), Instr(CONST, (), cs[0])]
        acc = 1
        for c in cs[1:]:
            ins.append(Instr(CONST, (), c))
            ins.append(Instr("fma", (acc, 0, len(ins) - 1)))
            acc = len(ins) - 1
        return Program(tuple(ins), acc)

    coeffs = [1.0, 0.6931472, 0.2402265, 0.05550411, 0.009618129, 0.001333355, 0.0001540353]
    members = []
    for k in range(1, 7):
        err = 10.0 ** (4 - 1.1 * k)
        exh = {"max_ulp": err * 1.1, "mean_ulp": err / 3, "argmax": 0.7, "inputs": 1065353217, "seconds": 12.0,
               "not_correctly_rounded": 0, "interval": [0.0, 1.0], "exhaustive": True} if k % 2 else None
        members.append(Member(n_events - 100 * k, horner(coeffs[:k + 1][::-1]), float(k),
                              ErrorStats(err, err / 3, 0.5, 1024), None, "insert", k % 4,
                              ErrorStats(err * 1.02, err / 3, 0.6, 16382), exh).to_dict(FLOAT32))
    settings = {"platform": "float32", "dtype": "float32", "metric": config.metric, "seed": config.seed,
                "cost": config.cost}
    store.save_front(path.name, target.to_dict(), settings, members, {"training_points": 1300, "checked": []})

    lines = []
    t0, best = 1.8e9, {}
    for i in range(n_events):
        cost = float(rng.randint(0, 14))
        err = 10 ** rng.uniform(-0.2, 6) * (1 + 50_000 / (i + 10)) / (1 + cost)
        best[cost] = min(best.get(cost, err), err)
        e = {"event": "eval", "time": round(t0 + i * 0.01, 3), "id": i, "parent": rng.randrange(i) if i else None,
             "mutation": rng.choice(("insert", "remove", "rewire", "rename", "perturb")), "island": i % 4,
             "error": err, "cost": cost, "fit_s": 0.004, "worker": f"host:{1000 + i % 2}", "evals": i + 1,
             "elapsed": round(i * 0.01, 2)}
        lines.append(json.dumps(e))
        if i % 500 == 0:
            lines.append(json.dumps({"event": "front", "time": e["time"], "id": i, "cost": cost, "error": err,
                                     "error_on": "validation", "train": err, "validation": err, "island": i % 4,
                                     "expression": "x"}))
        if i % 5000 == 0 and i:
            lines.append(json.dumps({"event": "verified", "time": e["time"], "id": i, "cost": cost, "ops": int(cost),
                                     "max_ulp": err * 1.1, "argmax": 0.5, "seconds": 12.0, "evals": i + 1,
                                     "elapsed": e["elapsed"], "expression": "x"}))
    lines = lines[:n_events - 1]  # n_events lines in all, the end event included
    last = next(json.loads(x) for x in reversed(lines) if x.startswith('{"event": "eval"'))
    lines.append(json.dumps({"event": "end", "time": last["time"], "evals": last["evals"],
                             "elapsed": last["elapsed"]}))
    (path / "events.jsonl").write_text("\n".join(lines) + "\n")
    return path


def get(url: str) -> tuple[float, int]:
    """(seconds, bytes) of one GET."""
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        n = len(r.read())
    return time.perf_counter() - t, n


def start(runs: Path, warm: bool):
    """A dashboard server in a thread: (url, stop function)."""
    from .server import make_server

    server, sock, url = make_server(runs, "127.0.0.1", 0, warm=warm)
    th = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        th.join(10)
        sock.close()
        server.config.app.state.dashboard.close()

    return url, stop


def page_load(url: str, repeats: int = 2) -> list[dict] | None:
    """Milliseconds from navigation until the run page showed its numbers (`data`) and
    drew its front plot (`front-plot`), as the page itself records them
    (window.evoTimings, performance.now()), in a fresh headless chromium: the first
    load, then reloads (Plotly.js cached). None without chromium."""
    import os
    import shutil

    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    profile = tempfile.mkdtemp(prefix="evo-bench-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--user-data-dir={profile}", "--window-size=1400,1000"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    out = []
    try:
        for _ in range(repeats):
            d.get("about:blank")
            d.get(url)
            t = WebDriverWait(d, 60, 0.02).until(lambda d: d.execute_script(
                "const t = window.evoTimings; return t && t.data && t['front-plot'] ? t : null;"))
            out.append({"data": t["data"], "plot": t["front-plot"]})
        return out
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the synthetic run (default: a temp dir)")
    a = ap.parse_args()
    runs = a.dir or Path(tempfile.mkdtemp(prefix="evo-dashboard-bench-"))
    t = time.perf_counter()
    run = write_synthetic_run(runs / "synthetic-100k", a.events)
    size = (run / "events.jsonl").stat().st_size
    print(f"wrote {a.events:,} events ({size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s: {run}")
    url, stop = start(runs, warm=False)
    try:
        for what in ("api/runs", "api/runs", "api/run?run=synthetic-100k", "api/run?run=synthetic-100k"):
            s, n = get(url + what)
            print(f"GET /{what:<30} {s * 1000:7.1f} ms  {n / 1000:6.1f} kB")
        loads = page_load(url + "#/run/synthetic-100k")
        if loads is None:
            print("page load: skipped (no /usr/bin/chromium)")
        for k, t in enumerate(loads or []):
            print(f"page load ({'first, fresh profile' if not k else 'reload, Plotly.js cached'}): numbers shown "
                  f"{t['data']:.0f} ms, front plot drawn {t['plot']:.0f} ms")
    finally:
        stop()
    # A server that has not read the log yet: the first page load includes parsing all of it.
    url, stop = start(runs, warm=False)
    try:
        loads = page_load(url + "#/run/synthetic-100k", repeats=1)
        for t in loads or []:
            print(f"page load on a cold server (log parsed during the load): numbers shown {t['data']:.0f} ms, "
                  f"front plot drawn {t['plot']:.0f} ms")
    finally:
        stop()


if __name__ == "__main__":
    main()
