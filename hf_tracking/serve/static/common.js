// hf-tracking dashboard: helpers shared by the runs view (app.js), the run page (run.js) and the
// scaling and compare pages.
"use strict";

const $ = (id) => document.getElementById(id);
const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// plotly reads trace names and titles as its pseudo-HTML (<b>, <a href>, <br>): names are given
// to it as text, with the characters it would read as markup written as entities, which it
// shows as themselves. plainText() is the way back, for the canvas sketch.
const plotlyText = esc;
const plainText = (text) => String(text).replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)));

// The JSON of an /api/ path; an error carries the server's own message.
async function api(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) {
    const said = await response.json().then((body) => body.error).catch(() => null);
    throw new Error(`${path}: ${response.status}${said ? ` (${said})` : ""}`);
  }
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


// A run's health alerts (the alerts of /api/run and /api/compare) as a table: kind, step, value,
// threshold, message and the last checkpoint saved before each.
function alertsTable(info) {
  const alerts = (info && info.alerts) || [];
  if (!alerts.length) return "<p>no health alerts</p>";
  const more = info.count > alerts.length ? `<p>the last ${alerts.length} of ${fmtNumber(info.count)} alerts</p>` : "";
  const dash = (value) => (value === null || value === undefined ? "—" : esc(value));
  return more + `<table class="alert-list"><tr><th class="left">kind</th><th>step</th><th>value</th><th>threshold</th>`
    + `<th class="left">message</th><th class="left">last good checkpoint</th></tr>`
    + alerts.map((a) => `<tr><td class="left alerts">${dash(a.kind)}</td><td>${dash(a.step)}</td>`
      + `<td>${esc(fmtNumber(a.value, 5))}</td><td>${esc(fmtNumber(a.threshold, 5))}</td>`
      + `<td class="left">${dash(a.message)}</td><td class="left">${dash(a.checkpoint)}</td></tr>`).join("")
    + "</table>";
}
