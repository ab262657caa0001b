// hf-tracking dashboard: the first paint of the curves, on a canvas, while plotly.js loads.
// plotly.min.js takes seconds to compile on a browser's first visit; sketch() draws the same
// traces (lines, markers, checkpoint and resume lines) in the same plot area with the ranges
// plotly's autorange gives, so the curve stays where it is when plotly takes over (plot.js).
"use strict";

const SKETCH_FONT = '"Open Sans", verdana, arial, sans-serif';
const SI_PREFIXES = { "-15": "f", "-12": "p", "-9": "n", "-6": "μ", "-3": "m", 3: "k", 6: "M", 9: "B", 12: "T" };

// The smallest range in which every extreme keeps its padding (pixels) from the axis ends.
function autorange(extremes, length) {
  let best = null;
  for (const low of extremes) {
    for (const high of extremes) {
      const span = high.hi - low.lo, room = length - low.pad - high.pad;
      if (span > 0 && room > 0 && (!best || span / room > best.m)) best = { m: span / room, low, high };
    }
  }
  if (!best) {
    const v = extremes.length ? extremes[0].lo : 0;
    return [v - 1, v + 1];
  }
  return [best.low.lo - best.m * best.low.pad, best.high.hi + best.m * best.high.pad];
}

// Each trace's lowest and highest value on one axis, padded as plotly pads them: 5% of the
// axis length, and half a marker more for markers; a line is drawn edge to edge along x.
function extremesOf(traces, key, log, length) {
  const extremes = [];
  for (const trace of traces) {
    let lo = Infinity, hi = -Infinity;
    for (const raw of trace[key]) {
      const v = log ? Math.log10(raw) : raw;
      if (raw !== null && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    const markers = trace.mode.includes("markers");
    const pad = key === "y" || markers ? 0.05 * length + (markers ? Math.max(trace.marker.size / 1.6, 3) : 0) : 0;
    if (lo <= hi) extremes.push({ lo, hi, pad });
  }
  return extremes;
}

// Ticks at 1, 2 or 5 times a power of ten, about one per minPx pixels (powers of ten on a log
// axis spanning over two decades); labels share one SI prefix, as plotly's do.
function ticks(range, length, minPx, log) {
  const [a, b] = [Math.min(...range), Math.max(...range)];
  const rough = (b - a) / (Math.min(Math.max(length / minPx, 4), 9) + 1);
  if (log && b - a > 2) {
    const step = Math.max(1, Math.round(rough));
    const values = [];
    for (let e = Math.ceil(a / step) * step; e <= b; e += step) values.push(e);
    return values.map((e) => [e, fmtNumber(10 ** e)]);
  }
  if (log) return ticks([10 ** a, 10 ** b], length, minPx, false).filter(([v]) => v > 0).map(([v, text]) => [Math.log10(v), text]);
  const base = 10 ** Math.floor(Math.log10(rough));
  const step = base * [2, 5, 10].find((m) => m > rough / base);
  const top = Math.floor(Math.log10(Math.max(Math.abs(a), Math.abs(b))) + 0.01);
  const shared = Math.abs(top) > 3 && Math.abs(top) < 15 ? 3 * Math.round((top - 1) / 3) : 0;
  const digits = Math.min(20, Math.max(0, shared - Math.floor(Math.log10(step) + 0.01)));
  const out = [];
  // At most 20 ticks: a range a float's rounding wide (a smoothed constant) has a step so small
  // that i * step stops moving.
  for (let i = Math.ceil(a / step); i * step <= b && out.length < 20; i++) {
    const text = String(Number(((i * step) / 10 ** shared).toFixed(digits))).replace("-", "−");
    out.push([i * step, text === "0" ? text : text + (SI_PREFIXES[shared] || "")]);
  }
  return out;
}

function sketchCanvas(host, width, height) {
  let canvas = host.querySelector(":scope > canvas.sketch");
  if (!canvas) {
    canvas = document.createElement("canvas");
    canvas.className = "sketch";
    if (host.id === "plot") canvas.id = "sketch";
    host.appendChild(canvas);
  }
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}

// Draws plotly's traces and layout (the subset plot.js uses) on a canvas over `host`; returns
// what it drew: the axis ranges (log10 units on a log axis), the plot area and the point count.
function sketch(host, traces, layout) {
  const style = getComputedStyle(host);
  const width = Math.round(parseFloat(style.width)), height = Math.round(parseFloat(style.height));
  if (!(width > 0 && height > 0)) return null;  // hidden (the run page is shown)
  const ctx = sketchCanvas(host, width, height);
  const m = layout.margin, w = width - m.l - m.r, h = height - m.t - m.b;
  const logX = layout.xaxis.type === "log", logY = layout.yaxis.type === "log";
  const xRange = layout.xaxis.range || autorange(extremesOf(traces, "x", logX, w), w);
  const yRange = autorange(extremesOf(traces, "y", logY, h), h);
  const sx = (u) => m.l + ((u - xRange[0]) / (xRange[1] - xRange[0])) * w;
  const sy = (u) => m.t + h - ((u - yRange[0]) / (yRange[1] - yRange[0])) * h;
  const px = (v) => sx(logX ? Math.log10(v) : v), py = (v) => sy(logY ? Math.log10(v) : v);
  const usable = (v, log) => v !== null && Number.isFinite(v) && (!log || v > 0);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.font = `12px ${SKETCH_FONT}`;
  ctx.fillStyle = "#444";
  ctx.strokeStyle = "#eee";
  ctx.lineWidth = 1;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const [u, text] of ticks(xRange, w, 80, logX)) {
    ctx.beginPath(); ctx.moveTo(sx(u), m.t); ctx.lineTo(sx(u), m.t + h); ctx.stroke();
    ctx.fillText(text, sx(u), m.t + h + 4);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const [u, text] of ticks(yRange, h, 40, logY)) {
    ctx.beginPath(); ctx.moveTo(m.l, sy(u)); ctx.lineTo(m.l + w, sy(u)); ctx.stroke();
    ctx.fillText(text, m.l - 3, sy(u));
  }
  ctx.strokeStyle = "#444";  // the zero lines
  if (!logX && xRange[0] < 0 && xRange[1] > 0) { ctx.beginPath(); ctx.moveTo(sx(0), m.t); ctx.lineTo(sx(0), m.t + h); ctx.stroke(); }
  if (!logY && yRange[0] < 0 && yRange[1] > 0) { ctx.beginPath(); ctx.moveTo(m.l, sy(0)); ctx.lineTo(m.l + w, sy(0)); ctx.stroke(); }
  ctx.font = `14px ${SKETCH_FONT}`;
  ctx.textAlign = "center";
  ctx.fillText(plainText(layout.xaxis.title.text), m.l + w / 2, m.t + h + 38);
  ctx.save();
  ctx.translate(m.l - 42, m.t + h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(plainText(layout.yaxis.title.text), 0, 0);
  ctx.restore();

  ctx.save();
  ctx.beginPath(); ctx.rect(m.l, m.t, w, h); ctx.clip();
  for (const shape of layout.shapes) {
    ctx.globalAlpha = shape.opacity ?? 1;
    ctx.strokeStyle = shape.line.color;
    ctx.lineWidth = shape.line.width;
    ctx.setLineDash(shape.line.dash === "dot" ? [2, 3] : shape.line.dash ? [6, 4] : []);
    ctx.beginPath(); ctx.moveTo(px(shape.x0), m.t); ctx.lineTo(px(shape.x0), m.t + h); ctx.stroke();
  }
  ctx.setLineDash([]);
  let points = 0;
  for (const trace of traces) {
    ctx.globalAlpha = trace.opacity ?? 1;
    const markers = trace.mode === "markers", r = markers ? 0.65 * trace.marker.size : 0;
    if (markers) ctx.fillStyle = trace.marker.color;
    ctx.strokeStyle = markers ? "#fff" : trace.line.color;
    ctx.lineWidth = markers ? 1 : trace.line.width;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < trace.x.length; i++) {
      const x = trace.x[i], y = trace.y[i];
      if (!usable(x, logX) || !usable(y, logY)) { pen = false; continue; }
      const X = px(x), Y = py(y);
      points += 1;
      if (markers) {  // a diamond, filled and outlined one by one as plotly draws them
        ctx.beginPath();
        ctx.moveTo(X, Y - r); ctx.lineTo(X + r, Y); ctx.lineTo(X, Y + r); ctx.lineTo(X - r, Y); ctx.closePath();
        ctx.fill(); ctx.stroke();
      } else if (pen) ctx.lineTo(X, Y);
      else { ctx.moveTo(X, Y); pen = true; }
    }
    if (!markers) ctx.stroke();
  }
  ctx.restore();
  return { xRange, yRange, points, area: { l: m.l, t: m.t, w, h } };
}
