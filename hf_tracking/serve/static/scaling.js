// hf-tracking dashboard: the scaling page (/scaling[?run=ID...]): the runs' losses against
// compute with the fits of `hf-tracking scaling`, fitted on the server (/api/scaling).
"use strict";

const page = new URLSearchParams(location.search);
const OPTIONS = ["loss", "compute", "grid"];
// What the tests read: the last answer and how many times the plots were drawn.
const scalingView = { answer: null, draws: 0 };
window.hfScaling = scalingView;

const fmt = (value, digits = 4) => (typeof value === "number" ? value.toPrecision(digits) : "—");
const star = { symbol: "star", size: 14, color: "#111", line: { color: "#fff", width: 1 } };

function scalingQuery() {
  const params = new URLSearchParams();
  page.getAll("run").forEach((id) => params.append("run", id));
  OPTIONS.forEach((name) => params.set(name, $(name).value));
  return params;
}

let pollTimer = null, ticket = 0;
async function loadScaling() {
  clearTimeout(pollTimer);
  const mine = ++ticket;
  let answer = null;
  try {
    answer = await api("/api/scaling?" + scalingQuery());
  } catch (error) {
    $("scaling-status").textContent = error.message;
  }
  if (mine !== ticket) return;
  if (answer) render(answer);
  // Asked again while a fit runs, and every few seconds after: a run that finishes shows.
  pollTimer = setTimeout(loadScaling, answer && answer.status === "fitting" ? 1000 : 5000);
}

function render(answer) {
  scalingView.answer = answer;
  const which = answer.selected ? `${page.getAll("run").length} selected runs` : "every finished run";
  $("scaling-runs").textContent = `over ${which}`;
  const left = answer.left_out.length ? `, ${answer.left_out.length} left out (below)` : "";
  const doing = answer.status === "fitting" ? "; fitting…" : "";
  $("scaling-status").textContent = `${answer.points.length} runs as points${left}; C: ${answer.convention}${doing}`;
  const error = $("fit-error");
  error.hidden = answer.status !== "error";
  error.textContent = answer.status === "error" ? `no fit: ${answer.error}` : "";
  $("fit-numbers").innerHTML = answer.fit ? fitCards(answer.fit) : "";
  $("scaling-points").innerHTML = pointsTable(answer);
  if (answer.status !== "fitting") draw(answer);
}

function fitCards(fit) {
  const cards = [];
  const three = fit.approach3, two = fit.approach2;
  if (three) {
    const rows = [["E", three.E], ["A", three.A], ["B", three.B], ["α", three.alpha], ["β", three.beta]]
      .map(([k, v]) => `<tr><td>${k}</td><td>${fmt(v)}</td></tr>`).join("");
    cards.push(`<div class="card" id="approach3"><h3>Approach 3: L(N, D) = E + A/N<sup>α</sup> + B/D<sup>β</sup></h3>
      <p class="exponent">N* ∝ C<sup>a</sup>, a = <b>${fmt(three.a)}</b>; D* ∝ C<sup>b</sup>, b = <b>${fmt(three.b)}</b></p>
      <table>${rows}<tr><td>runs</td><td>${three.n_points}</td></tr></table></div>`);
  }
  if (two) {
    const rows = two.budgets.map((b) => `<tr><td>${fmt(b.compute, 3)}</td><td>${b.n_points}</td>`
      + (b.used ? `<td>${fmt(b.n_opt)}</td><td>${fmt(b.loss_opt)}</td>` : `<td colspan="2">${esc(b.reason)}</td>`) + "</tr>").join("");
    cards.push(`<div class="card" id="approach2"><h3>Approach 2: IsoFLOP minima (${esc(two.method)}; ${esc(scalingView.answer.budget_rule)})</h3>
      <p class="exponent">N* = k C<sup>a</sup>, a = <b>${fmt(two.a)}</b></p>
      <table><tr><td>budget C</td><td>runs</td><td>N*</td><td>loss*</td></tr>${rows}</table></div>`);
  }
  for (const [name, reason] of Object.entries(fit.skipped || {})) {
    cards.push(`<div class="card"><h3>${esc(name)} not fitted</h3><p>${esc(reason)}</p></div>`);
  }
  return cards.join("");
}

function pointsTable(answer) {
  const link = (p) => `<a href="/#run=${encodeURIComponent(p.id)}">${esc(p.name)}</a>`;
  const head = `<tr><th class="left">run</th><th>N</th><th>D</th><th>C</th><th>loss</th><th class="left">FLOPs convention</th></tr>`;
  const rows = answer.points.map((p) => `<tr><td class="left">${link(p)}</td><td>${esc(fmtNumber(p.n))}</td>`
    + `<td>${esc(fmtNumber(p.d))}</td><td>${fmt(p.c, 3)}</td><td>${fmt(p.loss)}</td><td class="left">${esc(p.convention)}</td></tr>`).join("");
  const left = answer.left_out.map((p) => `<tr class="left-out"><td class="left">${link(p)}</td>`
    + `<td colspan="5" class="left">left out: ${esc(p.reason)}</td></tr>`).join("");
  return head + rows + left;
}

function layout(x, y, xLog, yLog, title) {
  return {
    title: { text: title, font: { size: 13 }, x: 0.01, xanchor: "left" }, margin: { l: 60, r: 10, t: 36, b: 46 },
    xaxis: { title: { text: x }, type: xLog ? "log" : "linear" },
    yaxis: { title: { text: y }, type: yLog ? "log" : "linear" },
    legend: { font: { size: 10 }, x: 0.99, xanchor: "right", y: 0.99, yanchor: "top", bgcolor: "rgba(255,255,255,0.85)" },
    hovermode: "closest",
  };
}

function draw(answer) {
  if (!window.Plotly) return;
  const points = answer.points, curves = answer.curves;
  const names = points.map((p) => plotlyText(p.name));
  const runs = { type: "scatter", mode: "markers", name: "runs", x: points.map((p) => p.c), y: points.map((p) => p.loss),
    text: names, marker: { size: 8, color: points.map((p) => Math.log10(p.n)), colorscale: "Viridis",
      colorbar: { title: { text: "log₁₀ N" }, thickness: 10 } },
    hovertemplate: "%{text}<br>C %{x:.4g}<br>loss %{y:.5g}<extra></extra>", meta: { role: "runs" } };
  const lossTraces = [runs], isoTraces = [], frontierTraces = [];
  frontierTraces.push({ type: "scatter", mode: "markers", name: "runs", x: points.map((p) => p.c), y: points.map((p) => p.n),
    text: names, marker: { color: "#bbb", size: 7 }, hovertemplate: "%{text}<br>C %{x:.4g}<br>N %{y:.4g}<extra></extra>", meta: { role: "runs" } });
  if (curves) {
    const front = curves.frontier, three = front.approach3, two = front.approach2;
    if (three) {
      lossTraces.push({ type: "scatter", mode: "lines", name: `Approach 3 frontier (a = ${fmt(three.a)})`, x: front.compute, y: three.loss,
        line: { color: "#264653", dash: "dash" }, meta: { role: "frontier" } });
      frontierTraces.push({ type: "scatter", mode: "lines", name: `Approach 3: N* ∝ C^${fmt(three.a)}`, x: front.compute, y: three.n_opt,
        line: { color: "#264653", dash: "dash" }, meta: { role: "approach3" } });
    }
    const minima = curves.isoflop.filter((p) => p.minimum);
    if (minima.length) {
      lossTraces.push({ type: "scatter", mode: "markers", name: "IsoFLOP minima", x: minima.map((p) => p.compute),
        y: minima.map((p) => p.minimum.loss), marker: star, meta: { role: "minima" } });
      frontierTraces.push({ type: "scatter", mode: "markers", name: "IsoFLOP minima", x: minima.map((p) => p.compute),
        y: minima.map((p) => p.minimum.n), marker: star, meta: { role: "minima" } });
    }
    if (two) {
      frontierTraces.push({ type: "scatter", mode: "lines", name: `Approach 2: N* ∝ C^${fmt(two.a)}`, x: front.compute, y: two.n_opt,
        line: { color: "#e76f51" }, meta: { role: "approach2" } });
    }
    curves.isoflop.forEach((profile, i) => {
      const color = COLOR_CYCLE[i % COLOR_CYCLE.length];
      isoTraces.push({ type: "scatter", mode: "lines+markers", name: `C = ${fmt(profile.compute, 3)}`, x: profile.n, y: profile.loss,
        line: { color }, hovertemplate: `C = ${fmt(profile.compute, 3)}<br>N %{x:.4g}<br>loss %{y:.5g}<extra></extra>`,
        meta: { role: "profile" } });
      if (profile.approach3) {
        isoTraces.push({ type: "scatter", mode: "lines", showlegend: false, x: profile.approach3.n, y: profile.approach3.loss,
          line: { color, dash: "dot", width: 1 }, hoverinfo: "skip", meta: { role: "approach3" } });
      }
    });
    if (minima.length) {
      isoTraces.push({ type: "scatter", mode: "markers", name: "minima", x: minima.map((p) => p.minimum.n),
        y: minima.map((p) => p.minimum.loss), marker: star, meta: { role: "minima" } });
    }
  }
  const c = plotlyText(`compute C (FLOPs; ${answer.convention})`);
  const config = { displaylogo: false, responsive: true, displayModeBar: "hover" };
  const lossLayout = layout(c, "loss", true, false, "loss against compute (dashed: the frontier)");
  lossLayout.margin.r = 80;  // the colour bar of N
  Plotly.react("loss-compute", lossTraces, lossLayout, config);
  Plotly.react("isoflop", isoTraces, layout("parameters N", "loss", true, false, "IsoFLOP profiles (dotted: Approach 3)"), config);
  const frontierLayout = layout(c, "parameters N", true, true, "compute-optimal N* against C");
  Object.assign(frontierLayout.legend, { x: 0.01, xanchor: "left" });  // the lines rise to the right
  Plotly.react("frontier", frontierTraces, frontierLayout, config);
  scalingView.draws += 1;
}

const COLOR_CYCLE = ["#2a6fdb", "#e4572e", "#29a36a", "#9b5de5", "#f2a541", "#17becf", "#d6336c", "#6c757d"];

function bindScaling() {
  OPTIONS.forEach((name) => {
    if (page.has(name)) $(name).value = page.get(name);
    $(name).addEventListener("change", () => {
      page.set(name, $(name).value);
      history.replaceState(null, "", "?" + page);
      loadScaling();
    });
  });
}

bindScaling();
loadScaling();
