// evo dashboard: hash-routed views over the read-only JSON API (see evo/dashboard/app.py).
// Each view builds its skeleton once and refreshes its numbers and plots every second;
// plots are redrawn with Plotly.react and a fixed uirevision, so zoom survives updates.
// Plotly.js is its basic build (static/vendor/): scatter, bar and pie traces only.
"use strict";

const POLL_MS = 1000;
const KIND = {  // how a member's error was measured: marker, colour, legend label
  exhaustive: { symbol: "star", color: "#111827", size: 14, label: "verified (every float32)" },
  validation: { symbol: "circle", color: "#d62728", size: 8, label: "validation sample" },
  train: { symbol: "triangle-up", color: "#ff7f0e", size: 9, label: "training set" },
};
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
// The i-th series' colour: the palette, then hues a golden angle apart (never a repeat: cost 1 and cost 11 differ).
const seriesColor = (i) => (i < PALETTE.length ? PALETTE[i] : `hsl(${Math.round((i * 137.508) % 360)}, 62%, 40%)`);
// Log axes label every tick as a power of ten (not "1M" beside "10^18").
const LOG = { type: "log", exponentformat: "power" };
// A log axis' range that a few outliers do not stretch: up to 10^6 times the 95th percentile.
function robustLogRange(values) {
  const v = values.filter((y) => Number.isFinite(y) && y > 0).sort((a, b) => a - b);
  if (v.length < 5) return { range: undefined, clipped: 0 };
  const cap = v[Math.floor(0.95 * (v.length - 1))] * 1e6;
  const clipped = v.filter((y) => y > cap).length;
  return clipped ? { range: [Math.log10(v[0]) - 0.2, Math.log10(cap)], clipped, cap } : { range: undefined, clipped: 0 };
}
const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

// -- small helpers ---------------------------------------------------------------------------
const $ = (sel, root = document) => root.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const num = (v) => (v === "inf" ? Infinity : v === "-inf" ? -Infinity : v === null || v === undefined ? NaN : Number(v));
function fmt(v, digits = 4) {
  const x = num(v);
  if (Number.isNaN(x)) return "–";
  if (!Number.isFinite(x)) return "inf";
  if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(2);
  return String(Number(x.toPrecision(digits)));
}
const fmtInt = (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US"));
function fmtTime(s) {
  s = num(s);
  if (!Number.isFinite(s)) return "–";
  if (s < 90) return s.toFixed(1) + " s";
  if (s < 5400) return (s / 60).toFixed(1) + " min";
  if (s < 172800) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}
const fmtRate = (r) => (r === null || r === undefined ? "–" : fmt(r, 3) + "/s");
const interval = (iv) => (iv ? `[${fmt(iv[0], 6)}, ${fmt(iv[1], 6)}]` : "–");
const runHref = (key) => "#/run/" + encodeURIComponent(key);
const memberHref = (key, id) => `${runHref(key)}/member/${id}`;
const badge = (status) => `<span class="badge ${esc(status)}" title="${esc(STATUS_HELP[status] || "")}">${esc(status)}</span>`;
const STATUS_HELP = {
  running: "a search process holds this run", finished: "the search ended", interrupted: "stopped by Ctrl-C: evo search --resume continues it",
  stopped: "killed or crashed: evo search --resume continues it", empty: "no config.json or events.jsonl", unreadable: "links outside the runs directory",
};
const floorLog = (e) => Math.max(num(e), 1e-6);  // a zero error still shows on a log axis

async function api(path) {
  const r = await fetch(path, { cache: "no-store" });
  let body;
  try { body = await r.json(); } catch (e) { throw new Error(`${path}: HTTP ${r.status}, not JSON`); }
  if (!r.ok) throw Object.assign(new Error(body.error || `HTTP ${r.status}`), { status: r.status });
  return body;
}

// Plots asked for before Plotly has loaded wait here (the latest per element) and are drawn on its load.
const pendingPlots = new Map();
function plot(id, traces, layout, onClick) {
  const el = document.getElementById(id);
  if (!el) return;
  if (!window.Plotly) { pendingPlots.set(id, [traces, layout, onClick]); return; }
  Plotly.react(el, traces, Object.assign({ margin: { l: 60, r: 10, t: 30, b: 45 }, hovermode: "closest", legend: { font: { size: 11 } } }, layout), PLOT_CONFIG);
  timings[id] = timings[id] || performance.now();
  if (onClick && !el.dataset.clicks) { el.dataset.clicks = "1"; el.on("plotly_click", onClick); }
}
function drawPending() {
  const todo = [...pendingPlots.entries()];
  pendingPlots.clear();
  todo.forEach(([id, args]) => plot(id, ...args));
}

function problemsHtml(list) {
  return list && list.length ? `<ul class="problems">${list.map((p) => `<li>${esc(p)}</li>`).join("")}</ul>` : "";
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {  // no clipboard API (an insecure origin, e.g. --host 0.0.0.0): select-and-copy
    const ta = document.createElement("textarea");
    ta.value = text; document.body.appendChild(ta); ta.select(); document.execCommand("copy"); ta.remove();
  }
  const old = button.textContent;
  button.textContent = "copied"; setTimeout(() => (button.textContent = old), 1200);
}

// -- the runs list -----------------------------------------------------------------------------
const selected = new Set(JSON.parse(sessionStorage.getItem("evo-compare") || "[]"));
const saveSelected = () => sessionStorage.setItem("evo-compare", JSON.stringify([...selected]));

const RunsView = {
  mount(root) {
    root.innerHTML = `<h2>Runs</h2><div id="runs-note" class="muted"></div>
      <p><button id="compare-btn">compare selected</button> <span class="note">tick two or more runs to overlay their fronts</span></p>
      <table id="runs"><thead><tr><th></th><th>run</th><th>target</th><th>interval</th><th>status</th><th>evaluations</th>
      <th>evals/s</th><th>best verified max ULP per op count</th><th>front</th><th>elapsed</th><th>problems</th></tr></thead><tbody></tbody></table>`;
    $("#compare-btn").onclick = () => { location.hash = "#/compare?runs=" + [...selected].map(encodeURIComponent).join(","); };
    $("#runs").addEventListener("change", (ev) => {
      const key = ev.target.dataset.key;
      if (key === undefined) return;
      ev.target.checked ? selected.add(key) : selected.delete(key);
      saveSelected();
    });
  },
  async refresh() {
    const d = await api("/api/runs");
    $("#where").textContent = d.runs_dir;
    $("#runs-note").textContent = !d.exists ? `${d.runs_dir} does not exist (yet): runs appear here when a search writes them.`
      : d.runs.length ? `${d.runs.length} run(s) in ${d.runs_dir}` : `no runs in ${d.runs_dir} yet`;
    $("#runs tbody").innerHTML = d.runs.map((r) => `<tr data-run="${esc(r.key)}">
      <td><input type="checkbox" data-key="${esc(r.key)}" ${selected.has(r.key) ? "checked" : ""}></td>
      <td class="nowrap"><a href="${runHref(r.key)}">${esc(r.key)}</a></td><td>${esc(r.expr ?? "–")}</td><td class="nowrap">${interval(r.interval)}</td>
      <td>${badge(r.status)}</td><td class="num evals">${fmtInt(r.evals)}</td>
      <td class="num" title="average over the run; last minute: ${fmtRate(r.recent_rate)}">${fmtRate(r.rate)}</td>
      <td>${r.best_verified.map((b) => `<span class="chip">${b.ops} ops: ${fmt(b.max_ulp)}</span>`).join("") || '<span class="muted">none yet</span>'}</td>
      <td class="num">${r.front_size ?? "–"}</td><td class="num">${fmtTime(r.elapsed)}</td><td>${problemsHtml(r.problems)}</td></tr>`).join("");
  },
};

// -- one run -----------------------------------------------------------------------------------
function frontTraces(members, opts = {}) {
  const traces = [];
  const pts = members.filter((m) => Number.isFinite(num(m.error)));
  if (pts.length && !opts.noLine) {
    traces.push({ x: pts.map((m) => m.cost), y: pts.map((m) => floorLog(m.error)), mode: "lines", line: { shape: "hv", color: opts.color || "#d62728", width: 1 },
      opacity: 0.45, name: opts.name ? `${opts.name}` : "front (best known error)", hoverinfo: "skip", meta: "line", showlegend: !opts.name });
  }
  for (const [kind, k] of Object.entries(KIND)) {
    const sel = pts.filter((m) => m.error_on === kind);
    if (!sel.length && !opts.always) continue;
    traces.push({
      x: sel.map((m) => m.cost), y: sel.map((m) => floorLog(m.error)), customdata: sel.map((m) => m.id), mode: "markers", type: "scatter",
      name: (opts.name ? opts.name + ": " : "evolved: ") + k.label, meta: "front",
      marker: { symbol: k.symbol, size: k.size, color: opts.color || k.color, line: { width: kind === "exhaustive" ? 1 : 0, color: "#fff" } },
      text: sel.map((m) => `#${m.id} · ${m.ops} ops<br>error ${fmt(m.error)} (${m.error_on})<br>train ${fmt(m.train)} · validation ${fmt(m.validation)} · exhaustive ${fmt(m.exhaustive)}<br>${esc(m.expression).slice(0, 90)}`),
      hovertemplate: "%{text}<extra></extra>",
    });
  }
  return traces;
}

const BASELINE_KINDS = { taylor: "#1f77b4", minimax: "#2ca02c", pade: "#9467bd", rational: "#8c564b" };
function baselineTraces(points) {
  // a colour per kind, a symbol per form (x: fma, +: horner), each labelled by where its error was measured
  // (exhaustive where `evo baselines --verify` checked it, else the validation sample: a lower bound)
  const kinds = Object.keys(BASELINE_KINDS).concat([...new Set(points.map((p) => p.kind))].filter((k) => k && !(k in BASELINE_KINDS)));
  return kinds.flatMap((kind, i) => ["exhaustive", "validation"].map((on) => {
    const b = points.filter((p) => (p.kind || "baseline") === kind && (p.error_on || "validation") === on && num(p.error) > 0);
    return { x: b.map((p) => p.ops), y: b.map((p) => num(p.error)), mode: "markers", meta: "baseline",
      name: `${kind} (${on === "exhaustive" ? "exhaustive" : "validation sample: a lower bound"})`,
      marker: { symbol: b.map((p) => (p.form === "fma" ? "x-thin-open" : "cross-thin-open")), size: 9,
        color: BASELINE_KINDS[kind] || seriesColor(i + 4), opacity: on === "exhaustive" ? 1 : 0.6, line: { width: 2 } },
      text: b.map((p) => `${p.name}: ${fmt(p.error)} ULP (${on}), ${p.ops} ops`), hovertemplate: "%{text}<extra></extra>" };
  })).filter((t) => t.x.length);
}

const RunView = {
  mount(root, key) {
    this.key = key; this.baselines = null; this.baselineState = "";
    root.innerHTML = `<h2><span id="run-title">${esc(key)}</span> <span id="run-status"></span></h2>
      <div class="stats" id="run-stats"></div><div id="run-problems"></div>
      <div class="grid">
        <div class="card"><b>Front</b> <span class="note" id="front-note"></span><div id="front-plot" class="plot"></div></div>
        <div class="card"><b>Progress</b> <span class="note" id="progress-note">best training-set max error per cost, against evaluations (from eval events)</span><div id="progress-plot" class="plot"></div></div>
      </div>
      <h3>Front members <span class="note">click a row or a point for the member's program, errors, lineage and code</span></h3>
      <table id="front-table"><thead><tr><th>id</th><th>cost</th><th>ops</th><th>max error</th><th>train</th><th>validation</th><th>exhaustive</th><th>expression</th></tr></thead><tbody></tbody></table>
      <div class="grid" style="margin-top:1em">
        <div class="card"><b>Throughput</b> <span class="note">evaluations per second over the run</span><div id="rate-plot" class="plot small"></div></div>
        <div class="card"><b>Workers</b> <span class="note">evaluations per worker, and each one's evals/s</span><div id="worker-plot" class="plot small"></div></div>
      </div>
      <h3>Exhaustive checks during the search</h3><table id="checks"><thead><tr><th>id</th><th>ops</th><th>max ULP (every float32)</th><th>at evaluation</th><th>took</th></tr></thead><tbody></tbody></table>
      <details style="margin-top:1em"><summary>config.json</summary><pre id="config"></pre></details>`;
  },
  async refresh() {
    const d = await api("/api/run?run=" + encodeURIComponent(this.key));
    $("#where").textContent = d.key;
    $("#run-title").textContent = `${d.key} — ${d.expr ?? "?"} on ${interval(d.interval)}`;
    $("#run-status").innerHTML = badge(d.status);
    const front = d.front ? d.front.members : [];
    const verified = front.filter((m) => m.verified).length;
    $("#run-stats").innerHTML = [
      ["evals", fmtInt(d.evals), "evaluations"], ["", fmtRate(d.rate), `evals/s (last minute ${fmtRate(d.recent_rate)})`],
      ["", fmtTime(d.elapsed), "search time"], ["front-size", d.front ? front.length : "–", `front members (${verified} verified)`],
      ["", fmtInt(d.events), "events logged"], ["", d.front?.training_points ?? "–", "training points"],
    ].map(([id, v, label]) => `<div><b ${id ? `id="${id}"` : ""}>${esc(v)}</b><span>${esc(label)}</span></div>`).join("");
    $("#run-problems").innerHTML = problemsHtml(d.problems);
    if (this.baselineState !== "ready" && this.baselineState !== "unavailable" && this.baselineState !== "error") {
      api("/api/baselines?run=" + encodeURIComponent(this.key)).then((b) => {
        this.baselineState = b.state; this.baselines = b.points;
        if (b.state === "error") this.baselineError = b.error;
      }).catch(() => {});
    }
    const note = { computing: "baselines: computing…", unavailable: "", error: "baselines failed: " + (this.baselineError || "") }[this.baselineState] ?? "";
    $("#front-note").textContent = note || `error on a log scale against ${d.front?.cost_kind === "ops" || !d.front ? "x-dependent op count" : "cost (" + d.front.cost_kind + ")"}`;
    const traces = frontTraces(front).concat(this.baselines ? baselineTraces(this.baselines) : []);
    const key = this.key;
    const ops = d.front?.cost_kind === "ops" || !d.front;
    plot("front-plot", traces, { uirevision: this.key, yaxis: { ...LOG, title: { text: `max error (${d.front?.unit ?? "ulp"})` } },
      xaxis: { title: { text: ops ? "cost (x-dependent ops)" : `cost (${d.front.cost_kind}, ns/element)` }, ...(ops ? { tickformat: "d", dtick: 1 } : {}) },
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 1, y1: 1, line: { color: "#999", dash: "dash", width: 1 } }] },
      (ev) => { const p = ev.points[0]; if (p && p.customdata !== undefined) location.hash = memberHref(key, p.customdata); });
    $("#front-table tbody").innerHTML = front.map((m) => `<tr data-id="${m.id}"><td><a href="${memberHref(this.key, m.id)}">#${m.id}</a></td>
      <td class="num">${fmt(m.cost)}</td><td class="num">${m.ops}</td><td class="num ${m.verified ? "err-exhaustive" : ""}">${fmt(m.error)}<span class="on">${esc(m.error_on)}</span></td>
      <td class="num">${fmt(m.train)}</td><td class="num">${fmt(m.validation)}</td><td class="num">${m.verified ? fmt(m.exhaustive) : "–"}</td>
      <td class="expr">${esc(m.expression)}</td></tr>`).join("") || `<tr><td colspan="8" class="muted">no front.json yet</td></tr>`;
    const last = d.evals || 1;
    const yr = robustLogRange(d.progress.flatMap((s) => s.error.map(floorLog)));
    $("#progress-note").textContent = "best training-set max error per cost, against evaluations (from eval events)" +
      (yr.clipped ? `; ${yr.clipped} point${yr.clipped > 1 ? "s" : ""} above ${fmt(yr.cap)} off the scale` : "");
    plot("progress-plot", d.progress.map((s, i) => ({
      x: s.evals.concat([Math.max(last, s.evals[s.evals.length - 1])]), y: s.error.concat([s.error[s.error.length - 1]]).map(floorLog),
      mode: "lines", line: { shape: "hv", color: seriesColor(i) }, name: `cost ${fmt(s.cost)}`,
    })), { uirevision: this.key, yaxis: { ...LOG, range: yr.range, autorange: !yr.range, title: { text: "best max error (training set)" } }, xaxis: { ...LOG, title: { text: "evaluations" } } });
    plot("rate-plot", [{ x: d.throughput.elapsed, y: d.throughput.rate, mode: "lines", line: { color: "#2457c5" }, name: "evals/s" }],
      { uirevision: this.key, showlegend: false, xaxis: { title: { text: "search time (s)" } }, yaxis: { title: { text: "evals/s" }, rangemode: "tozero" } });
    plot("worker-plot", [{ x: d.workers.map((w) => w.worker), y: d.workers.map((w) => w.evals), type: "bar", marker: { color: "#6b8fd6" },
      text: d.workers.map((w) => fmtRate(w.rate)), textposition: "auto", hovertemplate: "%{x}<br>%{y} evaluations, %{text}<extra></extra>" }],
      { uirevision: this.key, showlegend: false, yaxis: { title: { text: "evaluations" } }, margin: { l: 60, r: 10, t: 20, b: 80 } });
    $("#checks tbody").innerHTML = d.checks.map((c) => `<tr><td>#${c.id}</td><td class="num">${c.ops}</td><td class="num">${fmt(c.max_ulp)}</td>
      <td class="num">${fmtInt(c.evals)}</td><td class="num">${fmtTime(c.elapsed)}</td></tr>`).join("") || `<tr><td colspan="5" class="muted">none yet</td></tr>`;
    const cfg = JSON.stringify(d.config, null, 1);
    if ($("#config").textContent !== cfg) $("#config").textContent = cfg;
  },
};

// -- one member --------------------------------------------------------------------------------
function graphSvg(g) {
  // Layered drawing: columns by depth from x, rows by order within a column.
  const cols = {};
  g.nodes.forEach((n) => (cols[n.depth] = (cols[n.depth] || []).concat([n])));
  const W = 128, H = 42, BOX = 100, pos = {};
  const depth = Math.max(...g.nodes.map((n) => n.depth));
  const rows = Math.max(...Object.values(cols).map((c) => c.length));
  Object.entries(cols).forEach(([d, list]) => list.forEach((n, i) => (pos[n.slot] = { x: 20 + d * W, y: 20 + (i + (rows - list.length) / 2) * H })));
  const edges = g.edges.map((e) => {
    const a = pos[e.src], b = pos[e.dst];
    return `<line x1="${a.x + BOX}" y1="${a.y + 13}" x2="${b.x}" y2="${b.y + 13}" stroke="#9aa3b2" marker-end="url(#arrow)"/>`;
  }).join("");
  const nodes = g.nodes.map((n) => {
    const p = pos[n.slot];
    const fill = n.op === "x" ? "#dbeafe" : n.op === "const" ? "#f3f4f6" : n.x_dependent ? "#fde68a" : "#e5e7eb";
    return `<g data-slot="${n.slot}"><rect x="${p.x}" y="${p.y}" width="${BOX}" height="26" rx="5" fill="${fill}" stroke="${n.output ? "#b42318" : "#9aa3b2"}" stroke-width="${n.output ? 2 : 1}"/>
      <text x="${p.x + BOX / 2}" y="${p.y + 17}" text-anchor="middle">${esc(String(n.label).slice(0, 14))}</text><title>slot ${n.slot}: ${esc(n.label)}${n.output ? " (output)" : ""}</title></g>`;
  }).join("");
  const w = 40 + (depth + 1) * W, h = 30 + rows * H;
  return `<svg class="graph" viewBox="0 0 ${w} ${h}" style="width:100%;min-width:${Math.round(0.6 * w)}px;max-width:${w}px;height:auto" role="img" aria-label="program graph">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#9aa3b2"/></marker></defs>${edges}${nodes}</svg>`;
}

const MemberView = {
  mount(root, key, id) {
    this.key = key; this.id = id; this.curveLoaded = false; this.codeKey = "";
    root.innerHTML = `<p><a href="${runHref(key)}">← ${esc(key)}</a></p><h2 id="member-title">member #${esc(id)}</h2><div id="member-problem"></div>
      <div class="grid"><div class="card"><b>Errors</b> <span class="note" id="error-note"></span><table id="errors"></table></div>
        <div class="card"><b>Program</b><pre id="expression"></pre><pre id="listing"></pre></div></div>
      <div class="grid" style="margin-top:1em"><div class="card"><b>Program graph</b> <span class="note">nodes are instructions; yellow: depends on x; red border: the output</span><div id="graph" style="overflow:auto"></div></div>
        <div class="card"><b>Error over the interval</b> <span class="note" id="curve-note">sampled: computing…</span><div id="curve-plot" class="plot small"></div></div></div>
      <h3>Lineage <span class="note" id="lineage-note"></span></h3><table id="lineage"><thead><tr><th>step</th><th>id</th><th>mutation</th><th>error (train, at evaluation)</th><th>cost</th><th>evaluation</th></tr></thead><tbody></tbody></table>
      <div class="grid" style="margin-top:1em">
        <div class="card"><div class="codehead"><b>C</b><button id="copy-c">copy C</button></div><pre id="code-c"></pre></div>
        <div class="card"><div class="codehead"><b>JAX</b><button id="copy-jax">copy JAX</button></div><pre id="code-jax"></pre></div></div>`;
    $("#copy-c").onclick = (e) => copyText($("#code-c").textContent, e.target);
    $("#copy-jax").onclick = (e) => copyText($("#code-jax").textContent, e.target);
  },
  async refresh() {
    let d;
    try {
      d = await api(`/api/member?run=${encodeURIComponent(this.key)}&id=${encodeURIComponent(this.id)}`);
    } catch (e) {
      $("#member-problem").innerHTML = problemsHtml([e.message]);
      if (!this.curveLoaded) $("#curve-note").textContent = e.status === 404 ? "no error curve: no such member" : "error curve: waiting for the member";
      throw e;  // tick() says what the page's state is (not found: polling stops)
    }
    $("#member-problem").innerHTML = "";
    $("#where").textContent = `${d.run} / #${d.id}`;
    $("#member-title").textContent = `member #${d.id} — ${d.ops} ops, max error ${fmt(d.errors.error)} ULP (${d.errors.error_on})`;
    const e = d.errors;
    const row = (label, s, what) => `<tr><td>${label}${e.error_on === label ? " <b>(counts)</b>" : ""}</td>` + (s
      ? `<td class="num">${fmt(s.max)}</td><td class="num">${fmt(s.mean)}</td><td class="num">${fmt(s.argmax, 9)}</td><td class="num">${fmtInt(s.inputs)}</td><td class="note">${what}</td></tr>`
      : `<td colspan="5" class="muted">not measured</td></tr>`);
    $("#errors").innerHTML = `<tr><th>measured on</th><th>max ${esc(e.unit)}</th><th>mean</th><th>at x</th><th>inputs</th><th></th></tr>` +
      row("exhaustive", e.exhaustive, "every float32 of the interval") + row("validation", e.validation, "fixed random sample") + row("train", e.train, "the (grown) training set");
    $("#error-note").textContent = e.error_on === "exhaustive" ? "verified on every float32 input" : "sampled figures are lower bounds of the true max";
    $("#expression").textContent = d.expression;
    $("#listing").textContent = d.listing.join("\n");
    $("#graph").innerHTML = graphSvg(d.graph);
    $("#lineage-note").textContent = d.lineage_note;
    $("#lineage tbody").innerHTML = d.lineage.map((s, i) => `<tr><td class="num">${i ? "-" + i : "this"}</td><td>#${s.id}</td><td>${esc(s.mutation)}</td>
      <td class="num">${fmt(s.error)}</td><td class="num">${fmt(s.cost)}</td><td class="num">${fmtInt(s.evals)}</td></tr>`).join("")
      || `<tr><td colspan="6" class="muted">not in events.jsonl</td></tr>`;
    const codeKey = d.exports.c.length + ":" + d.exports.jax.length + ":" + d.errors.error;
    if (codeKey !== this.codeKey) { $("#code-c").textContent = d.exports.c; $("#code-jax").textContent = d.exports.jax; this.codeKey = codeKey; }
    if (!this.curveLoaded) { this.curveLoaded = true; this.loadCurve(d); }
  },
  async loadCurve(d) {
    try {
      const c = await api(`/api/curve?run=${encodeURIComponent(this.key)}&id=${encodeURIComponent(this.id)}`);
      $("#curve-note").textContent = `sampled: ${fmtInt(c.points)} inputs (evenly spaced in value and in float32 bit pattern); sample max ${fmt(c.max)} at x = ${fmt(c.argmax, 9)}` +
        (c.non_finite ? `; ${c.non_finite} non-finite` : "") + (d.errors.exhaustive ? `; exhaustive max ${fmt(d.errors.exhaustive.max)}` : "");
      const traces = [{ x: c.x, y: c.error, mode: "markers", marker: { size: 3, color: "#2457c5" }, name: `error (${c.unit}), sampled`, hovertemplate: "x = %{x:.9g}<br>%{y:.4g}<extra></extra>" },
        { x: [c.argmax], y: [num(c.max)], mode: "markers", marker: { size: 12, symbol: "circle-open", color: "#b42318", line: { width: 2 } }, name: "sample max" }];
      if (d.errors.exhaustive && d.errors.exhaustive.argmax !== null)
        traces.push({ x: [d.errors.exhaustive.argmax], y: [num(d.errors.exhaustive.max)], mode: "markers", marker: { size: 14, symbol: "star", color: "#111827" }, name: "exhaustive max" });
      plot("curve-plot", traces, { xaxis: { title: { text: "x" } }, yaxis: { title: { text: `error (${c.unit})` }, rangemode: "tozero" }, legend: { orientation: "h", x: 0, y: 1.15 }, margin: { l: 60, r: 10, t: 40, b: 45 } });
    } catch (e) {
      $("#curve-note").textContent = "error curve unavailable: " + e.message;
    }
  },
};

// -- several runs ------------------------------------------------------------------------------
const CompareView = {
  mount(root, keys) {
    this.keys = keys;
    root.innerHTML = `<h2>Compare fronts</h2><p id="compare-pick"></p><div class="card"><div id="compare-plot" class="plot" style="height:460px"></div></div>
      <table id="compare-table" style="margin-top:1em"><thead><tr><th>run</th><th>target</th><th>interval</th><th>status</th><th>evaluations</th><th>front</th><th>problem</th></tr></thead><tbody></tbody></table>`;
    $("#compare-pick").addEventListener("change", (ev) => {
      const k = ev.target.dataset.key;
      ev.target.checked ? selected.add(k) : selected.delete(k);
      saveSelected();
      location.hash = "#/compare?runs=" + [...selected].map(encodeURIComponent).join(",");
    });
  },
  async refresh() {
    const all = await api("/api/runs");
    $("#compare-pick").innerHTML = all.runs.map((r) => `<label class="chip"><input type="checkbox" data-key="${esc(r.key)}" ${this.keys.includes(r.key) ? "checked" : ""}> ${esc(r.key)}</label>`).join(" ");
    $("#where").textContent = "compare";
    if (!this.keys.length) { $("#compare-plot").innerHTML = '<p class="muted">tick runs above</p>'; return; }
    const d = await api("/api/compare?" + this.keys.map((k) => "run=" + encodeURIComponent(k)).join("&"));
    const traces = [];
    d.runs.forEach((r, i) => {
      const color = seriesColor(i);
      const pts = (r.members || []).filter((m) => Number.isFinite(num(m.error)));
      traces.push({ x: pts.map((m) => m.cost), y: pts.map((m) => floorLog(m.error)), customdata: pts.map((m) => m.id), mode: "lines+markers", name: r.key, meta: "front",
        line: { shape: "hv", color, width: 1.5 }, marker: { color, size: pts.map((m) => (m.verified ? 12 : 7)), symbol: pts.map((m) => (m.verified ? "star" : "circle")) },
        text: pts.map((m) => `${esc(r.key)} #${m.id}: ${fmt(m.error)} (${m.error_on}), ${m.ops} ops`), hovertemplate: "%{text}<extra></extra>" });
    });
    plot("compare-plot", traces, { uirevision: this.keys.join(","), yaxis: { ...LOG, title: { text: "max error (ULP; stars: verified on every float32)" } }, xaxis: { title: { text: "cost" } } });
    $("#compare-table tbody").innerHTML = d.runs.map((r) => `<tr><td><a href="${runHref(r.key)}">${esc(r.key)}</a></td><td>${esc(r.expr ?? "–")}</td><td>${interval(r.interval)}</td>
      <td>${r.status ? badge(r.status) : ""}</td><td class="num">${fmtInt(r.evals)}</td><td class="num">${(r.members || []).length}</td><td>${esc(r.problem || r.error || "")}</td></tr>`).join("");
  },
};

// -- routing and polling -----------------------------------------------------------------------
let current = null, busy = false, failures = 0;
// When (ms after navigation) the first data and each plot were shown: read by evo.dashboard.bench.
const timings = (window.evoTimings = {});

function route() {
  const h = location.hash || "#/";
  const root = $("#view");
  pendingPlots.clear();
  if (window.Plotly) document.querySelectorAll(".js-plotly-plot").forEach((el) => Plotly.purge(el));
  let m;
  if ((m = h.match(/^#\/run\/([^/]+)\/member\/([^/?]+)$/))) {
    current = MemberView; MemberView.mount(root, decodeURIComponent(m[1]), decodeURIComponent(m[2]));
  } else if ((m = h.match(/^#\/run\/([^/?]+)$/))) {
    current = RunView; RunView.mount(root, decodeURIComponent(m[1]));
  } else if (h.startsWith("#/compare")) {
    const q = new URLSearchParams(h.split("?")[1] || "");
    const keys = (q.get("runs") || "").split(",").filter(Boolean).map(decodeURIComponent);
    keys.forEach((k) => selected.add(k)); saveSelected();
    current = CompareView; CompareView.mount(root, keys);
  } else {
    current = RunsView; RunsView.mount(root);
  }
  current.gone = false;
  tick(true);
}

async function tick(force = false) {
  if (busy || current.gone || (!force && document.hidden)) return;
  busy = true;
  const view = current;
  try {
    await view.refresh();
    timings.data = timings.data || performance.now();
    failures = 0;
    $("#view-error").innerHTML = "";
    $("#live").textContent = "live"; $("#live").className = "";
  } catch (e) {
    if (view !== MemberView) $("#view-error").innerHTML = problemsHtml([e.status === 404 ? e.message + " (reload the page to look again)" : e.message]);
    if (e.status === 404) {
      view.gone = true;  // the server answered: what the page shows is not there, and polling stops
      $("#live").textContent = "not found"; $("#live").className = "stale";
    } else {
      failures += 1;
      $("#live").textContent = failures > 2 ? "server not answering" : "retrying…"; $("#live").className = "stale";
      console.warn(e);
    }
  } finally {
    busy = false;
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  const js = document.getElementById("plotly-js");
  if (window.Plotly) drawPending(); else js.addEventListener("load", drawPending);
  js.addEventListener("error", () => { $("#view-error").innerHTML = problemsHtml(["/static/plotly-basic.min.js did not load: plots cannot be drawn"]); });
  route();
  setInterval(tick, POLL_MS);
});
