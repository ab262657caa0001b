// hf-tracking dashboard: the compare page (/compare?run=ID&run=ID...): the runs' summaries,
// health alerts and configs side by side (/api/compare), the config fields that differ first.
"use strict";

const compared = new URLSearchParams(location.search).getAll("run");
// What the tests read: the last answer.
const compareView = { answer: null };
window.hfCompare = compareView;

// A config value exactly as set; a missing field says so.
function shown(value) {
  if (value && typeof value === "object" && value.missing) return `<span class="missing">not set</span>`;
  return esc(typeof value === "string" ? value : JSON.stringify(value));
}

// A summary figure: hours as a duration, other numbers to six digits.
function figureText(value, unit) {
  if (value === null) return "";
  if (typeof value !== "number") return esc(value);
  return esc(unit === "hours" ? fmtHours(value) : fmtNumber(value, 6));
}

function renderCompare(answer) {
  compareView.answer = answer;
  const width = answer.runs.length + 1;
  const section = (title) => `<tr class="section"><td colspan="${width}">${esc(title)}</td></tr>`;
  const head = "<tr><th>field</th>" + answer.runs.map((r) =>
    `<th class="run"><span class="dot${r.live ? " live" : ""}"></span><a href="/#run=${encodeURIComponent(r.id)}">${esc(r.name)}</a></th>`).join("") + "</tr>";
  const summary = answer.summary.map((f) => `<tr><td>${esc(f.label)}</td>` + f.values.map((v, i) =>
    `<td class="${i === f.best ? "best" : ""}">${figureText(v, f.unit)}</td>`).join("") + "</tr>").join("");
  const alerts = `<tr><td>health alerts</td>` + answer.alerts.map((a) =>
    `<td class="left">${a.alerts.length ? a.alerts.map((x) => `<div><span class="alerts">${esc(x.kind || "alert")}</span> ${esc(x.message || `at step ${x.step}`)}</div>`).join("") : "none"}</td>`).join("") + "</tr>";
  const differ = answer.config.filter((c) => c.differs).length;
  const config = answer.config.map((c) => `<tr class="${c.differs ? "diff" : "same"}" data-key="${esc(c.key)}">`
    + `<td>${c.differs ? `<span class="differs" title="differs between the runs">≠</span>` : ""}${esc(c.key)}</td>`
    + c.values.map((v) => `<td>${shown(v)}</td>`).join("") + "</tr>").join("");
  $("compare-body").innerHTML = `<table class="compare" id="compare-table"><thead>${head}</thead><tbody>`
    + section("summary") + summary + alerts
    + section(`config: ${differ} of ${answer.config.length} fields differ (marked ≠, first)`) + config
    + "</tbody></table>";
  $("compare-note").textContent = `${answer.runs.length} runs`;
}

async function loadCompare() {
  const params = new URLSearchParams();
  compared.forEach((id) => params.append("run", id));
  let running = false;
  try {
    const answer = await api("/api/compare?" + params);
    renderCompare(answer);
    running = answer.runs.some((r) => r.status === "running");
  } catch (error) {
    $("compare-body").textContent = error.message;
  }
  if (running) setTimeout(loadCompare, 5000);  // a running run's figures change
}

loadCompare();
