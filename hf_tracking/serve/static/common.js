// hf-tracking dashboard: helpers shared by the runs view (app.js) and the run page (run.js).
"use strict";

const $ = (id) => document.getElementById(id);
const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// plotly reads trace names and titles as its pseudo-HTML (<b>, <a href>, <br>): names are given
// to it as text, with the characters it would read as markup written as entities, which it
// shows as themselves. plainText() is the way back, for the canvas sketch.
const plotlyText = esc;
const plainText = (text) => String(text).replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)));

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

