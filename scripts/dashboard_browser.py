"""The browser half of ``scripts/benchmark_dashboard.py``: visits of the dashboard in headless
Chromium, timed from navigation with the page's own marks and its Resource Timing."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

# Runs the dashboard's table shows on one page (PAGE in serve/static/app.js).
RUNS_PAGE = 100
WORKSPACE_DRAWN = "window.hfDashboard && window.hfDashboard.workspaceInteractiveMs"
# Whether the chart and every shown panel drawing one of KEYS plot an x of at least STEP.
EVERY_PANEL = """(() => {
const keys = new Set(KEYS);
const plots = [document.getElementById('plot'),
  ...document.querySelectorAll('.panel:not([hidden]):not(.collapsed) .panel-plot')];
return plots.every((node) => {
  const shown = (node.data || []).filter((t) => node.id === 'plot' || keys.has(t.meta.key));
  return !shown.length || shown.some((t) => Math.max(...t.x) >= STEP);
}); })()"""

# When each stage of a visit ended, in ms from navigation (Navigation and Resource Timing, and
# the marks app.js, plot.js and workspace.js leave in window.hfDashboard): the first panel (the
# chart) on screen, plotly's chart, every workspace panel on screen (sketched or plotly's) and
# every panel drawn by plotly.
STAGES = """
const ends = {html: performance.getEntriesByType('navigation')[0].responseEnd};
for (const entry of performance.getEntriesByType('resource')) {
  const path = new URL(entry.name).pathname;
  if (path.endsWith('.js') && path !== '/static/plotly.min.js') ends.scripts = Math.max(ends.scripts || 0, entry.responseEnd);
  ends[path] = entry.responseEnd;
}
const info = window.hfDashboard;
return {html: ends.html, scripts: ends.scripts, runs_api: ends['/api/runs'],
  series_api: ends['/api/series'], first_paint: info.firstPaintMs,
  sketched_points: info.sketch ? info.sketch.points : 0,
  plotly_fetched: ends['/static/plotly.min.js'], interactive: info.interactiveMs,
  workspace_shown: info.workspaceShownMs, workspace_interactive: info.workspaceInteractiveMs,
  panels: document.querySelectorAll('.panel').length};
"""


def visits(url: str, profiles: int) -> dict[str, Any]:
    """A first and a returning visit in each of ``profiles`` fresh browser profiles."""
    from tests.support.browser import chromium, wait_for

    seen: dict[str, list[dict[str, Any]]] = {"first_visit": [], "returning_visit": []}
    for _ in range(profiles):
        with chromium() as driver:
            for visit, stages in seen.items():
                driver.get(url + f"?visit={visit}")
                wait_for(driver, WORKSPACE_DRAWN, timeout=60)
                stages.append(driver.execute_script(STAGES))
    figures: dict[str, Any] = {"stages": seen}
    for visit, stages in seen.items():
        for stage in ("first_paint", "interactive", "workspace_shown", "workspace_interactive"):
            values = [entry[stage] for entry in stages]
            figures[f"{stage}_ms_{visit}"] = {
                "median": statistics.median(values),
                "max": max(values),
            }
    return figures


def browser_figures(
    big_url: str, many_url: str, live_path: Path, runs: int, profiles: int, row: dict[str, Any]
) -> dict[str, Any]:
    """The visits of the big run, the runs table, and rows appended to the running run (each
    with the keys of ``row``) until the chart and then every panel show them."""
    from tests.support.browser import chromium, wait_for

    figures = visits(big_url, profiles)
    with chromium() as driver:
        driver.get(many_url + "?run=live")
        shown = min(runs + 1, RUNS_PAGE)  # the table shows one page of runs at a time
        table = f"document.querySelectorAll('#runs tbody tr').length === {shown}"
        wait_for(driver, table)
        figures["runs_table_shown_ms"] = driver.execute_script(
            "return window.hfDashboard.tableShownMs"
        )
        wait_for(driver, WORKSPACE_DRAWN, timeout=60)
        in_plot, in_panels = [], []
        last = "Math.max(...document.getElementById('plot').data[0].x)"
        step = int(wait_for(driver, last))
        keys = json.dumps(sorted(key for key in row if key != "event"))
        for _ in range(5):
            step += 1
            axes = {"time/gradient_steps": step, "time/wallclock_hours": step * 1e-4}
            line = {**row, **axes, "time/tokens_seen": step * 16384, "train/loss": 2.0}
            with open(live_path, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(line) + "\n")
            written = time.perf_counter()
            wait_for(driver, f"{last} >= {step}", timeout=10)
            in_plot.append(time.perf_counter() - written)
            every = EVERY_PANEL.replace("KEYS", keys).replace("STEP", str(step))
            wait_for(driver, every, timeout=10)
            in_panels.append(time.perf_counter() - written)
        figures["panels_with_the_row"] = driver.execute_script(
            "return document.querySelectorAll('.panel-plot').length"
        )
    for name, latencies in (("live_row_shown_s", in_plot), ("live_row_in_panels_s", in_panels)):
        figures[name] = {"median": statistics.median(latencies), "max": max(latencies)}
    return figures
