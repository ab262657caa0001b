"""The dashboard's first paint in a real headless Chromium: the curve is drawn (sketch.js, on a
canvas) before plotly.js is loaded, and plotly takes over in the same place, on the same axis
ranges (a linear x axis and, once log y is ticked, a log y axis).

plotly.min.js is held back by the server until the test lets it go (a slow first download), so
the page is seen in the state a first visit is in while plotly compiles.
"""

from __future__ import annotations

import threading
import urllib.request

import pytest

from hf_tracking.serve import server as server_module
from tests.support.browser import chromium, plot_pixels, wait_for
from tests.support.dashboard import finished_run
from tests.test_serve_api import get
from tests.test_serve_api import serve as serve  # the fixture

RUN_COLOUR = (0x2A, 0x6F, 0xDB)  # app.js's first colour: the first selected run
# The canvas pixels (device pixels, RGBA) around each point of the sketched traces.
PIXELS_AT_POINTS = """
const s = window.hfDashboard.sketch, run = window.hfDashboard.state.series.runs[0];
const ctx = document.getElementById('sketch').getContext('2d'), ratio = window.devicePixelRatio;
const at = (x, y) => [s.area.l + (x - s.xRange[0]) / (s.xRange[1] - s.xRange[0]) * s.area.w,
  s.area.t + s.area.h - (y - s.yRange[0]) / (s.yRange[1] - s.yRange[0]) * s.area.h];
const near = (x, y) => Array.from(ctx.getImageData(
  Math.round(x * ratio) - 2, Math.round(y * ratio) - 2, 5, 5).data);
return [run.line, run.points].map((trace) => trace.x.map((x, i) => near(...at(x, trace.y[i]))));
"""


def touches(rgba: list[int], colour: tuple[int, int, int]) -> bool:
    """Whether a pixel of the block is the colour (antialiased edges count)."""
    pixels = [rgba[i : i + 3] for i in range(0, len(rgba), 4)]
    return any(sum(abs(a - b) for a, b in zip(pixel, colour, strict=True)) < 90 for pixel in pixels)


@pytest.mark.slow
def test_the_curve_is_drawn_before_plotly_and_plotly_takes_over_in_place(
    tmp_path, monkeypatch, serve
):
    finished_run(tmp_path, "run", steps=200)
    release = threading.Event()
    serve_asset = server_module._Assets.get

    def held_back(assets, path):
        if path == server_module.PLOTLY_PATH:
            release.wait(60)
        return serve_asset(assets, path)

    monkeypatch.setattr(server_module._Assets, "get", held_back)
    url = serve(tmp_path)
    try:
        with chromium() as driver:
            driver.get(url)
            wait_for(driver, "window.hfDashboard.firstPaintMs")
            assert driver.execute_script("return typeof window.Plotly") == "undefined"
            run = driver.execute_script("return window.hfDashboard.state.series.runs[0]")
            line, val = run["line"], run["points"]
            assert line["x"][0] == 1 and line["x"][-1] == 200 and len(line["x"]) == 200
            assert val["x"] == list(range(10, 201, 10))  # every validation point
            sketch = driver.execute_script("return window.hfDashboard.sketch")
            assert sketch["points"] == len(line["x"]) + len(val["x"])
            for trace in driver.execute_script(PIXELS_AT_POINTS):
                missed = [i for i, block in enumerate(trace) if not touches(block, RUN_COLOUR)]
                assert not missed, missed  # every point is on the canvas where it belongs
            rect = driver.find_element("id", "plot").rect
            colours, inked = plot_pixels(driver.get_screenshot_as_png(), rect)
            assert colours > 30 and inked > 0.01, (colours, inked)  # on screen, not blank
            labels = driver.execute_script(
                "return document.getElementById('sketch').getContext('2d')"
                ".getImageData(0, 0, 60, 300).data.some((v, i) => i % 4 < 3 && v < 150)"
            )
            assert labels  # the y tick labels are written left of the plot area

            # The controls work before plotly too: log y is sketched on a log axis.
            driver.find_element("id", "log-y").click()
            sketch = driver.execute_script("return window.hfDashboard.sketch")
            assert sketch["points"] == len(line["x"]) + len(val["x"])
            assert 0 < sketch["yRange"][0] < sketch["yRange"][1] < 1  # log10 of losses 2..5

            release.set()
            wait_for(driver, "window.hfDashboard.interactiveMs")
            plotly = driver.execute_script(
                "const p = document.getElementById('plot'), f = p._fullLayout;"
                "return {x: f.xaxis.range, y: f.yaxis.range, size: f._size,"
                " sketch: !!document.getElementById('sketch'),"
                " traces: p.data.map((t) => ({role: t.meta.role, x: Array.from(t.x)}))}"
            )
            assert not plotly["sketch"]  # the canvas is gone once plotly has drawn
            assert {t["role"]: t["x"] for t in plotly["traces"]} == {
                "raw": line["x"],
                "val": val["x"],
            }
            area, size = sketch["area"], plotly["size"]
            assert [size["l"], size["t"], size["w"], size["h"]] == pytest.approx(
                [area["l"], area["t"], area["w"], area["h"]], abs=1
            )
            # Within half a pixel: the curve does not move when plotly takes over.
            for key, length in (("xRange", area["w"]), ("yRange", area["h"])):
                expected = plotly[key[0]]
                pixel = (expected[1] - expected[0]) / length
                assert sketch[key] == pytest.approx(expected, abs=pixel / 2), key
            errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
            assert not errors, errors
    finally:
        release.set()


def test_the_page_is_not_held_up_while_plotly_is_read_and_compressed(tmp_path, monkeypatch, serve):
    finished_run(tmp_path, "run", steps=10)
    release, reading = threading.Event(), threading.Event()
    find_plotly = server_module.plotly_js_path

    def slow_plotly():
        reading.set()
        release.wait(30)
        return find_plotly()

    monkeypatch.setattr(server_module, "plotly_js_path", slow_plotly)
    url = serve(tmp_path)  # its thread starts reading plotly.min.js at once
    try:
        assert reading.wait(10)
        for path in ("", "static/app.js", "static/sketch.js", "api/runs"):
            with urllib.request.urlopen(url + path, timeout=5) as response:
                assert response.status == 200, path
    finally:
        release.set()
    status, body = get(url + "static/plotly.min.js", gzip_ok=True)
    assert status == 200 and body.startswith(
        server_module.COMPILE_HINT + find_plotly().read_bytes()[:100]
    )
