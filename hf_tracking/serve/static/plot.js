// hf-tracking dashboard: the curves: traces, markers, zoom (state is app.js's).
"use strict";

// plotly.min.js (4.8 MB) takes seconds to compile on a browser's first visit, and the compile
// blocks the page's thread: until it is loaded, draw() paints the curves with sketch.js, and
// loadPlotly() adds plotly's script only once that frame (or the table) is on screen.
let plotlyRequested = false;
function loadPlotly() {
  if (plotlyRequested) return;
  plotlyRequested = true;
  const script = document.createElement("script");
  script.src = "/static/plotly.min.js";
  script.addEventListener("load", () => { draw(); replotPanels(); });
  script.addEventListener("error", () => { $("plot-note").textContent = "plotly.min.js did not load: a static plot"; });
  requestAnimationFrame(() => setTimeout(() => document.head.appendChild(script)));
}

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

// A red line at each health alert of the run (kind and value on hover of its label), on the
// chart and every panel.
function alertShapes(run) {
  return (run.alerts || []).map((mark) => ({
    type: "line", name: "alert", xref: "x", yref: "paper", x0: mark.x, x1: mark.x, y0: 0, y1: 1,
    line: { color: "#d62728", width: 1.5 }, opacity: 0.8,
    label: { text: plotlyText(mark.kind || "alert"), textposition: "end", font: { size: 10, color: "#d62728" } },
  }));
}

// The traces and layout of the selected runs' curves, as plotly takes them (sketch.js draws
// the same).
function figure() {
  const traces = [], shapes = [];
  const hover = (name) => `${esc(name)}<br>${AXIS_TITLES[state.x]}: %{x:.10~g}<br>${esc(state.y)}: %{y:.10~g}<extra></extra>`;
  let shown = 0, total = 0;
  for (const run of state.series ? state.series.runs : []) {
    const color = colorOf(run.id);
    if (run.line) {
      shown += run.line.x.length; total += run.total || 0;
      // The server smooths every row before downsampling (time-weighted EMA over x); the raw
      // line stays, faint, under it.
      const smooth = state.smoothing > 0 && Array.isArray(run.line.smooth);
      traces.push({ type: traceType(run.line.x.length), mode: "lines", x: run.line.x, y: run.line.y, name: plotlyText(run.name),
        line: { color, width: smooth ? 1 : 1.6 }, opacity: smooth ? 0.25 : 1,
        legendgroup: run.id, showlegend: !smooth, hovertemplate: hover(run.name), meta: { role: "raw", run: run.id } });
      if (smooth) {
        traces.push({ type: traceType(run.line.x.length), mode: "lines", x: run.line.x, y: run.line.smooth, name: plotlyText(run.name),
          line: { color, width: 2 }, legendgroup: run.id, hovertemplate: hover(run.name + " (smoothed)"),
          meta: { role: "smoothed", run: run.id, tau: state.series.tau } });
      }
    }
    if (run.points && run.points.x.length) {
      traces.push({ type: traceType(run.points.x.length), mode: "markers", x: run.points.x, y: run.points.y, name: plotlyText(`${run.name} ${run.points_key}`),
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
    shapes.push(...alertShapes(run));
  }
  const xaxis = { title: { text: AXIS_TITLES[state.x] }, type: state.logX ? "log" : "linear", showspikes: true };
  if (state.range) {
    xaxis.range = state.logX ? state.range.map((v) => Math.log10(Math.max(v, 1e-300))) : [...state.range];
  } else {
    xaxis.autorange = true;
  }
  const layout = {
    margin: { l: 60, r: 20, t: 16, b: 46, autoexpand: false }, hovermode: "closest", shapes, xaxis,
    yaxis: { title: { text: plotlyText(state.y) }, type: state.logY ? "log" : "linear", autorange: true },
    // Inside the plot area, and margins that never grow: the plot area is the one sketch.js drew.
    legend: { x: 1, xanchor: "right", y: 1, yanchor: "top", bgcolor: "rgba(255,255,255,0.8)" },
    uirevision: `${state.x}|${state.y}|${state.logX}|${state.logY}`,
    paper_bgcolor: "#fff", plot_bgcolor: "#fff",
  };
  const notes = (state.series ? state.series.runs : []).filter((r) => r.note).map((r) => `${r.name}: ${r.note}`);
  $("plot-note").textContent = [total ? `${fmtNumber(shown)} of ${fmtNumber(total)} points drawn` : "", ...notes]
    .filter(Boolean).join(" · ");
  return { traces, layout };
}

// When each stage was reached (performance.now(), ms from navigation), for the tests and the
// benchmark: firstPaintMs once a frame with a curve (sketched or plotly's) is on screen,
// interactiveMs once plotly has drawn one.
function drawn(key) {
  const info = window.hfDashboard;
  if (info[key] === null) requestAnimationFrame(() => setTimeout(() => { info[key] ??= performance.now(); }));
}

async function draw() {
  const plot = $("plot");
  const { traces, layout } = figure();
  const info = window.hfDashboard;
  if (!window.Plotly) {
    info.sketch = sketch(plot, traces, layout);
    const shown = info.sketch && info.sketch.points;
    if (shown) drawn("firstPaintMs");
    // Not before a curve is on screen, unless none is coming: a run still being read for the
    // first time is sketched again, with more rows, on the next poll.
    if (shown || !(state.series && state.series.runs.some((r) => !r.complete))) loadPlotly();
    return;
  }
  await Plotly.react(plot, traces, layout, { responsive: true, displaylogo: false });
  document.getElementById("sketch")?.remove();
  info.draws += 1;
  info.lastDrawAt = performance.now();
  if (traces.length) { drawn("firstPaintMs"); drawn("interactiveMs"); }
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

