// hf-tracking dashboard: the workspace, a grid of one panel per metric group the selected runs
// logged (the server names the groups: /api/keys' panels), all on the shared x-axis and
// smoothing. Panels are drawn with plotly once the main chart is on screen, one panel at a time
// (each fetches its own series), so the first chart never waits for them. Collapsed and enlarged
// panels, with the axis, smoothing, metric and runs, live in the URL (syncUrl).
"use strict";

const workspace = {
  panels: [], collapsed: new Set(), big: null, ticket: 0, timer: null, busy: false, lastPass: -Infinity,
};

function readUrl() {
  const params = new URLSearchParams(location.search);
  if (AXIS_TITLES[params.get("x")]) state.x = params.get("x");
  const smooth = Number(params.get("smooth"));
  if (smooth > 0 && smooth < 1) state.smoothing = smooth;
  if (params.get("y")) state.y = params.get("y");
  workspace.collapsed = new Set((params.get("collapsed") || "").split(",").filter(Boolean));
  workspace.big = params.get("big") || null;
  $("x-key").value = state.x;
  $("smoothing").value = String(state.smoothing);
  $("smoothing-value").textContent = state.smoothing.toFixed(2);
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
  const gl = new URLSearchParams(location.search).get("gl");
  if (gl !== null) params.set("gl", gl);
  history.replaceState(null, "", `${location.pathname}?${params}${location.hash}`);
}

function renderPanels(panels) {
  workspace.panels = panels;
  const grid = $("panels");
  const html = panels.map((p) => {
    const shut = workspace.collapsed.has(p.id);
    const classes = ["panel", shut ? "collapsed" : "", workspace.big === p.id ? "big" : ""].join(" ");
    return `<div class="${classes}" data-panel="${esc(p.id)}"><div class="panel-head">`
      + `<button type="button" class="collapse" title="collapse">${shut ? "▸" : "▾"}</button>`
      + `<span class="panel-title">${esc(p.title)}</span><span class="panel-keys">${p.keys.map(esc).join(", ")}</span>`
      + `<button type="button" class="enlarge" title="enlarge">⤢</button></div><div class="panel-plot"></div></div>`;
  }).join("");
  if (grid.hfHtml !== html) { grid.innerHTML = html; grid.hfHtml = html; }
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
  return api("/api/series?" + params);
}

function panelTraces(key, answer, dash) {
  const traces = [];
  for (const run of answer.runs) {
    if (!run.line) continue;
    const color = colorOf(run.id);
    const smooth = Array.isArray(run.line.smooth);
    const name = plotlyText(`${run.name} ${key}`);
    traces.push({ type: "scatter", mode: "lines", x: run.line.x, y: run.line.y, name,
      line: { color, width: 1.2, dash }, opacity: smooth ? 0.25 : 1, showlegend: !smooth,
      meta: { role: "raw", run: run.id, key } });
    if (smooth) {
      traces.push({ type: "scatter", mode: "lines", x: run.line.x, y: run.line.smooth, name,
        line: { color, width: 2, dash }, meta: { role: "smoothed", run: run.id, key } });
    }
  }
  return traces;
}

async function drawPanels() {
  if (!window.Plotly) return;  // drawn once plotly is loaded (plot.js calls back)
  const ticket = ++workspace.ticket;
  const dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];
  for (const panel of workspace.panels) {
    if (workspace.collapsed.has(panel.id) || !state.selected.length) continue;
    const answers = await Promise.all(panel.keys.map(panelSeries));
    if (ticket !== workspace.ticket) return;  // a newer choice is being drawn
    const traces = answers.flatMap((answer, i) => panelTraces(panel.keys[i], answer, dashes[i % dashes.length]));
    const shapes = answers.length ? panelMarkers(answers[0]) : [];
    const node = document.querySelector(`.panel[data-panel="${CSS.escape(panel.id)}"] .panel-plot`);
    if (!node) continue;
    await Plotly.react(node, traces, {
      margin: { l: 50, r: 10, t: 8, b: 36 }, showlegend: false, hovermode: "closest", shapes,
      xaxis: { title: { text: AXIS_TITLES[state.x] }, type: state.logX ? "log" : "linear" },
      yaxis: { type: state.logY ? "log" : "linear" }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    }, { responsive: true, displaylogo: false });
    node.dataset.drawn = String(Number(node.dataset.drawn || 0) + 1);
  }
}

// Markers every panel shares, from the series answer of the panel's first name: resumes and
// health alerts.
function panelMarkers(answer) {
  const shapes = [];
  for (const run of answer.runs) {
    for (const mark of run.resumes || []) {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: mark.x, x1: mark.x, y0: 0, y1: 1,
        line: { color: "#000", width: 1, dash: "dash" } });
    }
    shapes.push(...alertShapes(run));
  }
  return shapes;
}

function bindPanels() {
  $("panels").addEventListener("click", (e) => {
    const button = e.target.closest("button");
    const panel = e.target.closest(".panel");
    if (!button || !panel) return;
    const id = panel.dataset.panel;
    if (button.classList.contains("collapse")) {
      if (workspace.collapsed.has(id)) workspace.collapsed.delete(id); else workspace.collapsed.add(id);
    } else if (button.classList.contains("enlarge")) {
      workspace.big = workspace.big === id ? null : id;
    }
    renderPanels(workspace.panels);
    syncUrl();
    schedulePanels();
  });
}
