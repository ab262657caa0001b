"""The workspace's panels in a real headless Chromium: seed runs grouped into a mean line with a
band, panels searched, collapsed and enlarged with every choice in a link that a new page
reopens, and a panel exported as CSV (the plotted points), PNG and SVG. One browser and one
served directory for the module.

``HF_TRACKING_DOCS_SCREENSHOT=1`` also writes the grouped workspace to docs/workspace.png."""

from __future__ import annotations

import base64
import csv
import io
import os
import shutil
import urllib.parse
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from hf_tracking.serve.runs import RunCatalog
from hf_tracking.serve.server import DashboardServer
from tests.support.browser import chromium, wait_for
from tests.support.dashboard import seed_run

HOSTILE = "<img src=x onerror=alert(1)>"
NAN_AT = 25  # the iteration whose loss is NaN: gradient step 26
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "workspace.png"
PLOTTED = (  # every shown panel drawn by plotly
    "[...document.querySelectorAll('.panel:not([hidden]):not(.collapsed) .panel-plot')]"
    ".every(n => Number(n.dataset.drawn) > 0) && document.querySelectorAll('.panel').length > 0"
)


def link(*runs: str, **params: str) -> str:
    return "?" + urllib.parse.urlencode([*(("run", run) for run in runs), *params.items()])


def traces(driver, panel: str) -> list[dict]:
    return driver.execute_script(
        "return document.querySelector(`.panel[data-panel='${arguments[0]}'] .panel-plot`).data"
        ".map(t => ({meta: t.meta, name: t.name, fill: t.fill || null,"
        " x: Array.from(t.x), y: Array.from(t.y)}))",
        panel,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The server over three seed runs of one config (the first with a non-finite loss: a health
    alert), a run of another learning rate and a copy of it named as HTML; and one browser."""
    directory = tmp_path_factory.mktemp("panels")
    for seed in range(3):
        seed_run(directory, f"seed{seed}", seed, nan_at=NAN_AT if seed == 0 else None)
    seed_run(directory, "lr3e-3", 0, learning_rate=3e-3)
    shutil.copytree(directory / "lr3e-3", directory / HOSTILE)
    shutil.copy(directory / "lr3e-3_summary.json", directory / f"{HOSTILE}_summary.json")
    server = DashboardServer(RunCatalog([directory]), "127.0.0.1", 0)
    server.start()
    try:
        with chromium() as driver:
            yield server.url, driver
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_three_seed_runs_draw_one_mean_line_and_a_band(page, tmp_path):
    url, driver = page
    driver.get(url + link("seed0", "seed1", "seed2", "lr3e-3", group="seed", smooth="0.6"))
    wait_for(driver, PLOTTED + " && document.querySelectorAll('.panel').length >= 6", 60)
    shown = [t for t in traces(driver, "train") if t["meta"]["key"] == "train/loss"]
    seeds = [t for t in shown if t["meta"]["runs"] == ["seed0", "seed1", "seed2"]]
    roles = sorted(t["meta"]["role"] for t in seeds)
    assert roles == ["minmax high", "minmax low", "raw mean", "smoothed mean"]  # one mean, a band
    high = next(t for t in seeds if t["meta"]["role"] == "minmax high")
    low = next(t for t in seeds if t["meta"]["role"] == "minmax low")
    mean = next(t for t in seeds if t["meta"]["role"] == "smoothed mean")
    assert high["fill"] == "tonexty" and shown.index(high) == shown.index(low) + 1
    assert all(lo <= m <= hi for lo, m, hi in zip(low["y"], mean["y"], high["y"], strict=True))
    assert max(h - lo for lo, h in zip(low["y"], high["y"], strict=True)) > 0.05
    alone = [t["meta"]["role"] for t in shown if t["meta"]["runs"] == ["lr3e-3"]]
    assert alone == ["raw mean", "smoothed mean"]  # a group of one run: no band
    marks = driver.execute_script(  # seed0's alert, on every panel
        "return [...document.querySelectorAll('.panel-plot')].filter(n => n.layout)"
        ".map(n => n.layout.shapes.filter(s => s.name === 'alert').map(s => s.x0))"
    )
    assert len(marks) >= 6 and all(found == [NAN_AT + 1] for found in marks), marks
    if os.environ.get("HF_TRACKING_DOCS_SCREENSHOT") == "1":
        driver.execute_script("document.querySelector('.panel-controls').scrollIntoView()")
        driver.save_screenshot(str(tmp_path / "workspace.png"))
        shutil.copyfile(tmp_path / "workspace.png", DOCS_SCREENSHOT)

    # A group named by a run whose name is HTML: text in the legend, no element made.
    driver.get(url + link(HOSTILE, "lr3e-3", "seed1", group="seed"))
    wait_for(driver, PLOTTED + " && document.querySelectorAll('.panel').length >= 6", 60)
    legend = driver.execute_script(
        "return [...document.querySelectorAll('.panel .legendtext')].map(e => e.textContent)"
    )
    assert f"{HOSTILE} + 1 seed train/loss (2)" in legend
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0


@pytest.mark.slow
def test_a_copied_link_reopens_the_same_panels_grouping_and_selection(page):
    url, driver = page
    driver.get(url + link("seed0"))
    wait_for(driver, PLOTTED, 60)
    driver.find_element("css selector", "#runs tr[data-id='seed1'] input.pick").click()
    driver.find_element("css selector", "#x-key option[value='time/tokens_seen']").click()
    driver.execute_script(
        "const s = document.getElementById('smoothing'); s.value = '0.5';"
        "s.dispatchEvent(new Event('input'));"
    )
    driver.find_element("id", "panel-search").send_keys("LOSS")  # train/loss, val/loss
    wait_for(driver, "document.getElementById('panel-count').textContent.startsWith('2 of ')")
    driver.find_element("css selector", ".panel[data-panel='val'] .collapse").click()
    driver.find_element("css selector", ".panel[data-panel='train'] .enlarge").click()
    wait_for(driver, "document.querySelector(\"#group-by option[value='seed']\")")
    driver.find_element("css selector", "#group-by option[value='seed']").click()
    driver.find_element("css selector", "#band option[value='se']").click()
    copied = wait_for(
        driver,
        "location.search.includes('band=se') && location.search.includes('smooth=0.5')"
        " && location.search.split('run=').length === 3 && location.href",
    )
    grouped = "document.querySelector('.panel[data-panel=\"train\"] .panel-plot').data"
    state = (
        "const s = window.hfDashboard.state, w = window.hfDashboard.workspace;"
        "return {runs: s.selected, x: s.x, smooth: s.smoothing, find: w.find, group: w.group,"
        " band: w.band, collapsed: [...w.collapsed], big: w.big,"
        " search: document.getElementById('panel-search').value,"
        " groupBy: document.getElementById('group-by').value,"
        " shown: [...document.querySelectorAll('.panel:not([hidden])')].map(p => p.dataset.panel),"
        " shut: [...document.querySelectorAll('.panel.collapsed')].map(p => p.dataset.panel),"
        " wide: [...document.querySelectorAll('.panel.big')].map(p => p.dataset.panel),"
        f" roles: {grouped}.map(t => t.meta.role)}}"
    )
    ready = f"{PLOTTED} && {grouped}.some(t => t.meta.role === 'se high')"
    wait_for(driver, ready, 30)
    before = driver.execute_script(state)
    assert before["shown"] == ["train", "val"] and "smoothed mean" in before["roles"]

    driver.switch_to.new_window("tab")  # the link, in a new page
    try:
        driver.get(copied)
        wait_for(driver, ready, 60)
        after = driver.execute_script(state)
    finally:
        driver.close()
        driver.switch_to.window(driver.window_handles[0])
    assert after == before
    assert after["runs"] == ["seed0", "seed1"] and after["x"] == "time/tokens_seen"
    assert (after["find"], after["group"], after["band"]) == ("LOSS", "seed", "se")
    assert (after["collapsed"], after["big"], after["smooth"]) == (["val"], "train", 0.5)


@pytest.mark.slow
def test_a_panel_exports_its_plotted_points_and_images_with_names_as_text(page):
    url, driver = page
    driver.get(url + link(HOSTILE, "seed0", smooth="0.5"))
    wait_for(driver, PLOTTED + " && document.querySelectorAll('.panel').length >= 6", 60)
    plotted = traces(driver, "train")
    text = driver.execute_script("return panelCsv('train')")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["series", "metric", "role", "time/gradient_steps", "value"]
    expected = [
        [t["meta"]["label"], t["meta"]["key"], t["meta"]["role"], x, y]
        for t in plotted
        for x, y in zip(t["x"], t["y"], strict=True)
    ]
    assert [[a, b, c, float(x), float(y) if y else None] for a, b, c, x, y in rows[1:]] == expected
    assert {row[2] for row in rows[1:]} == {"raw", "smoothed"}  # as shown
    assert f"{HOSTILE} train/loss" in {row[0] for row in rows[1:]}  # the name, as text

    for fmt in ("csv", "png", "svg"):  # the buttons download the file
        driver.find_element("css selector", f".panel[data-panel='train'] .export.{fmt}").click()
        done = wait_for(driver, f"window.hfDashboard.lastExport?.filename?.endsWith('.{fmt}') &&"
                        " window.hfDashboard.lastExport", 20)  # fmt: skip
        assert done["filename"] == f"hf-tracking-train.{fmt}" and done["bytes"] > 1000, done
    # Grouped, the legend names the group by its first run: text in the SVG, no element.
    driver.find_element("css selector", "#group-by option[value='seed']").click()
    wait_for(driver, "document.querySelector('.panel[data-panel=\"train\"] .legendtext')", 30)
    svg = driver.execute_async_script(
        "const done = arguments[0];"
        "Plotly.toImage(document.querySelector('.panel[data-panel=\"train\"] .panel-plot'),"
        " {format: 'svg'}).then(done)"
    )
    assert svg.startswith("data:image/svg+xml,")
    document = ElementTree.fromstring(urllib.parse.unquote(svg.split(",", 1)[1]))
    tags = {element.tag.rsplit("}", 1)[-1] for element in document.iter()}
    assert "img" not in tags and "script" not in tags
    assert any(HOSTILE in "".join(element.itertext()) for element in document.iter())
    png = driver.execute_async_script(
        "Plotly.toImage(document.querySelector('.panel[data-panel=\"train\"] .panel-plot'),"
        " {format: 'png'}).then(arguments[0])"
    )
    assert base64.b64decode(png.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
