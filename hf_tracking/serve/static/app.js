// hf-tracking dashboard: the runs table, the curves and the run page, over /api/*.
"use strict";

const COLORS = ["#2a6fdb", "#e4572e", "#29a36a", "#9b5de5", "#f2a541", "#17becf", "#d6336c", "#6c757d"];
const AXIS_TITLES = {
  "time/gradient_steps": "gradient steps", "time/wallclock_hours": "wallclock hours",
  "time/tokens_seen": "tokens seen", compute: "compute (FLOPs)",
};
// The server sorts, filters and pages the runs (/api/runs): state.runs is the page shown,
// state.chosen the rows of the selected runs wherever they sort.
const PAGE = 100;
const state = {
  runs: [], chosen: [], total: 0, matched: 0, offset: 0, tags: [], live: 0,
  selected: [], sortKey: "updated", sortDir: -1, filter: "", tag: "",
  y: "train/loss", x: "time/gradient_steps", logX: false, logY: false, smoothing: 0,
  range: null, series: null, seen: {}, view: "list", runId: null, started: false,
};
// What the tests and the benchmark read: plotly's draws, when the table and the first curve were
// shown and plotly was ready (ms from navigation), and what sketch.js drew.
window.hfDashboard = {
  state, workspace, draws: 0, lastDrawAt: null, tableShownMs: null, firstPaintMs: null, interactiveMs: null, sketch: null,
};

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
  { key: "alerts", title: "alerts", cell: (r) =>
    (r.alerts ? `<span class="alerts">${fmtNumber(r.alerts)}</span>` : fmtNumber(r.alerts)) },
  { key: "tags", title: "tags", left: true, cell: (r) => (r.tags || []).map((t) => `<span class="tag">${esc(t)}</span>`).join("") },
];

function colorOf(id) {
  const at = state.selected.indexOf(id);
  return at < 0 ? "#d5d9e0" : COLORS[at % COLORS.length];
}

function differingKeys() {
  const chosen = state.chosen;
  if (chosen.length < 2) return [];
  const keys = new Set(chosen.flatMap((r) => Object.keys(r.config || {})));
  return [...keys].sort().filter((key) => new Set(chosen.map((r) => JSON.stringify(r.config[key]))).size > 1);
}

function renderTable() {
  const diffs = differingKeys();
  const columns = [...COLUMNS, ...diffs.map((key) => ({
    key: "config." + key, title: key, diff: true, cell: (r) => esc(fmtNumber(r.config[key])),
  }))];
  const arrow = (key) => (state.sortKey === key ? (state.sortDir > 0 ? " ▲" : " ▼") : "");
  const head = "<tr><th></th>" + columns.map((c) =>
    `<th data-key="${esc(c.key)}" class="${c.left ? "left" : ""}${c.diff ? " diff" : ""}">${esc(c.title)}${arrow(c.key)}</th>`).join("") + "</tr>";
  const table = $("runs");
  if (table.hfHead !== head) { table.tHead.innerHTML = head; table.hfHead = head; }
  // Rows are updated in place, by id, cell by cell and only where a cell changed: a poll every
  // second must not replace the checkbox or link under the user's pointer.
  const rows = state.runs;
  const body = table.tBodies[0];
  const unused = new Map([...body.rows].map((tr) => [tr.dataset.id, tr]));
  rows.forEach((r, position) => {
    const on = state.selected.includes(r.id);
    const cells = [`<input type="checkbox" class="pick" ${on ? "checked" : ""}>`, ...columns.map((c) => c.cell(r))];
    let tr = unused.get(r.id);
    unused.delete(r.id);
    if (!tr) { tr = document.createElement("tr"); tr.dataset.id = r.id; }
    while (tr.cells.length > cells.length) tr.deleteCell(-1);
    while (tr.cells.length < cells.length) tr.insertCell();
    cells.forEach((html, i) => {
      const td = tr.cells[i];
      if (td.hfHtml !== html) { td.innerHTML = html; td.hfHtml = html; }
      td.className = i && columns[i - 1].left ? "left" : "";
    });
    tr.className = on ? "selected" : "";
    if (body.rows[position] !== tr) body.insertBefore(tr, body.rows[position] || null);
  });
  unused.forEach((tr) => tr.remove());
  const last = state.offset + rows.length;
  $("count").textContent = (state.matched > rows.length ? `${state.offset + 1}–${last} of ` : "")
    + `${state.matched} ${state.matched === state.total ? "" : `matching of ${state.total} `}runs, ${state.selected.length} selected`;
  $("prev-page").disabled = state.offset === 0;
  $("next-page").disabled = last >= state.matched;
  if (rows.length && window.hfDashboard.tableShownMs === null) window.hfDashboard.tableShownMs = performance.now();
  const tags = state.tags;
  const tagSelect = $("tag-filter");
  if (tagSelect.options.length !== tags.length + 1) {
    tagSelect.innerHTML = `<option value="">all tags</option>` + tags.map((t) => `<option value="${esc(t)}">${esc(t)}</option>`).join("");
    tagSelect.value = state.tag;
  }
  $("live-note").textContent = state.live ? `${state.live} running` : "";
}

function runsQuery() {
  const params = new URLSearchParams({ offset: state.offset, limit: PAGE, sort: state.sortKey, dir: state.sortDir > 0 ? "asc" : "desc" });
  if (state.filter) params.set("q", state.filter);
  if (state.tag) params.set("tag", state.tag);
  const wanted = state.started ? state.selected : new URLSearchParams(location.search).getAll("run");
  wanted.forEach((id) => params.append("run", id));
  return "/api/runs?" + params;
}

let runsRequest = 0;
async function loadRuns() {
  const ticket = ++runsRequest;
  const answer = await api(runsQuery());
  if (ticket !== runsRequest) return answer;  // a newer page or order is on its way
  Object.assign(state, { runs: answer.runs, total: answer.total, matched: answer.matched, tags: answer.tags, live: answer.live });
  const known = new Set(answer.selected.map((r) => r.id));
  if (!state.started && answer.total) {
    state.started = true;
    state.selected = known.size ? [...known] : [answer.newest];
    state.chosen = answer.selected.length ? answer.selected : answer.runs.filter((r) => r.id === answer.newest);
    if (!state.chosen.length) state.chosen = (await api("/api/runs?limit=0&run=" + encodeURIComponent(answer.newest))).selected;
    renderTable();
    await Promise.all([loadKeys(), refreshSeries()]);
  } else {
    state.selected = state.selected.filter((id) => known.has(id));
    // An answer asked for before a run was unticked may still list it.
    state.chosen = answer.selected.filter((r) => state.selected.includes(r.id));
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
  renderPanels(answer.panels);
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
  if (state.smoothing > 0) params.set("smooth", String(state.smoothing));
  const ticket = ++seriesRequest;
  // A run not read yet is indexed on this request (seconds for millions of rows).
  const slow = setTimeout(() => { $("plot-note").textContent = "reading metrics…"; }, 300);
  const answer = await api("/api/series?" + params).finally(() => clearTimeout(slow));
  if (ticket !== seriesRequest) return;  // a newer request is on its way
  state.series = answer;
  answer.runs.forEach((r) => { state.seen[r.id] = { rows: r.rows, status: r.status }; });
  draw();
  syncUrl();
  schedulePanels();
}

// Every second while a run is running or a selected run's metrics are still being read.
function pollDelay() {
  const reading = state.series && state.series.runs.some((r) => !r.complete);
  return reading || state.live || state.chosen.some((r) => r.status === "running") ? 1000 : 5000;
}

async function poll() {
  try {
    if (state.view === "list") {
      await loadRuns();
      // A selected run that is still writing (or just stopped) is read again; finished runs are not.
      const stale = state.chosen.some((r) => state.seen[r.id] &&
        (state.seen[r.id].status === "running" || r.status === "running") &&
        (r.rows !== state.seen[r.id].rows || r.status !== state.seen[r.id].status))
        || (state.series && state.series.runs.some((r) => !r.complete));  // still being read
      if (stale) await refreshSeries();
    } else if (state.view === "run" && state.runStatus === "running") {
      state.runStatus = await renderRun(state.runId, true);  // a finished run is not read again
    }
  } catch (error) {
    $("plot-note").textContent = `server unreachable (${error.message}); retrying`;
  }
  setTimeout(poll, pollDelay());
}

function route() {
  const match = location.hash.match(/^#run=(.+)$/);
  state.view = match ? "run" : "list";
  state.runId = match ? decodeURIComponent(match[1]) : null;
  $("list-view").hidden = state.view !== "list";
  $("run-view").hidden = state.view !== "run";
  if (state.view === "run") {
    renderRun(state.runId).then((status) => { state.runStatus = status; })
      .catch((e) => { $("run-body").textContent = e.message; });
  }
  else if (state.series && window.Plotly) Plotly.Plots.resize($("plot"));
  else if (state.series) draw();  // not sketched while the list was hidden
}

function bind() {
  let typing = null, smoothTimer = null;
  $("filter").addEventListener("input", (e) => {
    state.filter = e.target.value; state.offset = 0;
    clearTimeout(typing); typing = setTimeout(loadRuns, 150);
  });
  $("tag-filter").addEventListener("change", (e) => { state.tag = e.target.value; state.offset = 0; loadRuns(); });
  $("prev-page").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadRuns(); });
  $("next-page").addEventListener("click", () => { state.offset += PAGE; loadRuns(); });
  $("runs").addEventListener("click", async (e) => {
    const th = e.target.closest("th[data-key]");
    if (th) {
      const key = th.dataset.key;
      state.sortDir = state.sortKey === key ? -state.sortDir : 1;
      state.sortKey = key;
      state.offset = 0;
      loadRuns();
      return;
    }
    if (!e.target.classList.contains("pick")) return;
    const id = e.target.closest("tr").dataset.id;
    state.selected = e.target.checked ? [...state.selected, id] : state.selected.filter((x) => x !== id);
    const row = state.runs.find((r) => r.id === id);
    state.chosen = e.target.checked ? [...state.chosen, row] : state.chosen.filter((r) => r.id !== id);
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
    clearTimeout(smoothTimer);
    smoothTimer = setTimeout(refreshSeries, 120);  // smoothed on the server, over every row
  });
  $("reset-zoom").addEventListener("click", () => { state.range = null; refreshSeries(); });
  window.addEventListener("hashchange", route);
}

async function main() {
  readUrl();
  bind();
  bindPanels();
  route();
  try {
    const answer = await loadRuns();
    $("where").textContent = answer.dirs.join(", ");
  } catch (error) {
    $("count").textContent = `cannot list runs: ${error.message}`;
  }
  if (!state.series) loadPlotly();  // no curve to sketch first
  setTimeout(poll, pollDelay());
}

main();
