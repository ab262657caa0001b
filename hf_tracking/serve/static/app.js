// hf-tracking dashboard: the runs table, the curves and the run page, over /api/*.
"use strict";

const COLORS = ["#2a6fdb", "#e4572e", "#29a36a", "#9b5de5", "#f2a541", "#17becf", "#d6336c", "#6c757d"];
const LEDGER = { train: "#2a9d8f", eval: "#e9c46a", checkpoint: "#e76f51", other: "#8d99ae" };
const AXIS_TITLES = {
  "time/gradient_steps": "gradient steps", "time/wallclock_hours": "wallclock hours",
  "time/tokens_seen": "tokens seen", compute: "compute (FLOPs)",
};
const state = {
  runs: [], selected: [], sortKey: "updated", sortDir: -1, filter: "", tag: "",
  y: "train/loss", x: "time/gradient_steps", logX: false, logY: false, smoothing: 0,
  range: null, series: null, seen: {}, view: "list", runId: null, started: false,
};
// What the tests and the benchmark read: how many times the plot was drawn, and when first.
window.hfDashboard = { state, draws: 0, firstDrawMs: null, lastDrawAt: null };

const $ = (id) => document.getElementById(id);
// This script runs before plotly.min.js (a few MB to compile), so the first requests are on
// their way while it loads; drawing waits for it.
const plotlyReady = new Promise((resolve) => {
  if (window.Plotly) resolve();
  else $("plotly-js").addEventListener("load", resolve);
});
const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function api(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function fmtNumber(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return "";
  if (typeof value !== "number") return String(value);
  const abs = Math.abs(value);
  if (abs >= 1e12) return (value / 1e12).toFixed(2) + "T";
  if (abs >= 1e9) return (value / 1e9).toFixed(2) + "B";
  if (abs >= 1e6) return (value / 1e6).toFixed(2) + "M";
  if (abs >= 1e4) return (value / 1e3).toFixed(1) + "k";
  if (Number.isInteger(value)) return String(value);
  return value.toPrecision(digits);
}

function fmtHours(hours) {
  if (hours === null || hours === undefined) return "";
  const seconds = hours * 3600;
  if (seconds < 60) return seconds.toFixed(1) + " s";
  if (seconds < 3600) return (seconds / 60).toFixed(1) + " min";
  return `${Math.floor(hours)}h ${String(Math.round((hours % 1) * 60)).padStart(2, "0")}m`;
}

const COLUMNS = [
  { key: "status", title: "status", left: true, cell: (r) =>
    `<span class="dot${r.live ? " live" : ""}"></span><span class="status-${esc(r.status)}">${esc(r.status)}</span>` },
  { key: "name", title: "run", left: true, cell: (r) =>
    `<span class="swatch" style="background:${colorOf(r.id)}"></span><a href="#run=${encodeURIComponent(r.id)}">${esc(r.name)}</a>` },
  { key: "steps", title: "steps", cell: (r) => fmtNumber(r.steps) },
  { key: "tokens", title: "tokens", cell: (r) => fmtNumber(r.tokens) },
  { key: "wallclock_hours", title: "wallclock", cell: (r) => fmtHours(r.wallclock_hours) },
  { key: "best_val_loss", title: "best val loss", cell: (r) => fmtNumber(r.best_val_loss) },
  { key: "last_train_loss", title: "train loss", cell: (r) => fmtNumber(r.last_train_loss) },
  { key: "tokens_per_second", title: "tokens/s", cell: (r) => fmtNumber(r.tokens_per_second, 3) },
  { key: "goodput_pct", title: "goodput %", cell: (r) => fmtNumber(r.goodput_pct, 3) },
  { key: "mfu_pct", title: "MFU %", cell: (r) => fmtNumber(r.mfu_pct, 3) },
  { key: "tags", title: "tags", left: true, cell: (r) => (r.tags || []).map((t) => `<span class="tag">${esc(t)}</span>`).join("") },
];

function colorOf(id) {
  const at = state.selected.indexOf(id);
  return at < 0 ? "#d5d9e0" : COLORS[at % COLORS.length];
}

function differingKeys() {
  const chosen = state.runs.filter((r) => state.selected.includes(r.id));
  if (chosen.length < 2) return [];
  const keys = new Set(chosen.flatMap((r) => Object.keys(r.config || {})));
  return [...keys].sort().filter((key) => new Set(chosen.map((r) => JSON.stringify(r.config[key]))).size > 1);
}

function visibleRuns() {
  const text = state.filter.toLowerCase();
  const rows = state.runs.filter((r) =>
    (!text || r.name.toLowerCase().includes(text) || (r.tags || []).some((t) => String(t).toLowerCase().includes(text)))
    && (!state.tag || (r.tags || []).includes(state.tag)));
  const key = state.sortKey;
  const value = (r) => (key.startsWith("config.") ? r.config[key.slice(7)] : r[key]);
  return rows.sort((a, b) => {
    const va = value(a), vb = value(b);
    if (va === vb) return 0;
    if (va === null || va === undefined) return 1;
    if (vb === null || vb === undefined) return -1;
    return (va < vb ? -1 : 1) * state.sortDir;
  });
}

function renderTable() {
  const diffs = differingKeys();
  const columns = [...COLUMNS, ...diffs.map((key) => ({
    key: "config." + key, title: key, diff: true, cell: (r) => esc(fmtNumber(r.config[key])),
  }))];
  const arrow = (key) => (state.sortKey === key ? (state.sortDir > 0 ? " ▲" : " ▼") : "");
  $("runs").tHead.innerHTML = "<tr><th></th>" + columns.map((c) =>
    `<th data-key="${esc(c.key)}" class="${c.left ? "left" : ""}${c.diff ? " diff" : ""}">${esc(c.title)}${arrow(c.key)}</th>`).join("") + "</tr>";
  const rows = visibleRuns();
  $("runs").tBodies[0].innerHTML = rows.map((r) => {
    const on = state.selected.includes(r.id);
    return `<tr data-id="${esc(r.id)}" class="${on ? "selected" : ""}"><td><input type="checkbox" class="pick" ${on ? "checked" : ""}></td>` +
      columns.map((c) => `<td class="${c.left ? "left" : ""}">${c.cell(r)}</td>`).join("") + "</tr>";
  }).join("");
  $("count").textContent = `${rows.length} of ${state.runs.length} runs, ${state.selected.length} selected`;
  const tags = [...new Set(state.runs.flatMap((r) => r.tags || []))].sort();
  const tagSelect = $("tag-filter");
  if (tagSelect.options.length !== tags.length + 1) {
    tagSelect.innerHTML = `<option value="">all tags</option>` + tags.map((t) => `<option>${esc(t)}</option>`).join("");
    tagSelect.value = state.tag;
  }
  const live = state.runs.filter((r) => r.live).length;
  $("live-note").textContent = live ? `${live} running` : "";
}

async function loadRuns() {
  const answer = await api("/api/runs");
  state.runs = answer.runs;
  const ids = new Set(state.runs.map((r) => r.id));
  state.selected = state.selected.filter((id) => ids.has(id));
  if (!state.started && state.runs.length) {
    state.started = true;
    const newest = [...state.runs].sort((a, b) => (b.updated || 0) - (a.updated || 0))[0];
    const wanted = new URLSearchParams(location.search).getAll("run").filter((id) => ids.has(id));
    state.selected = wanted.length ? wanted : [newest.id];
    await Promise.all([loadKeys(), refreshSeries()]);
  }
  renderTable();
  return answer;
}

async function loadKeys() {
  const select = $("y-key");
  if (!state.selected.length) return;
  const query = state.selected.map((id) => "run=" + encodeURIComponent(id)).join("&");
  const answer = await api("/api/keys?" + query);
  const names = [...new Set(Object.values(answer.keys).flat())].sort();
  if (!names.includes(state.y) && names.length) state.y = names.includes("train/loss") ? "train/loss" : names[0];
  select.innerHTML = names.map((n) => `<option${n === state.y ? " selected" : ""}>${esc(n)}</option>`).join("");
}

function plotWidth() { return Math.max(400, $("plot").clientWidth || 800); }

let seriesRequest = 0;
async function refreshSeries() {
  if (!state.selected.length) { state.series = null; draw(); return; }
  const params = new URLSearchParams();
  state.selected.forEach((id) => params.append("run", id));
  params.set("y", state.y);
  params.set("x", state.x);
  params.set("points", String(Math.min(4000, 2 * plotWidth())));
  if (state.range) { params.set("lo", state.range[0]); params.set("hi", state.range[1]); }
  const ticket = ++seriesRequest;
  const answer = await api("/api/series?" + params);
  if (ticket !== seriesRequest) return;  // a newer request is on its way
  state.series = answer;
  answer.runs.forEach((r) => { state.seen[r.id] = { rows: r.rows, status: r.status }; });
  draw();
}

// Exponential moving average with bias correction (as Adam's first moment): the first points
// are not pulled toward zero. Non-finite values are skipped.
function ema(values, weight) {
  const out = new Array(values.length);
  let mean = 0, norm = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) { mean = weight * mean + (1 - weight) * v; norm = weight * norm + (1 - weight); }
    out[i] = norm > 0 ? mean / norm : null;
  }
  return out;
}
window.hfDashboard.ema = ema;

// The server sends at most about two points per pixel column, which SVG draws in milliseconds;
// a WebGL context costs far more to start (over a second in a software renderer), so WebGL
// (scattergl) is used only for a trace past GL_POINTS (?gl=1 forces it, ?gl=0 never).
const GL_POINTS = 8000;
const glParam = new URLSearchParams(location.search).get("gl");
let webgl = null;  // probed once, only when a trace could use it
function hasWebgl() {
  if (webgl === null) {
    try { webgl = !!document.createElement("canvas").getContext("webgl"); } catch (e) { webgl = false; }
  }
  return webgl;
}
const traceType = (points) =>
  (glParam !== "0" && (glParam === "1" || points > GL_POINTS) && hasWebgl() ? "scattergl" : "scatter");

async function draw() {
  await plotlyReady;
  const plot = $("plot");
  const traces = [], shapes = [];
  const hover = (name) => `${esc(name)}<br>${AXIS_TITLES[state.x]}: %{x:.10~g}<br>${esc(state.y)}: %{y:.10~g}<extra></extra>`;
  let shown = 0, total = 0;
  for (const run of state.series ? state.series.runs : []) {
    const color = colorOf(run.id);
    if (run.line) {
      shown += run.line.x.length; total += run.total || 0;
      const smooth = state.smoothing > 0;
      traces.push({ type: traceType(run.line.x.length), mode: "lines", x: run.line.x, y: run.line.y, name: run.name,
        line: { color, width: smooth ? 1 : 1.6 }, opacity: smooth ? 0.25 : 1,
        legendgroup: run.id, showlegend: !smooth, hovertemplate: hover(run.name), meta: { role: "raw", run: run.id } });
      if (smooth) {
        traces.push({ type: traceType(run.line.x.length), mode: "lines", x: run.line.x, y: ema(run.line.y, state.smoothing), name: run.name,
          line: { color, width: 2 }, legendgroup: run.id, hovertemplate: hover(run.name + " (smoothed)"),
          meta: { role: "smoothed", run: run.id } });
      }
    }
    if (run.points && run.points.x.length) {
      traces.push({ type: traceType(run.points.x.length), mode: "markers", x: run.points.x, y: run.points.y, name: `${run.name} ${run.points_key}`,
        marker: { color, size: 7, symbol: "diamond", line: { color: "#fff", width: 1 } }, legendgroup: run.id,
        hovertemplate: hover(`${run.name} ${run.points_key}`), meta: { role: "val", run: run.id } });
    }
    for (const mark of run.checkpoints || []) {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: mark.x, x1: mark.x, y0: 0, y1: 1,
        line: { color, width: 1, dash: "dot" }, opacity: 0.6 });
    }
    for (const mark of run.resumes || []) {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: mark.x, x1: mark.x, y0: 0, y1: 1,
        line: { color: "#000", width: 1.5, dash: "dash" }, label: { text: "resume", textposition: "start", font: { size: 10 } } });
    }
  }
  const xaxis = { title: { text: AXIS_TITLES[state.x] }, type: state.logX ? "log" : "linear", showspikes: true };
  if (state.range) {
    xaxis.range = state.logX ? state.range.map((v) => Math.log10(Math.max(v, 1e-300))) : [...state.range];
  } else {
    xaxis.autorange = true;
  }
  const layout = {
    margin: { l: 60, r: 20, t: 16, b: 46 }, hovermode: "closest", shapes, xaxis,
    yaxis: { title: { text: state.y }, type: state.logY ? "log" : "linear", autorange: true },
    legend: { orientation: "h", y: -0.2 }, uirevision: `${state.x}|${state.y}|${state.logX}|${state.logY}`,
    paper_bgcolor: "#fff", plot_bgcolor: "#fff",
  };
  $("plot-note").textContent = total ? `${fmtNumber(shown)} of ${fmtNumber(total)} points drawn` : "";
  await Plotly.react(plot, traces, layout, { responsive: true, displaylogo: false });
  const info = window.hfDashboard;
  info.draws += 1;
  info.lastDrawAt = performance.now();
  if (info.firstDrawMs === null && traces.length) info.firstDrawMs = performance.now();
  if (!plot.hfListening) {
    plot.hfListening = true;
    plot.on("plotly_relayout", onZoom);
  }
}

let zoomTimer = null;
function onZoom(event) {
  let range = null;
  if (event["xaxis.range[0]"] !== undefined) range = [event["xaxis.range[0]"], event["xaxis.range[1]"]];
  else if (Array.isArray(event["xaxis.range"])) range = event["xaxis.range"];
  else if (!event["xaxis.autorange"]) return;
  if (range) {
    range = range.map(Number);
    if (state.logX) range = range.map((v) => 10 ** v);
  }
  state.range = range;
  clearTimeout(zoomTimer);
  zoomTimer = setTimeout(refreshSeries, 120);  // re-downsample the zoomed range on the server
}

function pollDelay() { return state.runs.some((r) => r.status === "running") ? 1000 : 5000; }

async function poll() {
  try {
    if (state.view === "list") {
      await loadRuns();
      // A selected run that is still writing (or just stopped) is read again; finished runs are not.
      const stale = state.runs.some((r) => state.selected.includes(r.id) && state.seen[r.id] &&
        (state.seen[r.id].status === "running" || r.status === "running") &&
        (r.rows !== state.seen[r.id].rows || r.status !== state.seen[r.id].status));
      if (stale) await refreshSeries();
    } else if (state.view === "run") {
      await renderRun(state.runId, true);
    }
  } catch (error) {
    $("plot-note").textContent = `server unreachable (${error.message}); retrying`;
  }
  setTimeout(poll, pollDelay());
}

function kv(rows) {
  return "<table>" + rows.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("") + "</table>";
}

async function renderRun(id, quiet) {
  const detail = await api("/api/run?id=" + encodeURIComponent(id));
  const s = detail.summary || {}, r = detail.row, ledger = s.time_ledger_hours || {};
  const wall = ledger.wallclock || Object.entries(ledger).reduce((a, [k, v]) => (k in LEDGER ? a + v : a), 0);
  const parts = Object.keys(LEDGER).filter((k) => ledger[k] > 0);
  const bar = wall ? `<div class="ledger">${parts.map((k) =>
    `<span title="${k}: ${fmtHours(ledger[k])}" style="width:${100 * ledger[k] / wall}%;background:${LEDGER[k]}"></span>`).join("")}</div>
    <div class="legend">${parts.map((k) => `<span><span class="swatch" style="background:${LEDGER[k]}"></span>${k} ${fmtHours(ledger[k])} (${(100 * ledger[k] / wall).toFixed(1)}%)</span>`).join("")}</div>` : "<p>no time ledger yet (the summary is written at the end)</p>";
  const tp = s.throughput || {}, st = s.step_time_seconds || {}, fl = s.flops || {}, mem = s.memory || {}, hw = s.hardware || {};
  const fpt = fl.flops_per_token || {};
  const gpus = (hw.gpus || []).map((g) => typeof g === "object" ? `${g.name || "GPU"} ${g.memory_gb ? g.memory_gb + " GB" : ""}` : g).join(", ");
  const backends = (detail.backends || []).map((b) => `<tr><td>${esc(b.name)}</td><td>${esc(b.status)}</td><td>${esc(b.records_written)}</td><td>${esc(b.error || "")}</td></tr>`).join("");
  const eventKeys = [...new Set(detail.events.flatMap((e) => Object.keys(e)))].filter((k) => !["event", "time/wallclock_hours", "time/tokens_seen"].includes(k));
  const events = detail.events.slice().reverse().map((e) => `<tr><td class="left">${esc(e.event)}</td>${eventKeys.filter((k) => k !== "event").map((k) => `<td>${esc(fmtNumber(e[k], 5))}</td>`).join("")}</tr>`).join("");
  $("run-body").innerHTML = `
    <h2><span class="dot${r.live ? " live" : ""}"></span>${esc(r.name)} <small class="status-${esc(r.status)}">${esc(r.status)}</small></h2>
    <p>${esc(r.dir)} · ${detail.rows} rows${s.error ? ` · error: ${esc(s.error)}` : ""}${r.resumes ? ` · resumed ${r.resumes} time(s)` : ""}</p>
    <div class="cards">
      <div class="card"><h3>Time ledger</h3>${bar}${kv([["goodput", s.goodput_pct != null ? s.goodput_pct.toFixed(1) + " %" : ""], ["wallclock", fmtHours(r.wallclock_hours)]])}</div>
      <div class="card"><h3>Progress</h3>${kv([["steps", `${fmtNumber(r.steps)}${r.planned_steps ? " of " + fmtNumber(r.planned_steps) : ""}`], ["tokens", fmtNumber(r.tokens)], ["last train loss", fmtNumber(r.last_train_loss)], ["best val loss", fmtNumber(r.best_val_loss)], ["evaluations", (s.totals || {}).evaluations], ["checkpoints", (s.totals || {}).checkpoints], ["non-finite values", (s.totals || {}).nonfinite_count]])}</div>
      <div class="card"><h3>Throughput</h3>${kv([["mean tokens/s", fmtNumber(tp.mean_tokens_per_second, 4)], ["p50 tokens/s", fmtNumber(tp.p50_tokens_per_second, 4)], ["latest tokens/s", fmtNumber(r.tokens_per_second, 4)], ["step time p50", st.p50 != null ? (st.p50 * 1000).toFixed(2) + " ms" : ""], ["step time p95", st.p95 != null ? (st.p95 * 1000).toFixed(2) + " ms" : ""], ["clock", tp.clock]])}</div>
      <div class="card"><h3>FLOPs</h3>${kv([["per token", fmtNumber(fpt.total, 4)], ["parameters term", fmtNumber(fpt.parameters, 4)], ["attention term", fmtNumber(fpt.attention, 4)], ["output head term", fmtNumber(fpt.output_head, 4)], ["convention", fpt.convention], ["device", fl.device], ["dtype", fl.dtype], ["peak TFLOP/s", fl.peak_tflops], ["MFU %", fmtNumber(r.mfu_pct, 3)], ["note", fl.mfu_note]])}</div>
      <div class="card"><h3>Memory</h3>${kv([...Object.entries(mem.gpu_peak_allocated_gb || {}).map(([k, v]) => [`${k} peak allocated`, v.toFixed(2) + " GB"]), ["process peak RSS", mem.process_peak_rss_gb != null ? mem.process_peak_rss_gb.toFixed(2) + " GB" : ""]])}</div>
      <div class="card"><h3>Hardware</h3>${kv([["host", hw.hostname], ["CPU", `${hw.cpu || ""} (${hw.cpu_count || "?"} cores)`], ["RAM", hw.host_memory_gb ? hw.host_memory_gb + " GB" : ""], ["GPUs", gpus || "none"], ["world size", s.world_size], ...Object.entries(hw.versions || {})])}</div>
      <div class="card"><h3>Backends</h3><table><tr><td>name</td><td>status</td><td>records</td><td>error</td></tr>${backends}</table>
        ${detail.sync_command ? `<p>W&amp;B offline run; upload it with:</p><pre>${esc(detail.sync_command)}</pre>` : ""}</div>
    </div>
    <h3>Config</h3><div class="card">${kv(Object.entries(detail.row.config).map(([k, v]) => [k, JSON.stringify(v)]))}</div>
    <h3>Events (${detail.events.length})</h3>
    <div class="card events"><table><tr><th class="left">event</th>${eventKeys.filter((k) => k !== "event").map((k) => `<th>${esc(k)}</th>`).join("")}</tr>${events}</table></div>`;
  if (!quiet) window.scrollTo(0, 0);
}

function route() {
  const match = location.hash.match(/^#run=(.+)$/);
  state.view = match ? "run" : "list";
  state.runId = match ? decodeURIComponent(match[1]) : null;
  $("list-view").hidden = state.view !== "list";
  $("run-view").hidden = state.view !== "run";
  if (state.view === "run") renderRun(state.runId).catch((e) => { $("run-body").textContent = e.message; });
  else if (state.series) plotlyReady.then(() => Plotly.Plots.resize($("plot")));
}

function bind() {
  $("filter").addEventListener("input", (e) => { state.filter = e.target.value; renderTable(); });
  $("tag-filter").addEventListener("change", (e) => { state.tag = e.target.value; renderTable(); });
  $("runs").addEventListener("click", async (e) => {
    const th = e.target.closest("th[data-key]");
    if (th) {
      const key = th.dataset.key;
      state.sortDir = state.sortKey === key ? -state.sortDir : 1;
      state.sortKey = key;
      renderTable();
      return;
    }
    if (!e.target.classList.contains("pick")) return;
    const id = e.target.closest("tr").dataset.id;
    state.selected = e.target.checked ? [...state.selected, id] : state.selected.filter((x) => x !== id);
    renderTable();
    await loadKeys();
    await refreshSeries();
  });
  $("y-key").addEventListener("change", (e) => { state.y = e.target.value; state.range = null; refreshSeries(); });
  $("x-key").addEventListener("change", (e) => { state.x = e.target.value; state.range = null; refreshSeries(); });
  $("log-x").addEventListener("change", (e) => { state.logX = e.target.checked; state.range = null; draw(); });
  $("log-y").addEventListener("change", (e) => { state.logY = e.target.checked; draw(); });
  $("smoothing").addEventListener("input", (e) => {
    state.smoothing = Number(e.target.value);
    $("smoothing-value").textContent = state.smoothing.toFixed(2);
    draw();
  });
  $("reset-zoom").addEventListener("click", () => { state.range = null; refreshSeries(); });
  window.addEventListener("hashchange", route);
}

async function main() {
  bind();
  route();
  try {
    const answer = await loadRuns();
    $("where").textContent = [...new Set(answer.runs.map((r) => r.dir))].join(", ");
  } catch (error) {
    $("count").textContent = `cannot list runs: ${error.message}`;
  }
  setTimeout(poll, pollDelay());
}

main();
