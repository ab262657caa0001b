// hf-tracking dashboard: the runs view's links to the compare and scaling pages, carrying the
// ticked runs (app.js's state.selected) when clicked.
"use strict";

function selectionLink(path) {
  const ids = window.hfDashboard ? window.hfDashboard.state.selected : [];
  return path + (ids.length ? "?" + ids.map((id) => "run=" + encodeURIComponent(id)).join("&") : "");
}

document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-selection]");
  if (link) link.href = selectionLink(link.dataset.selection);
});
