"""evo dashboard: a real search, the real server, a real browser.

One short search (the evo CLI in a subprocess, in-process workers) runs for the whole
module. The browser test watches it live and must run while the search does (it is
first in the file); the server-side tests use the finished run (they wait for it), and
copies of it broken in the ways a killed or half-copied run is.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from support import assert_user_error

from evo.dashboard.bench import start, write_synthetic_run
from evo.dashboard.summary import EventSummary
from evo.runs.events import EventTail

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
BUDGET = "15s"  # a time budget: long enough to watch it live on any machine
NAME = "live"


class LiveSearch:
    """`evo search` in a subprocess, writing runs/live every half second."""

    def __init__(self, runs: Path) -> None:
        self.runs, self.path = runs, runs / NAME
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evo.cli", "search", "exp2", "--interval", "0.5,0.502", "--budget", BUDGET,
             "--workers", "0", "--checkpoint-every", "0.5", "--verify-below", "1e9", "--seed", "3",
             "--out", str(runs), "--name", NAME, "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def running(self) -> bool:
        return self.proc.poll() is None

    def finished(self) -> Path:
        out, _ = self.proc.communicate(timeout=240)
        assert self.proc.returncode == 0, out
        return self.path

    def final_evals(self) -> int:
        """The evaluation count the search ended with (its end event)."""
        events = [json.loads(x) for x in (self.path / "events.jsonl").read_text().splitlines()]
        return next(e["evals"] for e in reversed(events) if e["event"] == "end")

    def front_ids(self) -> list[int]:
        return [m["id"] for m in json.loads((self.path / "front.json").read_text())["members"]]


@pytest.fixture(scope="module")
def search(tmp_path_factory) -> LiveSearch:
    s = LiveSearch(tmp_path_factory.mktemp("runs"))
    yield s
    if s.running():
        s.proc.kill()
        s.proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_for(predicate, timeout: float, what: str, step: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# -- in a real browser, while the search runs ------------------------------------------------------
def browser():
    """Debian's chromium through its chromedriver (never a downloaded one)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="evo-test-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--user-data-dir={profile}", "--window-size=1300,1000"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts), profile


RENDERED_FRONT_POINTS = """
const gd = document.getElementById('front-plot');
if (!gd || !gd._fullData) return null;
const layers = gd.querySelectorAll('.scatterlayer .trace');
return gd._fullData.filter(t => t.meta === 'front')
  .reduce((n, t) => n + layers[t.index].querySelectorAll('path.point').length, 0);
"""

# Plotly.js is its basic build (scatter, bar, pie): what the run page draws must all be in it.
RUN_PAGE_PLOTS = """
const out = [];
for (const id of ['front-plot', 'progress-plot', 'rate-plot', 'worker-plot']) {
  const gd = document.getElementById(id);
  if (!gd || !gd._fullData) { out.push(id + ' not drawn'); continue; }
  // a trace type the build lacks becomes an invisible scatter trace
  gd._fullData.filter(t => (gd.data[t.index].type || 'scatter') !== t.type)
    .forEach(t => out.push(id + ': trace type ' + gd.data[t.index].type + ' is not in this Plotly build'));
}
const q = (css) => document.querySelectorAll(css).length;
if (!q('#worker-plot .barlayer .point')) out.push('no bars in worker-plot');
if (!q('#front-plot .shapelayer path')) out.push('no dashed 1-ULP line in front-plot');
const f = document.getElementById('front-plot');
if (!f || !f._fullLayout || f._fullLayout.yaxis.type !== 'log') out.push('front-plot y axis not log');
return out;
"""


@pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
def test_browser_watches_a_live_search(search: LiveSearch) -> None:
    assert search.running(), "the search ended before the browser test began (run this module in file order)"
    port = free_port()
    dash = subprocess.Popen([sys.executable, "-m", "evo.cli", "dashboard", str(search.runs), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    driver, profile = browser()
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: _up(base), 30, "the dashboard to answer")
        # The runs list shows the run while it runs.
        wait_for(lambda: (search.path / "events.jsonl").exists(), 60, "the search to start logging")
        # (the page redraws its tables every second: read them in one script call, not element by element)
        text = lambda css: driver.execute_script(  # noqa: E731
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", css)
        # The run page updates while the search runs: its evaluation count grows.
        driver.get(base + f"#/run/{NAME}")
        evals = lambda: int(text("#evals").replace(",", "") or 0)  # noqa: E731
        first = wait_for(lambda: evals(), 30, "the evaluation count")
        assert search.running(), "the search was too short to see it live"
        assert "running" in text("#run-status")
        wait_for(lambda: evals() > first, 30, "the evaluation count to grow on the page")
        # The runs list shows it too.
        driver.get(base)
        row = wait_for(lambda: text(f'tr[data-run="{NAME}"]'), 20, "the run's row")
        assert "exp2(x)" in row and "[0.5, 0.502]" in row
        driver.get(base + f"#/run/{NAME}")

        # When it ends: status finished, and one plotted point per front.json member.
        search.finished()
        wait_for(lambda: "finished" in text("#run-status"), 30, "status finished")
        n = len(search.front_ids())
        assert n >= 2
        wait_for(lambda: driver.execute_script(RENDERED_FRONT_POINTS) == n, 30,
                 f"{n} front points drawn (drawn: {driver.execute_script(RENDERED_FRONT_POINTS)})")
        assert len(driver.find_elements("css selector", "#front-table tbody tr")) == n
        assert driver.execute_script(RUN_PAGE_PLOTS) == []
        assert text("#evals").replace(",", "") == str(search.final_evals())

        # A member page: the exported C, a copy button, its graph and its sampled error curve.
        best = search.front_ids()[-1]
        driver.get(base + f"#/run/{NAME}/member/{best}")
        code = wait_for(lambda: text("#code-c"), 30, "the exported C")
        assert "float evo_exp2(float x)" in code
        assert "import jax" in text("#code-jax")
        assert driver.find_elements("css selector", "#graph svg g[data-slot]")
        button = driver.find_element("id", "copy-c")
        button.click()
        wait_for(lambda: button.text == "copied", 5, "the copy button to answer")
        wait_for(lambda: driver.execute_script(
            "const p = document.getElementById('curve-plot'); return p && p.querySelector('.main-svg')"), 60,
            "the error curve")
        assert "sampled" in text("#curve-note")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        dash.terminate()
        dash.wait(10)


# Counts the page's API requests from now on (to tell that polling has stopped).
COUNT_REQUESTS = """
if (!window.evoRequests) {
  window.evoRequests = 0;
  const f = window.fetch;
  window.fetch = (...a) => { window.evoRequests += 1; return f(...a); };
}
window.evoRequests = 0;
"""


@pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
def test_browser_not_found_states(tmp_path) -> None:
    """An unknown run or member: the server's own message, "not found" (not "server not
    answering"), no "computing…" that never ends, and no more polling."""
    write_synthetic_run(tmp_path / "r", n_events=300)
    port = free_port()
    dash = subprocess.Popen([sys.executable, "-m", "evo.cli", "dashboard", str(tmp_path), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    driver, profile = browser()
    base = f"http://127.0.0.1:{port}/"
    text = lambda css: driver.execute_script(  # noqa: E731
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", css)
    try:
        wait_for(lambda: _up(base), 30, "the dashboard to answer")
        driver.get(base + "#/run/nosuch")
        wait_for(lambda: text("#live") == "not found", 20, f"'not found' (shown: {text('#live')!r})")
        assert "no run 'nosuch'" in text("#view-error") and "server not answering" not in text("#live")
        driver.execute_script(COUNT_REQUESTS)
        time.sleep(2.5)   # the page polls every second while there is something to poll
        assert driver.execute_script("return window.evoRequests") == 0
        assert text("#live") == "not found"

        driver.get(base + "#/run/r/member/999999")
        wait_for(lambda: text("#live") == "not found", 20, f"'not found' (shown: {text('#live')!r})")
        assert "member 999999 is not on the front of run r" in text("#member-problem")
        assert text("#curve-note") == "no error curve: no such member"
        driver.execute_script(COUNT_REQUESTS)
        time.sleep(2.5)
        assert driver.execute_script("return window.evoRequests") == 0

        # a real run after them: polled and live again
        driver.get(base + "#/run/r")
        wait_for(lambda: text("#live") == "live", 20, "the run page to be live")
        driver.execute_script(COUNT_REQUESTS)
        wait_for(lambda: driver.execute_script("return window.evoRequests") > 0, 10, "the run page to poll")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        dash.terminate()


PLOT_FACTS = """
const p = document.getElementById('progress-plot'), f = document.getElementById('front-plot');
if (!p || !p._fullLayout || !f || !f._fullLayout) return null;
const colours = p._fullData.map(t => t.line.color);
return {traces: colours.length, colours: new Set(colours).size, top: p._fullLayout.yaxis.range[1],
        power: [p._fullLayout.yaxis.exponentformat, p._fullLayout.xaxis.exponentformat, f._fullLayout.yaxis.exponentformat],
        dtick: f._fullLayout.xaxis.dtick, note: document.getElementById('progress-note').textContent,
        baselines: f._fullData.filter(t => t.meta === 'baseline').map(t => t.name)};
"""


@pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
def test_browser_plot_axes_and_colours(tmp_path) -> None:
    """One outlier does not stretch the progress axis; no two costs share a colour; log ticks
    are all powers of ten; op counts are whole; the baselines are told apart by kind."""
    run = write_synthetic_run(tmp_path / "r", n_events=3000)
    lines = (run / "events.jsonl").read_text().splitlines()
    outlier = {"event": "eval", "time": 1.8e9 + 29.9, "id": 99999, "parent": 1, "mutation": "insert", "island": 0,
               "error": 2.3e39, "cost": 15.0, "fit_s": 0.004, "worker": "host:1000", "evals": 3000, "elapsed": 29.9}
    (run / "events.jsonl").write_text("\n".join(lines[:-1] + [json.dumps(outlier), lines[-1]]) + "\n")
    port = free_port()
    dash = subprocess.Popen([sys.executable, "-m", "evo.cli", "dashboard", str(tmp_path), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    driver, profile = browser()
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: _up(base), 30, "the dashboard to answer")
        driver.get(base + "#/run/r")
        facts = wait_for(lambda: (lambda d: d if d and d["baselines"] else None)(driver.execute_script(PLOT_FACTS)),
                         120, "the plots and the baselines")
        assert facts["traces"] == 16 and facts["colours"] == 16, facts
        assert facts["top"] < 20, facts   # log10 of the axis' top: the 2.3e39 point is off the scale, and said so
        assert "1 point above" in facts["note"] and "off the scale" in facts["note"]
        assert facts["power"] == ["power"] * 3 and facts["dtick"] == 1
        assert {"taylor (validation sample: a lower bound)", "minimax (validation sample: a lower bound)",
                "pade (validation sample: a lower bound)", "rational (validation sample: a lower bound)"} <= \
            set(facts["baselines"]), facts["baselines"]
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        dash.terminate()


def test_index_chips_are_front_points() -> None:
    """The runs list's "best verified per op count": only checks no cheaper one matches or beats."""
    from evo.dashboard.runview import front_chips

    best = {5: {"max_ulp": 0.9, "id": 1}, 7: {"max_ulp": 1.2, "id": 2}, 8: {"max_ulp": "0.8", "id": 3},
            9: {"max_ulp": 0.8, "id": 4}}
    assert front_chips(best) == [{"ops": 5, "max_ulp": 0.9, "id": 1}, {"ops": 8, "max_ulp": 0.8, "id": 3}]


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "api/info", timeout=2):
            return True
    except OSError:
        return False


# -- the server, no browser ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(search: LiveSearch, tmp_path_factory):
    """The dashboard on a directory holding the finished run, copies of it broken in
    different ways, and links that point outside."""
    run = search.finished()
    search.evals = search.final_evals()
    runs = tmp_path_factory.mktemp("served")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("TOP-SECRET-OUTSIDE")
    shutil.copytree(run, outside / "elsewhere")
    (outside / "elsewhere" / "front.json").write_text(
        (run / "front.json").read_text().replace('"run": "live"', '"run": "TOP-SECRET-OUTSIDE"'))
    shutil.copytree(run, runs / "good")
    # killed mid-write: the last event line is cut
    shutil.copytree(run, runs / "cut-events")
    ev = (runs / "cut-events" / "events.jsonl").read_bytes()
    (runs / "cut-events" / "events.jsonl").write_bytes(ev[: len(ev) - 40])
    # a garbage line in the middle
    shutil.copytree(run, runs / "bad-line")
    lines = (runs / "bad-line" / "events.jsonl").read_text().splitlines(keepends=True)
    (runs / "bad-line" / "events.jsonl").write_text("".join(lines[:50] + ['{"event": "eval", "id": \n'] + lines[50:]))
    # front.json half written (copied by hand while it was being replaced)
    shutil.copytree(run, runs / "half-front")
    f = (runs / "half-front" / "front.json").read_text()
    (runs / "half-front" / "front.json").write_text(f[: len(f) // 2])
    # no config.json
    shutil.copytree(run, runs / "no-config")
    (runs / "no-config" / "config.json").unlink()
    # killed (no end event; a lock left by a process that is gone) and interrupted (Ctrl-C)
    kept = [ln for ln in (run / "events.jsonl").read_text().splitlines(keepends=True) if '"event": "end"' not in ln]
    for name, last in (("killed", ""), ("interrupted", '{"event": "interrupted", "evals": 5, "elapsed": 1.0}\n')):
        shutil.copytree(run, runs / name)
        (runs / name / "events.jsonl").write_text("".join(kept) + last)
    (runs / "killed" / ".lock").write_text(json.dumps({"pid": search.proc.pid, "host": socket.gethostname()}))
    # a directory with only a broken log
    (runs / "only-garbage").mkdir()
    (runs / "only-garbage" / "events.jsonl").write_text("not json\n")
    # links pointing outside the runs directory
    (runs / "linked-out").symlink_to(outside / "elsewhere")
    shutil.copytree(run, runs / "linked-file")
    (runs / "linked-file" / "front.json").unlink()
    (runs / "linked-file" / "front.json").symlink_to(outside / "elsewhere" / "front.json")
    (runs / "secret-link").mkdir()
    (runs / "secret-link" / "config.json").symlink_to(outside / "secret.txt")
    url, stop = start(runs, warm=False)
    yield url, runs, run, search.evals
    stop()


def test_runs_list_and_run_page_data(served) -> None:
    url, runs, run, evals = served
    status, d = get_json(url + "api/runs")
    assert status == 200
    rows = {r["key"]: r for r in d["runs"]}
    assert set(rows) >= {"good", "cut-events", "bad-line", "half-front", "no-config", "only-garbage", "linked-out"}
    good = rows["good"]
    front = json.loads((run / "front.json").read_text())
    assert good["status"] == "finished" and good["evals"] == evals and good["problems"] == []
    assert good["target"] == "exp2" and good["interval"] == [0.5, 0.502]
    assert good["front_size"] == len(front["members"]) and good["rate"] > 0 and good["elapsed"] > 0
    # best verified per op count: the lowest exhaustive max among the checks of each op count
    checks = [c for c in front["checked"]]
    for b in good["best_verified"]:
        assert b["max_ulp"] == min(c["max_ulp"] for c in checks if c["ops"] == b["ops"])

    status, r = get_json(url + "api/run?run=good")
    assert status == 200
    assert [m["id"] for m in r["front"]["members"]] == [m["id"] for m in front["members"]]
    for m, rec in zip(r["front"]["members"], front["members"]):
        assert m["error_on"] == rec["error_on"] and m["verified"] == (rec["verified"] is not None)
    assert sum(w["evals"] for w in r["workers"]) == evals
    assert r["progress"] and all(s["error"] == sorted(s["error"], reverse=True) for s in r["progress"])
    assert r["throughput"]["rate"] and r["config"]["budget_seconds"] == 15
    wait_for(lambda: get_json(url + "api/baselines?run=good")[1]["state"] == "ready", 60, "the baselines")
    b = get_json(url + "api/baselines?run=good")[1]["points"]
    assert any(p["name"].startswith("minimax") and p["form"] == "fma" for p in b)


def test_member_page_data(served) -> None:
    url, runs, run, evals = served
    front = json.loads((run / "front.json").read_text())["members"]
    rec = front[-1]
    status, m = get_json(url + f"api/member?run=good&id={rec['id']}")
    assert status == 200
    assert m["expression"] == rec["expression"] and m["errors"]["error_on"] == rec["error_on"]
    assert "float evo_exp2(float x)" in m["exports"]["c"] and "import jax" in m["exports"]["jax"]
    assert sum(n["x_dependent"] and n["op"] != "x" for n in m["graph"]["nodes"]) == rec["ops"]  # all cost 1
    assert len(m["graph"]["edges"]) == sum(len(i.get("args", ())) for i in _live(rec["program"]))
    chain = m["lineage"]
    assert chain[0]["id"] == rec["id"] and chain[0]["mutation"] == rec["mutation"]
    assert chain[-1]["parent"] is None and chain[-1]["mutation"] == "seed"  # back to f(x) = x
    assert all(a["parent"] == b["id"] for a, b in zip(chain, chain[1:]))
    # The sampled curve's max is a lower bound of the exhaustive max (a sample of the same inputs).
    status, c = get_json(url + f"api/curve?run=good&id={rec['id']}")
    assert status == 200 and c["sampled"] and c["points"] >= 2000
    assert len(c["x"]) == len(c["error"]) == c["points"]
    if rec["verified"]:
        assert c["max"] <= rec["verified"]["max_ulp"] * (1 + 1e-6)
        assert c["max"] > 0.5 * rec["verified"]["max_ulp"]
    assert get_json(url + "api/member?run=good&id=999999")[0] == 404
    assert get_json(url + "api/member?run=good&id=abc")[0] == 404


def _live(program: dict) -> list[dict]:
    """The instructions of a program record that the output depends on."""
    from evo.core.ir import from_dict, reachable, to_dict

    p = from_dict(program)
    return [to_dict(p)["instrs"][i] for i, keep in enumerate(reachable(p)) if keep]


def test_corrupt_runs_are_shown_as_such(served) -> None:
    url, runs, run, evals = served
    rows = {r["key"]: r for r in get_json(url + "api/runs")[1]["runs"]}
    assert any("cut off" in p for p in rows["cut-events"]["problems"])
    assert rows["cut-events"]["evals"] > 0
    assert any("not valid JSON" in p for p in rows["bad-line"]["problems"])
    assert rows["bad-line"]["evals"] == evals
    assert any("front" in p for p in rows["half-front"]["problems"]) and rows["half-front"]["front_size"] is None
    assert any("config.json" in p for p in rows["no-config"]["problems"])
    assert rows["no-config"]["target"] == "exp2"  # from front.json
    assert rows["only-garbage"]["problems"] and rows["only-garbage"]["evals"] == 0
    assert rows["killed"]["status"] == "stopped" and rows["interrupted"]["status"] == "interrupted"
    for key in rows:
        status, d = get_json(url + "api/run?run=" + urllib.request.quote(key))
        assert status == 200, (key, d)
    status, d = get_json(url + "api/member?run=half-front&id=1")
    assert status == 404 and "front" in d["error"]
    status, d = get_json(url + "api/run?run=no-such-run")
    assert status == 404 and "no run" in d["error"]


def raw_get(url: str, path: str, host: str | None = None) -> tuple[int, bytes]:
    """GET with the path sent as written (no client-side normalisation)."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.putrequest("GET", path, skip_host=True)
    c.putheader("Host", host or f"{u.hostname}:{u.port}")
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def test_nothing_outside_the_runs_directory_is_read(served) -> None:
    url, runs, run, evals = served
    secret = b"TOP-SECRET-OUTSIDE"
    probes = ["/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2fapp.py",
              "/static/%2e%2e%2f%2e%2e%2fsecret.txt", "//etc/passwd", "/api/run?run=../outside",
              "/api/run?run=%2e%2e/%2e%2e/etc", "/api/run?run=/etc", "/api/run?run=" + urllib.request.quote(str(run)),
              "/api/member?run=../good&id=1", "/api/member?run=linked-out&id=0", "/api/curve?run=linked-out&id=0",
              "/api/run?run=good/../../outside", "/static/app.js/../../app.py", "/api/compare?run=../x&run=/etc"]
    for p in probes:
        status, body = raw_get(url, p)
        assert b"root:" not in body and secret not in body and b"def create_app" not in body, p
        if p.startswith("/static") or p.startswith("//"):
            assert status == 404, (p, status)
    everything = b"".join(raw_get(url, p)[1] for p in (
        "/api/runs", "/api/run?run=linked-out", "/api/run?run=linked-file", "/api/run?run=secret-link",
        "/api/compare?run=linked-out&run=linked-file&run=secret-link"))
    assert secret not in everything
    rows = {r["key"]: r for r in get_json(url + "api/runs")[1]["runs"]}
    assert rows["linked-out"]["status"] == "unreadable" and rows["linked-out"]["evals"] == 0
    assert any("outside" in p for p in rows["linked-out"]["problems"])
    assert any("front.json links outside" in p for p in rows["linked-file"]["problems"])
    assert rows["linked-file"]["front_size"] is None
    assert any("config.json links outside" in p for p in rows["secret-link"]["problems"])
    # read-only, and only for local names while bound to a loopback address
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("POST", "/api/runs", body=b"{}")
    assert c.getresponse().status == 405
    assert raw_get(url, "/api/runs", host="evil.example")[0] == 400
    # the page and its assets come from here, Plotly included (no CDN)
    status, page = raw_get(url, "/")
    assert status == 200 and b"/static/plotly-basic.min.js" in page and b"http" not in page.split(b"<body>")[0]
    status, js = raw_get(url, "/static/plotly-basic.min.js")
    assert status == 200 and len(js) > 1_000_000 and b"plotly.js (basic" in js[:200]


def test_port_in_use_is_one_line_error(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "evo.cli", "dashboard", str(tmp_path), "--port", str(port)],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("evo: error: cannot listen on 127.0.0.1:")
    assert "already in use" in r.stderr


def test_a_runs_directory_that_does_not_exist_is_one_line_error(evo, tmp_path) -> None:
    assert_user_error(evo("dashboard", tmp_path / "nonexistent"),
                      f"{tmp_path / 'nonexistent'}: no such directory (give the directory that holds your runs: "
                      "evo search --out, default runs)")


def test_tail_reads_only_complete_new_lines(tmp_path) -> None:
    f = tmp_path / "events.jsonl"
    f.write_text('{"event": "eval", "id": 0, "parent": null, "evals": 1, "elapsed": 0.1, "error": 5.0, "cost": 1}\n'
                 '{"event": "eval", "id": 1, "par')
    tail, s = EventTail(f), EventSummary()
    events, restart, more = tail.read()
    s.apply(events)
    assert len(events) == 1 and not restart and not more and tail.pending > 0 and s.evals == 1
    with open(f, "a") as fh:  # the writer finishes the line, then writes another
        fh.write('ent": 0, "mutation": "insert", "evals": 2, "elapsed": 0.2, "error": "inf", "cost": 2}\n'
                 '{"event": "eval", "id": 2, "parent": 1, "mutation": "perturb", "evals": 3, "elapsed": 0.3, '
                 '"error": 2.0, "cost": 1}\n')
    events, restart, more = tail.read()
    s.apply(events)
    assert [e["id"] for e in events] == [1, 2] and tail.pending == 0 and tail.bad_lines == 0
    assert [c["id"] for c in s.lineage.chain(2)] == [2, 1, 0] and s.best[1.0] == [(1, 5.0), (3, 2.0)]
    f.write_text('{"event": "start"}\n')  # replaced (a new run in the same place): start over
    events, restart, more = tail.read()
    assert restart and len(events) == 1
    small = tmp_path / "small.jsonl"  # a log read in blocks smaller than itself
    small.write_text("".join(json.dumps({"event": "eval", "id": i, "evals": i + 1}) + "\n" for i in range(100)))
    t2, got, more = EventTail(small), [], True
    while more:
        events, _, more = t2.read(block=300)
        got += events
    assert [e["id"] for e in got] == list(range(100))


def test_100k_event_run_is_summarised_quickly(tmp_path) -> None:
    """The page's API answers for a 100,000-event run: the log is parsed once (cold),
    then only what is new; responses stay small (summaries, not events)."""
    write_synthetic_run(tmp_path / "synthetic-100k", 100_000)
    url, stop = start(tmp_path, warm=False)
    try:
        t = time.perf_counter()
        status, d = get_json(url + "api/runs")
        cold = time.perf_counter() - t
        assert status == 200 and d["runs"][0]["evals"] > 99_000
        times, size = [], 0
        for _ in range(3):
            t = time.perf_counter()
            with urllib.request.urlopen(url + "api/run?run=synthetic-100k", timeout=30) as r:
                size = len(r.read())
            times.append(time.perf_counter() - t)
    finally:
        stop()
    print(f"100k events: first /api/runs (parses the log) {cold:.2f} s; /api/run {min(times) * 1000:.0f} ms, "
          f"{size / 1000:.0f} kB")
    assert size < 200_000  # a summary, not the events (the log is 22 MB)
    assert min(times) < 0.5
    assert cold < 10  # parse of 22 MB; ~1 s on this 2-core machine under load, more on a slow CI runner
