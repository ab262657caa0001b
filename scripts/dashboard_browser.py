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

# When each stage of a visit ended, in ms from navigation (Navigation and Resource Timing, and
# the marks app.js and plot.js leave in window.hfDashboard).
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
  plotly_fetched: ends['/static/plotly.min.js'], interactive: info.interactiveMs};
"""


def visits(url: str, profiles: int) -> dict[str, Any]:
    """A first and a returning visit in each of ``profiles`` fresh browser profiles."""
    from tests.support.browser import chromium, wait_for

    seen: dict[str, list[dict[str, Any]]] = {"first_visit": [], "returning_visit": []}
    for _ in range(profiles):
        with chromium() as driver:
            for visit, stages in seen.items():
                driver.get(url + f"?visit={visit}")
                wait_for(driver, "window.hfDashboard && window.hfDashboard.interactiveMs")
                stages.append(driver.execute_script(STAGES))
    figures: dict[str, Any] = {"stages": seen}
    for visit, stages in seen.items():
        for stage in ("first_paint", "interactive"):
            values = [entry[stage] for entry in stages]
            figures[f"{stage}_ms_{visit}"] = {
                "median": statistics.median(values),
                "max": max(values),
            }
    return figures


def browser_figures(
    big_url: str, many_url: str, live_path: Path, runs: int, profiles: int
) -> dict[str, Any]:
    from tests.support.browser import chromium, wait_for

    figures = visits(big_url, profiles)
    drawn = "window.hfDashboard && window.hfDashboard.interactiveMs"
    with chromium() as driver:
        driver.get(many_url + "?run=live")
        shown = min(runs + 1, RUNS_PAGE)  # the table shows one page of runs at a time
        table = f"document.querySelectorAll('#runs tbody tr').length === {shown}"
        wait_for(driver, table)
        figures["runs_table_shown_ms"] = driver.execute_script(
            "return window.hfDashboard.tableShownMs"
        )
        wait_for(driver, drawn)
        latencies = []
        last = "Math.max(...document.getElementById('plot').data[0].x)"
        step = int(wait_for(driver, last))
        for _ in range(5):
            step += 1
            row = {"event": "train", "time/gradient_steps": step, "train/loss": 2.0}
            row.update({"time/wallclock_hours": step * 1e-4, "time/tokens_seen": step * 16384})
            with open(live_path, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(row) + "\n")
            written = time.perf_counter()
            wait_for(driver, f"{last} >= {step}", timeout=10)
            latencies.append(time.perf_counter() - written)
        figures["live_row_shown_s"] = {
            "median": statistics.median(latencies),
            "max": max(latencies),
        }
    return figures
