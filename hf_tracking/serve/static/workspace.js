// hf-tracking dashboard: the workspace, a grid of one panel per metric group the selected runs
// logged (the server names the groups: /api/keys' panels), all on the shared x-axis and
// smoothing, each run a line or, grouped (by a config field or "same config but seed"), each
// group its mean with a band (/api/groups). Panels are drawn after the main chart, one panel at
// a time (each fetches its own series): sketched on a canvas (sketch.js) until plotly is loaded,
// then by plotly. Collapsed, enlarged and searched panels, the grouping, with the axis,
// smoothing, metric and runs, live in the URL (syncUrl).
"use strict";

const workspace = {
  panels: [], collapsed: new Set(), big: null, find: "", group: "", band: "minmax",
  ticket: 0, timer: null, busy: false, lastPass: -Infinity,
};
const BANDS = ["minmax", "se"];

function readUrl() {
  const params = new URLSearchParams(location.search);
  if (AXIS_TITLES[params.get("x")]) state.x = params.get("x");
  const smooth = Number(params.get("smooth"));
  if (smooth > 0 && smooth < 1) state.smoothing = smooth;
  if (params.get("y")) state.y = params.get("y");
  workspace.collapsed = new Set((params.get("collapsed") || "").split(",").filter(Boolean));
  workspace.big = params.get("big") || null;
  workspace.find = params.get("find") || "";
  workspace.group = params.get("group") || "";
  if (BANDS.includes(params.get("band"))) workspace.band = params.get("band");
  $("x-key").value = state.x;
  $("smoothing").value = String(state.smoothing);
  $("smoothing-value").textContent = state.smoothing.toFixed(2);
  $("panel-search").value = workspace.find;
  $("band").value = workspace.band;
  groupOptions();
}

// The view as a link: replaced in place, so the back button is not filled with every change.
function syncUrl() {
  if (!state.started) return;
  const params = new URLSearchParams();
  state.selected.forEach((id) => params.append("run", id));
  params.set("x", state.x);
  params.set("y", state.y);
  if (state.smoothing > 0) params.set("smooth", String(state.smoothing));
  if (workspace.collapsed.size) params.set("collapsed", [...workspace.collapsed].sort().join(","));
  if (workspace.big) params.set("big", workspace.big);
  if (workspace.find) params.set("find", workspace.find);
  if (workspace.group) params.set("group", workspace.group);
  if (workspace.band !== "minmax") params.set("band", workspace.band);
  const gl = new URLSearchParams(location.search).get("gl");
  if (gl !== null) params.set("gl", gl);
  history.replaceState(null, "", `${location.pathname}?${params}${location.hash}`);
}

// "Group by": none, "same config but seed", or a config field that differs between the selected
// runs (the one in the URL is kept while the runs' rows are still on their way).
function groupOptions() {
  const fields = differingKeys();
  if (workspace.group && workspace.group !== "seed" && !fields.includes(workspace.group)) fields.push(workspace.group);
  const html = `<option value="">no grouping</option><option value="seed">same config but seed</option>`
    + fields.map((f) => `<option value="${esc(f)}">${esc(f)}</option>`).join("");
  const select = $("group-by");
  if (select.hfHtml !== html) { select.innerHTML = html; select.hfHtml = html; }
  select.value = workspace.group;
}

const panelPlot = (id) => document.querySelector(`.panel[data-panel="${CSS.escape(id)}"] .panel-plot`);

function renderPanels(panels) {
  workspace.panels = panels;
  const grid = $("panels");
  const html = panels.map((p) => {
    const shut = workspace.collapsed.has(p.id);
    const classes = ["panel", shut ? "collapsed" : "", workspace.big === p.id ? "big" : ""].join(" ");
    const exports = ["csv", "png", "svg"].map((f) =>
      `<button type="button" class="export ${f}" data-format="${f}" title="download as ${f.toUpperCase()}">${f.toUpperCase()}</button>`).join("");
    return `<div class="${classes}" data-panel="${esc(p.id)}"><div class="panel-head">`
      + `<button type="button" class="collapse" title="collapse">${shut ? "▸" : "▾"}</button>`
      + `<span class="panel-title">${esc(p.title)}</span><span class="panel-keys">${p.keys.map(esc).join(", ")}</span>`
      + `${exports}<button type="button" class="enlarge" title="enlarge">⤢</button></div><div class="panel-plot"></div></div>`;
  }).join("");
  if (grid.hfHtml !== html) { grid.innerHTML = html; grid.hfHtml = html; }
  applySearch();
  groupOptions();
}

// Panels whose title, id or any of whose names hold the search text (case aside) are shown.
function panelMatches(panel) {
  const text = workspace.find.trim().toLowerCase();
  return !text || [panel.id, panel.title, ...panel.keys].some((s) => s.toLowerCase().includes(text));
}

function applySearch() {
  let shown = 0;
  for (const panel of workspace.panels) {
    const node = document.querySelector(`.panel[data-panel="${CSS.escape(panel.id)}"]`);
    if (node) node.hidden = !panelMatches(panel);
    shown += panelMatches(panel);
  }
  $("panel-count").textContent = workspace.find ? `${shown} of ${workspace.panels.length} panels` : "";
}

// At most one pass over the panels at a time and one a second (a running run asks for its
// curves every second); a pass under way when a newer one is due stops at its next panel.
const PANEL_INTERVAL_MS = 1000;
function schedulePanels() {
  if (workspace.timer) return;  // a pass is due already
  const wait = Math.max(50, workspace.lastPass + PANEL_INTERVAL_MS - performance.now());
  workspace.timer = setTimeout(runPanels, wait);
}

async function runPanels() {
  if (workspace.busy) {
    workspace.ticket += 1;
    workspace.timer = setTimeout(runPanels, 100);
    return;
  }
  workspace.timer = null;
  workspace.busy = true;
  try {
    await drawPanels();
  } catch (error) {
    $("plot-note").textContent = `panels: ${error.message}`;
  } finally {
    workspace.busy = false;
    workspace.lastPass = performance.now();
  }
}

async function panelSeries(key) {
  const params = new URLSearchParams();
  state.selected.forEach((id) => params.append("run", id));
  params.set("y", key);
  params.set("x", state.x);
  params.set("points", "800");
  if (state.smoothing > 0) params.set("smooth", String(state.smoothing));
  if (!workspace.group) return api("/api/series?" + params);
  params.set("by", workspace.group);
  params.set("band", workspace.band);
  return api("/api/groups?" + params);
}

// Each trace carries its series' name as text (meta.label) and what it is (meta.role) for the
// CSV export; plotly is given the name with its markup characters as entities.
function panelTraces(key, answer, dash) {
  if (answer.groups) return groupTraces(key, answer, dash);
  const traces = [];
  for (const run of answer.runs) {
    if (!run.line) continue;
    const color = colorOf(run.id);
    const smooth = Array.isArray(run.line.smooth);
    const label = `${run.name} ${key}`, name = plotlyText(label);
    traces.push({ type: "scatter", mode: "lines", x: run.line.x, y: run.line.y, name,
      line: { color, width: 1.2, dash }, opacity: smooth ? 0.25 : 1, showlegend: !smooth,
      meta: { role: "raw", run: run.id, key, label } });
    if (smooth) {
      traces.push({ type: "scatter", mode: "lines", x: run.line.x, y: run.line.smooth, name,
        line: { color, width: 2, dash }, meta: { role: "smoothed", run: run.id, key, label } });
    }
  }
  return traces;
}

const tint = (hex, alpha) =>
  `rgba(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(",")},${alpha})`;

// A group: its band (the low edge, then the high edge filled down to it), the raw mean faint
// under a smoothed one, and its mean.
function groupTraces(key, answer, dash) {
  const traces = [];
  answer.groups.forEach((group, i) => {
    const color = COLORS[i % COLORS.length], line = group.line;
    const label = `${group.label} ${key}`, name = plotlyText(label);
    const meta = (role) => ({ role, group: i, runs: group.runs, key, label });
    const edge = { type: "scatter", mode: "lines", x: line.x, name, showlegend: false, hoverinfo: "skip",
      line: { color, width: 0.5 }, opacity: 0.5 };
    if (group.count > 1) {
      traces.push({ ...edge, y: line.low, meta: meta(`${answer.band} low`) });
      traces.push({ ...edge, y: line.high, fill: "tonexty", fillcolor: tint(color, 0.2), meta: meta(`${answer.band} high`) });
    }
    if (group.raw) {
      traces.push({ type: "scatter", mode: "lines", x: line.x, y: group.raw, name, showlegend: false,
        line: { color, width: 1.2, dash }, opacity: 0.25, meta: meta("raw mean") });
    }
    // The legend names the groups once, by the panel's first metric (solid).
    traces.push({ type: "scatter", mode: "lines", x: line.x, y: line.mean, name: `${name} (${group.count})`,
      line: { color, width: 2, dash }, showlegend: dash === "solid", meta: meta(group.raw ? "smoothed mean" : "mean") });
  });
  return traces;
}

// Every panel's series are asked for at once: on a first visit plotly's compile holds the
// page's thread for seconds, and the answers arrive meanwhile. Panels are then drawn in order.
async function drawPanels() {
  const ticket = ++workspace.ticket;
  const dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];
  const shown = workspace.panels.filter((p) => !workspace.collapsed.has(p.id) && panelMatches(p));
  if (!state.selected.length) return;
  const pending = shown.map((panel) => Promise.all(panel.keys.map(panelSeries)));
  pending.forEach((answers) => answers.catch(() => {}));  // each is awaited (and fails) below
  for (const [at, panel] of shown.entries()) {
    const answers = await pending[at];
    if (ticket !== workspace.ticket) return;  // a newer choice is being drawn
    const traces = answers.flatMap((answer, i) => panelTraces(panel.keys[i], answer, dashes[i % dashes.length]));
    const shapes = answers.length ? panelMarkers(answers[0]) : [];
    const node = panelPlot(panel.id);
    if (!node) continue;
    const grouped = Boolean(answers[0] && answers[0].groups);
    const layout = {
      margin: { l: 50, r: 10, t: 8, b: 36 }, showlegend: grouped, hovermode: "closest", shapes,
      legend: { x: 1, xanchor: "right", y: 1, yanchor: "top", bgcolor: "rgba(255,255,255,0.8)", font: { size: 10 } },
      xaxis: { title: { text: AXIS_TITLES[state.x] }, type: state.logX ? "log" : "linear" },
      yaxis: { title: { text: "" }, type: state.logY ? "log" : "linear" }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    };
    node.hfFigure = { data: traces, layout };  // what the CSV export reads until plotly draws it
    if (window.Plotly) await plotPanel(node);
    else { sketch(node, traces, layout); node.dataset.sketched = "1"; }  // until plotly is loaded
    markShown();
  }
}

async function plotPanel(node) {
  const figure = node.hfFigure;
  node.hfPlotting = figure;
  await Plotly.react(node, figure.data, figure.layout, { responsive: true, displaylogo: false, displayModeBar: false });
  node.querySelector(":scope > canvas.sketch")?.remove();
  node.dataset.drawn = String(Number(node.dataset.drawn || 0) + 1);  // by plotly
}

// Once plotly is loaded, the sketched panels are drawn by it from the figures they were
// sketched from (a pass under way draws its next panels with plotly).
async function replotPanels() {
  for (const node of document.querySelectorAll(".panel-plot")) {
    if (node.hfFigure && !node.dataset.drawn && node.hfPlotting !== node.hfFigure) await plotPanel(node);
  }
  markShown();
}

// When every shown panel was first on screen (sketched or plotly's) and first drawn by plotly,
// in ms from navigation, for the benchmark and the tests.
function markShown() {
  const nodes = [...document.querySelectorAll(".panel:not([hidden]):not(.collapsed) .panel-plot")];
  const info = window.hfDashboard;
  if (!nodes.length) return;
  if (nodes.every((n) => n.dataset.sketched || n.dataset.drawn)) info.workspaceShownMs ??= performance.now();
  if (nodes.every((n) => n.dataset.drawn)) info.workspaceInteractiveMs ??= performance.now();
}

// Markers every panel shares, from the series answer of the panel's first name: resumes and
// health alerts.
function panelMarkers(answer) {
  const shapes = [];
  for (const run of answer.runs || []) {
    for (const mark of run.resumes || []) {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: mark.x, x1: mark.x, y0: 0, y1: 1,
        line: { color: "#000", width: 1, dash: "dash" } });
    }
    shapes.push(...alertShapes(run));
  }
  for (const group of answer.groups || []) shapes.push(...alertShapes(group));
  return shapes;
}

function bindPanels() {
  $("panels").addEventListener("click", (e) => {
    const button = e.target.closest("button");
    const panel = e.target.closest(".panel");
    if (!button || !panel) return;
    const id = panel.dataset.panel;
    if (button.classList.contains("export")) { exportPanel(id, button.dataset.format); return; }
    if (button.classList.contains("collapse")) {
      if (workspace.collapsed.has(id)) workspace.collapsed.delete(id); else workspace.collapsed.add(id);
    } else if (button.classList.contains("enlarge")) {
      workspace.big = workspace.big === id ? null : id;
    }
    renderPanels(workspace.panels);
    syncUrl();
    schedulePanels();
  });
  let typing = null;
  $("panel-search").addEventListener("input", (e) => {
    workspace.find = e.target.value;
    applySearch();
    syncUrl();
    clearTimeout(typing);
    typing = setTimeout(schedulePanels, 150);  // panels shown again are drawn
  });
  const regroup = () => { syncUrl(); workspace.ticket += 1; schedulePanels(); };
  $("group-by").addEventListener("change", (e) => { workspace.group = e.target.value; regroup(); });
  $("band").addEventListener("change", (e) => { workspace.band = e.target.value; regroup(); });
}
