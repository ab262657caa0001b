// hf-tracking dashboard: the run page (#run=ID): summary, time ledger, config, backends, events.
"use strict";

const LEDGER = { train: "#2a9d8f", eval: "#e9c46a", checkpoint: "#e76f51", other: "#8d99ae" };

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
  const { eventKeys, events } = eventTable(detail.events);
  $("run-body").innerHTML = `
    <h2><span class="dot${r.live ? " live" : ""}"></span>${esc(r.name)} <small class="status-${esc(r.status)}">${esc(r.status)}</small></h2>
    <p>${esc(r.dir)} · ${detail.rows} rows${s.error ? ` · error: ${esc(s.error)}` : ""}${r.resumes ? ` · resumed ${r.resumes} time(s)` : ""}</p>
    <div class="cards">
      <div class="card"><h3>Time ledger</h3>${bar}${kv([["goodput", s.goodput_pct != null ? s.goodput_pct.toFixed(1) + " %" : ""], ["wallclock", fmtHours(r.wallclock_hours)]])}</div>
      <div class="card"><h3>Progress</h3>${kv([["steps", `${fmtNumber(r.steps)}${r.planned_steps ? " of " + fmtNumber(r.planned_steps) : ""}`], ["tokens", fmtNumber(r.tokens)], ["last train loss", fmtNumber(r.last_train_loss)], ["best val loss", fmtNumber(r.best_val_loss)], ["evaluations", (s.totals || {}).evaluations], ["checkpoints", (s.totals || {}).checkpoints], ["non-finite values", (s.totals || {}).nonfinite_count]])}</div>
      <div class="card"><h3>Throughput</h3>${kv([["mean tokens/s", fmtNumber(tp.mean_tokens_per_second, 4)], ["p50 tokens/s", fmtNumber(tp.p50_tokens_per_second, 4)], ["latest tokens/s", fmtNumber((tp.latest || {})["throughput/tokens_per_second"], 4)], ["step time p50", st.p50 != null ? (st.p50 * 1000).toFixed(2) + " ms" : ""], ["step time p95", st.p95 != null ? (st.p95 * 1000).toFixed(2) + " ms" : ""], ["clock", tp.clock]])}</div>
      <div class="card"><h3>FLOPs</h3>${kv([["per token", fmtNumber(fpt.total, 4)], ["parameters term", fmtNumber(fpt.parameters, 4)], ["attention term", fmtNumber(fpt.attention, 4)], ["output head term", fmtNumber(fpt.output_head, 4)], ["convention", fpt.convention], ["device", fl.device], ["dtype", fl.dtype], ["peak TFLOP/s", fl.peak_tflops], ["MFU %", fmtNumber(r.mfu_pct, 3)], ["note", fl.mfu_note]])}</div>
      <div class="card"><h3>Memory</h3>${kv([...Object.entries(mem.gpu_peak_allocated_gb || {}).map(([k, v]) => [`${k} peak allocated`, v.toFixed(2) + " GB"]), ["process peak RSS", mem.process_peak_rss_gb != null ? mem.process_peak_rss_gb.toFixed(2) + " GB" : ""]])}</div>
      <div class="card"><h3>Hardware</h3>${kv([["host", hw.hostname], ["CPU", `${hw.cpu || ""} (${hw.cpu_count || "?"} cores)`], ["RAM", hw.host_memory_gb ? hw.host_memory_gb + " GB" : ""], ["GPUs", gpus || "none"], ["world size", s.world_size], ...Object.entries(hw.versions || {})])}</div>
      <div class="card"><h3>Backends</h3><table><tr><td>name</td><td>status</td><td>records</td><td>error</td></tr>${backends}</table>
        ${detail.sync_command ? `<p>W&amp;B offline run; upload it with:</p><pre>${esc(detail.sync_command)}</pre>` : ""}</div>
    </div>
    <h3>Health alerts (${fmtNumber((detail.alerts || {}).count || 0)})</h3>
    <div class="card events" id="run-alerts">${stoppedBy(detail.alerts)}${alertsTable(detail.alerts)}</div>
    <h3>Config</h3><div class="card kv-grid">${Object.entries(detail.row.config).map(([k, v]) =>
      `<div><span>${esc(k)}</span><span>${esc(JSON.stringify(v))}</span></div>`).join("")}</div>
    <h3>Metrics (${fmtNumber(metricNames(detail).length)} names)</h3>
    <div class="card"><input id="metric-search" type="search" placeholder="search metric names"> <span id="metric-count"></span>
      <ul id="metric-names" class="names"></ul></div>
    <h3>Events (${detail.events.length})</h3>
    <div class="card events"><table><tr><th class="left">event</th>${eventKeys.map((k) => `<th>${esc(k)}</th>`).join("")}<th class="left">other values</th></tr>${events}</table></div>`;
  const search = $("metric-search");
  search.addEventListener("input", () => showNames(detail, search.value));
  showNames(detail, "");
  if (!quiet) window.scrollTo(0, 0);
  return r.status;
}

// Why an alert stopped the run, and the checkpoint to resume from.
function stoppedBy(info) {
  const stop = info && info.stopped_by;
  if (!stop) return "";
  return `<p class="alerts">stopped by ${esc(stop.kind)} at step ${esc(stop.step)}: ${esc(stop.message)}`
    + (stop.last_good_checkpoint ? `; last good checkpoint ${esc(stop.last_good_checkpoint)}` : "") + "</p>";
}

// The events as a table of at most EVENT_COLUMNS columns, the keys most events hold; a row's
// other keys go into one cell, the first OTHER_VALUES of them (a run logging thousands of
// names would otherwise make a table of millions of cells).
const EVENT_COLUMNS = 8, OTHER_VALUES = 6;
function eventTable(list) {
  const counts = new Map();
  for (const e of list) for (const k of Object.keys(e)) counts.set(k, (counts.get(k) || 0) + 1);
  ["event", "time/wallclock_hours", "time/tokens_seen"].forEach((k) => counts.delete(k));
  const eventKeys = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, EVENT_COLUMNS).map(([k]) => k);
  const shown = new Set(["event", "time/wallclock_hours", "time/tokens_seen", ...eventKeys]);
  const events = list.slice().reverse().map((e) => {
    const other = Object.keys(e).filter((k) => !shown.has(k));
    const text = other.slice(0, OTHER_VALUES).map((k) => `${k} ${fmtNumber(e[k], 5)}`).join(", ")
      + (other.length > OTHER_VALUES ? ` and ${other.length - OTHER_VALUES} more` : "");
    return `<tr><td class="left">${esc(e.event)}</td>${eventKeys.map((k) => `<td>${esc(fmtNumber(e[k], 5))}</td>`).join("")}<td class="left">${esc(text)}</td></tr>`;
  }).join("");
  return { eventKeys, events };
}

// Every metric name of the run, searchable, shown NAMES_SHOWN at a time.
const NAMES_SHOWN = 200;
function metricNames(detail) {
  detail.names ??= [...new Set(Object.values(detail.keys || {}).flat())].sort();
  return detail.names;
}
function showNames(detail, text) {
  const wanted = text.toLowerCase();
  const found = metricNames(detail).filter((n) => n.toLowerCase().includes(wanted));
  $("metric-names").innerHTML = found.slice(0, NAMES_SHOWN).map((n) => `<li>${esc(n)}</li>`).join("");
  $("metric-count").textContent = found.length > NAMES_SHOWN
    ? `the first ${NAMES_SHOWN} of ${fmtNumber(found.length)} matching` : `${found.length} matching`;
}

