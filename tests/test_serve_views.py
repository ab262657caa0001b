"""The dashboard's scaling page, compare page and the run page's health alerts: their JSON and
the pages in a real headless Chromium, over one directory of runs of several sizes × compute
budgets written by the real tracker (one of them named as HTML, one with a health alert)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from hf_tracking.jsonio import read_json
from hf_tracking.serve.runs import RunCatalog
from hf_tracking.serve.scaling_view import ScalingView
from hf_tracking.serve.server import DashboardServer
from tests.support.browser import chromium, wait_for
from tests.support.scaling_runs import BUDGETS, LAW, WIDTHS, write_run
from tests.test_serve_api import get_json

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "<img src=x onerror=alert(1)>"
HTML_VALUE = "<b>bold</b><img src=x onerror=alert(2)>"
HOSTILE_AT = (24, 1e10)  # the run named as HTML
ALERT_AT = (32, 3e10)  # the run with a non-finite loss at its second step
FIRST, SECOND = "w16_c3e09", "w32_c1e10"  # configs differing in d_model and budget only
GRID_RUNS = len(WIDTHS) * len(BUDGETS)


def run_name(width: int, budget: float) -> str:
    return HOSTILE if (width, budget) == HOSTILE_AT else f"w{width}_c{budget:.0e}".replace("+", "")


@pytest.fixture(scope="module")
def views_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("views")
    for budget in BUDGETS:
        for width in WIDTHS:
            name = run_name(width, budget)
            extra = {"budget": budget, "note": HTML_VALUE}
            nan_at = 1 if (width, budget) == ALERT_AT else None
            if name != HOSTILE:
                write_run(directory, name, width, budget, extra, nan_at)
                continue
            # The tracker makes a name safe for a path: the files are renamed as a user could.
            write_run(directory, "hostile", width, budget, extra)
            (directory / "hostile").rename(directory / HOSTILE)
            (directory / "hostile_summary.json").rename(directory / f"{HOSTILE}_summary.json")
    return directory


@pytest.fixture(scope="module")
def served(views_dir):
    server = DashboardServer(RunCatalog([views_dir]), "127.0.0.1", 0)
    server.start()
    yield server.url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def fitted(url: str, timeout: float = 120.0) -> dict:
    """The scaling answer once its fit is made (a fit runs on a thread; the answer says
    "fitting" meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = get_json(url)
        if answer["status"] != "fitting" or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_scaling_answer_is_the_command_s_fit_made_once_per_set_of_runs(views_dir):
    from hf_tracking import scaling

    view = ScalingView(RunCatalog([views_dir]), wait_seconds=120)
    answer = view.answer({})
    assert answer["status"] == "fitted", answer["error"]
    assert len(answer["points"]) == GRID_RUNS and answer["left_out"] == []
    assert {point["convention"] for point in answer["points"]} == {
        "tokens × FLOPs/token (PaLM/nanoGPT (full attention))"
    }
    paths = [views_dir / point["name"] for point in answer["points"]]
    points = scaling.points_from_runs(paths)
    for key in ("n", "d", "c", "loss"):
        assert [point[key] for point in answer["points"]] == getattr(points, key).tolist()
    command = scaling.fit_scaling(points, grid="coarse")
    three = answer["fit"]["approach3"]
    for key in ("E", "A", "B", "alpha", "beta", "a"):
        assert three[key] == pytest.approx(command["approach3"][key], rel=1e-6), key
    two = answer["fit"]["approach2"]
    assert two["a"] == pytest.approx(command["approach2"]["a"], rel=1e-9)
    assert two["budget_rule"] == command["approach2"]["budget_rule"] == "interpolate"
    # The law the runs were written from: a = β / (α + β).
    assert three["a"] == pytest.approx(LAW["beta"] / (LAW["alpha"] + LAW["beta"]), abs=0.02)
    minima = [profile["minimum"] for profile in answer["curves"]["isoflop"]]
    assert len(minima) == len(BUDGETS) and all(minima)
    assert view.answer({})["fit"] == answer["fit"] and view.fits_made == 1  # kept, not refitted

    too_few = view.answer({"run": [FIRST, SECOND]})
    assert too_few["status"] == "error" and len(too_few["points"]) == 2
    assert "needs at least 6 runs" in too_few["error"]


def test_scaling_without_scipy_names_what_to_install_and_the_rest_works(views_dir):
    script = (
        "import sys, json, urllib.request\n"
        "sys.modules['scipy'] = None  # as where the analysis extra is not installed\n"
        "from hf_tracking.serve.runs import RunCatalog\n"
        "from hf_tracking.serve.server import DashboardServer\n"
        "server = DashboardServer(RunCatalog([sys.argv[1]]), '127.0.0.1', 0)\n"
        "server.start()\n"
        "answers = {}\n"
        f"for page in ('api/runs', 'api/scaling', 'scaling', 'api/run?id={FIRST}',\n"
        f"             'api/compare?run={FIRST}&run={SECOND}'):\n"
        "    with urllib.request.urlopen(server.url + page) as response:\n"
        "        answers[page] = [response.status, response.read().decode()]\n"
        "print(json.dumps(answers))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(views_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.splitlines()[-1])
    assert all(status == 200 for status, _ in answers.values())
    answer = json.loads(answers["api/scaling"][1])
    assert answer["status"] == "error" and len(answer["points"]) == GRID_RUNS
    assert "pip install 'hf-tracking[analysis]'" in answer["error"]


def test_compare_puts_the_differing_config_fields_first(served):
    answer = get_json(served + f"api/compare?run={FIRST}&run={SECOND}")
    assert [run["id"] for run in answer["runs"]] == [FIRST, SECOND]
    config = answer["config"]
    assert [(row["key"], row["differs"]) for row in config[:2]] == [
        ("d_model", True),
        ("trainer.budget", True),  # the tracker's extra_config
    ]
    assert not any(row["differs"] for row in config[2:]) and len(config) > 10
    assert next(row for row in config if row["key"] == "trainer.note")["values"] == [HTML_VALUE] * 2
    figures = {figure["label"]: figure for figure in answer["summary"]}
    assert figures["gradient steps"]["values"] == [4, 4]
    assert figures["last val loss"]["best"] == 1  # the bigger run at the bigger budget
    for label in ("tokens seen", "mean tokens/s", "MFU %", "ledger: train hours", "alerts"):
        assert label in figures


def test_the_run_detail_lists_its_alerts(served, views_dir):
    name = run_name(*ALERT_AT)
    summary = read_json(views_dir / f"{name}_summary.json")
    listed = get_json(served + f"api/run?id={name}")["alerts"]
    assert listed["count"] == len(summary["alerts"]) == 1
    alert = listed["alerts"][0]
    expected = summary["alerts"][0]
    assert (alert["kind"], alert["step"]) == ("nonfinite_loss", expected["step"])
    assert alert["checkpoint"] == expected["checkpoint"] and alert["checkpoint"]
    assert get_json(served + f"api/run?id={FIRST}")["alerts"] == {
        "alerts": [],
        "count": 0,
        "stopped_by": None,
    }


@pytest.mark.slow
def test_compare_page_marks_the_differing_fields_and_shows_html_as_text(served, browser):
    browser.get(served + f"?run={FIRST}&run={SECOND}")  # the runs page, two runs ticked
    wait_for(browser, "window.hfDashboard.state.selected.length === 2")
    browser.find_element("id", "compare-link").click()
    wait_for(browser, "window.hfCompare && window.hfCompare.answer")
    assert [run["id"] for run in browser.execute_script("return hfCompare.answer.runs")] == [
        FIRST,
        SECOND,
    ]
    hostile = urllib.parse.quote(HOSTILE, safe="")
    browser.get(served + f"compare?run={FIRST}&run={SECOND}&run={hostile}")
    wait_for(browser, "window.hfCompare.answer && document.getElementById('compare-table')")
    page = browser.execute_script(
        "const rows = [...document.querySelectorAll('#compare-table tr[data-key]')];"
        "return {keys: rows.map(r => [r.dataset.key, r.classList.contains('diff'),"
        " !!r.querySelector('.differs')]),"
        " head: [...document.querySelectorAll('#compare-table th.run')].map(t => t.textContent),"
        " note: rows.find(r => r.dataset.key === 'trainer.note').cells[1].textContent,"
        " images: document.querySelectorAll('img').length}"
    )
    assert page["keys"][:2] == [["d_model", True, True], ["trainer.budget", True, True]]
    assert all(not diff and not mark for _, diff, mark in page["keys"][2:])
    assert page["head"] == [FIRST, SECOND, HOSTILE]  # the name shows as text
    assert page["note"] == HTML_VALUE
    assert page["images"] == 0


@pytest.mark.slow
def test_run_page_lists_the_alert_at_its_step(served, views_dir, browser):
    name = run_name(*ALERT_AT)
    expected = read_json(views_dir / f"{name}_summary.json")["alerts"][0]
    browser.get(served + f"#run={name}")
    cells = wait_for(
        browser,
        "(() => { const row = document.querySelector('#run-alerts table.alert-list tr:nth-child(2)');"
        " return row && [...row.cells].map(c => c.textContent); })()",
    )
    assert cells[:2] == ["nonfinite_loss", str(expected["step"])]
    assert cells[4] == expected["message"] and cells[5] == expected["checkpoint"]
    shown = browser.execute_script(
        "return [document.querySelector('#run-body .kv-grid').textContent,"
        " document.querySelectorAll('img').length]"
    )
    assert json.dumps(HTML_VALUE) in shown[0] and shown[1] == 0  # the config value as text


@pytest.mark.slow
def test_scaling_page_draws_points_frontier_and_exponent_and_follows_new_runs(
    served, views_dir, browser
):
    ready = (
        "window.hfScaling && window.hfScaling.answer && window.hfScaling.answer.status !== "
        "'fitting' && window.hfScaling.draws > 0"
    )
    browser.get(served + f"scaling?run={FIRST}&run={SECOND}")  # too few runs for a fit
    wait_for(browser, ready, timeout=60)
    error = browser.find_element("id", "fit-error")
    assert error.is_displayed() and "needs at least 6 runs" in error.text
    assert browser.execute_script("return document.getElementById('loss-compute').data[0].x.length")

    browser.get(served + "scaling")
    wait_for(browser, ready, timeout=120)
    read = (
        "const roles = (id) => Object.fromEntries(document.getElementById(id).data.map(t =>"
        " [t.meta.role, t.x.length]));"
        "return {loss: roles('loss-compute'), iso: document.getElementById('isoflop').data.length,"
        " frontier: roles('frontier'), numbers: document.getElementById('fit-numbers').textContent,"
        " table: document.getElementById('scaling-points').textContent,"
        " images: document.querySelectorAll('img').length, fit: window.hfScaling.answer.fit}"
    )
    page = browser.execute_script(read)
    assert page["loss"]["runs"] == GRID_RUNS and page["loss"]["frontier"] > 10
    assert page["loss"]["minima"] == len(BUDGETS)
    assert page["frontier"]["approach2"] > 10 and page["frontier"]["approach3"] > 10
    assert page["iso"] >= 2 * len(BUDGETS)  # a profile and its Approach 3 line per budget
    a3, a2 = page["fit"]["approach3"]["a"], page["fit"]["approach2"]["a"]
    assert f"a = {a3:#.4g}" in page["numbers"] and f"a = {a2:#.4g}" in page["numbers"]
    assert HOSTILE in page["table"] and "PaLM/nanoGPT" in page["table"]
    assert "each run's curve read at every budget it reached" in page["numbers"]
    assert page["images"] == 0

    # A run that finishes while the page is open is fitted on the next poll.
    write_run(views_dir, "late", 32, BUDGETS[1] * 1.02, {"budget": BUDGETS[1]})
    wait_for(
        browser,
        f"{ready} && window.hfScaling.answer.points.length === {GRID_RUNS + 1}"
        f" && document.getElementById('loss-compute').data[0].x.length === {GRID_RUNS + 1}",
        timeout=120,
    )
