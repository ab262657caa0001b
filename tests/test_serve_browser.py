"""The dashboard in a real headless Chromium, on runs that are still being written.

Skipped with "browser tests did not run" where no Chromium can be had; a failure under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from hf_tracking.metrics.time_ema import ema as smooth_ema
from hf_tracking.serve.runs import RunCatalog
from hf_tracking.serve.server import DashboardServer
from tests.support.browser import chromium, plot_pixels, wait_for
from tests.support.dashboard import LiveRun, finished_run

ROOT = Path(__file__).resolve().parents[1]
DOCS_SCREENSHOT = ROOT / "docs" / "dashboard.png"


@pytest.mark.slow
def test_dashboard_on_a_run_still_training(tmp_path):
    finished_run(tmp_path, "baseline_lr3e-4", steps=120, tags=["sweep"])
    finished_run(
        tmp_path, "ablation_lr1e-3", steps=90, resume_at=50, scale=0.85, learning_rate=1e-3
    )
    live = LiveRun(tmp_path, "live_run", interval=0.2).start(first_steps=30)
    server = DashboardServer(RunCatalog([tmp_path]), "127.0.0.1", 0)
    server.start()
    try:
        with chromium() as driver:
            driver.get(server.url)
            wait_for(driver, "document.querySelectorAll('#runs tbody tr').length === 3")
            names = driver.execute_script(
                "return [...document.querySelectorAll('#runs tbody tr')].map(r => r.dataset.id)"
            )
            assert sorted(names) == ["ablation_lr1e-3", "baseline_lr3e-4", "live_run"]
            live_dot = "#runs tr[data-id='live_run'] .dot.live"
            assert driver.find_elements("css selector", live_dot)
            order = "[...document.querySelectorAll('#runs tbody tr')].map(r => r.dataset.id)"
            # The server sorts and filters (the table is paged): each answer is waited for.
            shown = f"JSON.stringify({order})"
            driver.find_element("css selector", "#runs th[data-key='steps']").click()
            wait_for(driver, f"{order}.at(-1) === 'baseline_lr3e-4'")  # 120 steps, the most
            driver.find_element("id", "filter").send_keys("ablation")
            wait_for(driver, f"""{shown} === '["ablation_lr1e-3"]'""")
            driver.find_element("id", "filter").clear()
            driver.execute_script(
                "document.getElementById('filter').dispatchEvent(new Event('input'))"
            )
            wait_for(driver, f"{order}.length === 3")
            driver.find_element("css selector", "#tag-filter option[value='sweep']").click()
            wait_for(driver, f"""{shown} === '["baseline_lr3e-4"]'""")
            driver.find_element("css selector", "#tag-filter option[value='']").click()
            wait_for(driver, f"{order}.length === 3")
            wait_for(driver, "window.hfDashboard.draws > 0")
            # The newest run (the live one) is selected first; add the ablation.
            driver.find_element(
                "css selector", "#runs tr[data-id='ablation_lr1e-3'] input.pick"
            ).click()
            wait_for(driver, "window.hfDashboard.state.series.runs.length === 2")
            header = driver.find_element("css selector", "#runs thead").text
            assert "learning_rate" in header  # config fields that differ between the selection
            driver.find_element("css selector", "#x-key option[value='time/tokens_seen']").click()
            driver.find_element("id", "log-x").click()
            driver.find_element("id", "log-y").click()
            driver.execute_script(
                "const s = document.getElementById('smoothing'); s.value = '0.6';"
                "s.dispatchEvent(new Event('input'));"
            )
            wait_for(driver, "window.hfDashboard.state.series.x === 'time/tokens_seen'")
            layout = wait_for(
                driver,
                "(() => { const p = document.getElementById('plot');"
                " return p.layout.xaxis.type === 'log' && p.layout.yaxis.type === 'log'"
                " && p.data.some(t => t.meta && t.meta.role === 'smoothed') && p.layout; })()",
            )
            assert any(shape["line"]["dash"] == "dash" for shape in layout["shapes"])  # resume
            assert any(shape["line"]["dash"] == "dot" for shape in layout["shapes"])  # checkpoints
            traces = driver.execute_script(
                "return document.getElementById('plot').data.map(t => ({role: t.meta.role,"
                " run: t.meta.run, x: Array.from(t.x), y: Array.from(t.y), hover: t.hovertemplate,"
                " tau: t.meta.tau}))"
            )
            assert all("%{y:.10~g}" in trace["hover"] for trace in traces)  # exact values
            raw = {t["run"]: t for t in traces if t["role"] == "raw"}
            smooth = {t["run"]: t for t in traces if t["role"] == "smoothed"}
            assert set(raw) == set(smooth) == {"live_run", "ablation_lr1e-3"}
            assert {t["run"] for t in traces if t["role"] == "val"} == set(raw)
            # The server's time-weighted EMA of every row (the τ of that answer: the live run
            # widens the x extent it is worked out from).
            line, tau = raw["ablation_lr1e-3"], smooth["ablation_lr1e-3"]["tau"]
            expected = smooth_ema(np.array(line["x"]), np.array(line["y"]), tau)
            assert smooth["ablation_lr1e-3"]["y"] == pytest.approx(expected.tolist(), rel=1e-12)
            assert raw["ablation_lr1e-3"]["x"][:2] == [64 * 1, 64 * 2]  # tokens, not steps

            # A row written now shows up without a reload.
            before = max(raw["live_run"]["x"])
            grown = wait_for(
                driver,
                "(() => { const t = document.getElementById('plot').data.find(t => t.meta &&"
                f" t.meta.run === 'live_run' && t.meta.role === 'raw');"
                f" const m = Math.max(...t.x); return m > {before} && m; }})()",
                timeout=10,
            )
            assert grown > before

            # Zoom re-downsamples that range on the server; reset goes back.
            driver.execute_script(
                "Plotly.relayout('plot', {'xaxis.range': [Math.log10(1000), Math.log10(3000)]})"
            )
            wait_for(driver, "window.hfDashboard.state.series.lo !== null")
            lo, hi = driver.execute_script(
                "return [window.hfDashboard.state.series.lo, window.hfDashboard.state.series.hi]"
            )
            assert lo == pytest.approx(1000) and hi == pytest.approx(3000)
            driver.find_element("id", "reset-zoom").click()
            wait_for(driver, "window.hfDashboard.state.series.lo === null")
            driver.execute_script("Plotly.relayout('plot', {'xaxis.autorange': true})")
            time.sleep(0.5)

            png = driver.get_screenshot_as_png()
            rect = driver.find_element("id", "plot").rect
            colours, inked = plot_pixels(png, rect)
            assert colours > 30 and inked > 0.01, (colours, inked)  # drawn, not a blank canvas
            (tmp_path / "dashboard.png").write_bytes(png)
            if os.environ.get("HF_TRACKING_DOCS_SCREENSHOT") == "1":
                shutil.copyfile(tmp_path / "dashboard.png", DOCS_SCREENSHOT)

            # With only finished runs selected, the curves are not asked for again.
            driver.find_element("css selector", "#runs tr[data-id='live_run'] input.pick").click()
            wait_for(driver, "window.hfDashboard.state.series.runs.length === 1")
            asked = "seriesRequest"  # app.js counts the curve requests it makes
            before_wait = driver.execute_script("return " + asked)
            time.sleep(2.5)
            assert driver.execute_script("return " + asked) == before_wait

            # The run page: ledger, config, backends and events.
            driver.find_element("css selector", "#runs tr[data-id='ablation_lr1e-3'] a").click()
            wait_for(driver, "document.querySelector('#run-body .ledger') !== null")
            body = driver.find_element("id", "run-body").text
            assert "Time ledger" in body and "learning_rate" in body and "resumed 1 time" in body
            assert "checkpoint" in body and "local" in body
            errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
            assert not errors, errors
    finally:
        server.shutdown()
        server.server_close()
        live.stop()


def test_a_missing_browser_skips_plainly_but_fails_under_ci(monkeypatch):
    from tests.support import browser

    monkeypatch.setattr(browser, "CHROMIUM", ("/nonexistent/chromium",))
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="browser tests did not run"), chromium():
        pass
    monkeypatch.setenv("CI", "true")
    failure = r"browser tests did not run.*CI must run"
    with pytest.raises(pytest.fail.Exception, match=failure), chromium():
        pass


def test_metric_names_show_as_text_and_thousands_of_them_stay_usable(tmp_path):
    """plotly reads names and titles as pseudo-HTML: a metric named with <b> or <a href> must
    show those characters, not bold text or a link. A run of 20,000 names gets a page."""
    key = "<b>bold</b> <a href='https://example.com'>link</a>"
    finished_run(tmp_path, "markup", steps=20)
    with open(tmp_path / "markup" / "metrics.jsonl", "a") as stream:
        for step in range(21, 26):
            rows = [{"event": "train", "time/gradient_steps": step, f"train/{key}": 1.0 / step}]
            rows.append({"event": "val", "time/gradient_steps": step, f"val/{key}": 2.0 / step})
            stream.write("".join(json.dumps(row) + "\n" for row in rows))
    finished_run(tmp_path, "wide", steps=5)
    with open(tmp_path / "wide" / "metrics.jsonl", "a") as stream:
        for number in range(20_000):
            row = {"event": "custom", "time/gradient_steps": 5, f"custom/m{number}": 1.0}
            stream.write(json.dumps(row) + "\n")
    server = DashboardServer(RunCatalog([tmp_path]), "127.0.0.1", 0)
    server.start()
    try:
        with chromium() as driver:
            driver.get(server.url + "?run=markup")
            wait_for(driver, "window.hfDashboard.draws > 0", timeout=60)
            driver.execute_script(
                "window.hfDashboard.state.y = arguments[0]; refreshSeries();", f"train/{key}"
            )
            shown = wait_for(
                driver,
                "(() => { const t = document.querySelector('#plot .ytitle');"
                " return t && t.textContent.includes('bold') && {"
                " title: t.textContent,"
                " legend: [...document.querySelectorAll('#plot .legendtext')].map(e => e.textContent),"
                " links: document.querySelectorAll('#plot a').length,"
                " bold: document.querySelectorAll('#plot tspan[style*=\"bold\"]').length}; })()",
                timeout=60,
            )
            assert shown["title"] == f"train/{key}"
            assert f"markup val/{key}" in shown["legend"]
            assert shown["links"] == 0 and shown["bold"] == 0

            # A run of 20,000 metric names: a bounded table and the names searchable.
            driver.execute_script("location.hash = '#run=wide'")
            wait_for(driver, "document.getElementById('metric-count') !== null", timeout=60)
            cells = driver.execute_script("return document.querySelectorAll('#run-body td').length")
            assert cells < 30_000, cells  # one column a name: 4,000,000 cells
            count = driver.find_element("id", "metric-count").text
            assert count == "the first 200 of 20.0k matching", count
            driver.find_element("id", "metric-search").send_keys("m1999")
            wait_for(
                driver, "document.getElementById('metric-count').textContent === '11 matching'"
            )
            assert driver.find_element("id", "metric-names").text.split("\n")[0] == "custom/m1999"
    finally:
        server.shutdown()
        server.server_close()
