// hf-tracking dashboard: a workspace panel's export. CSV: every point the panel plots, trace by
// trace (raw and smoothed lines, a group's mean and band edges), as drawn; PNG and SVG: plotly's
// own image of the panel. Names reach the file as text: a CSV cell is quoted where it must be,
// and one a spreadsheet would run as a formula (=, +, -, @ first) starts with a quote.
"use strict";

function csvCell(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// The panel's points as CSV: series (run or group), metric, role, x (named by the axis), value.
function panelCsv(id) {
  const node = panelPlot(id);
  const traces = (node && (node.data || (node.hfFigure && node.hfFigure.data))) || [];
  const lines = [["series", "metric", "role", state.x, "value"].map(csvCell).join(",")];
  for (const trace of traces) {
    const meta = trace.meta || {};
    for (let i = 0; i < trace.x.length; i++) {
      lines.push([meta.label, meta.key, meta.role, trace.x[i], trace.y[i]].map(csvCell).join(","));
    }
  }
  return lines.join("\r\n") + "\r\n";
}

function download(filename, blob) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  window.hfDashboard.lastExport = { filename, bytes: blob.size };
}

// The file is named by the panel's id (one of the server's fixed list) and the format.
async function exportPanel(id, format) {
  const filename = `hf-tracking-${id}`;
  if (format === "csv") {
    download(`${filename}.csv`, new Blob([panelCsv(id)], { type: "text/csv;charset=utf-8" }));
    return;
  }
  const node = panelPlot(id);
  if (!window.Plotly || !node || !node.data) {
    $("plot-note").textContent = "the image export waits for plotly to load";
    return;
  }
  const url = await Plotly.toImage(node, { format, width: node.clientWidth, height: node.clientHeight });
  download(`${filename}.${format}`, dataUrlBlob(url));
}

// plotly's image as a Blob (the page's policy lets it fetch nothing but its own server).
function dataUrlBlob(url) {
  const comma = url.indexOf(","), head = url.slice(5, comma), body = url.slice(comma + 1);
  const type = head.split(";")[0];
  if (!head.endsWith(";base64")) return new Blob([decodeURIComponent(body)], { type });
  return new Blob([Uint8Array.from(atob(body), (c) => c.charCodeAt(0))], { type });
}
