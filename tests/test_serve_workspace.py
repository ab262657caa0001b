"""The dashboard's workspace: one panel per metric group a run logged, drawn in a real headless
Chromium, with the view (panels, axis, smoothing, runs) kept in the URL."""

from __future__ import annotations

import json
import shutil
import urllib.parse

import pytest

import hf_tracking
from hf_tracking.backends.local import LocalRunStore
from hf_tracking.serve.panels import panels
from hf_tracking.serve.runs import RunCatalog
from hf_tracking.serve.server import DashboardServer
from tests.support.browser import chromium, wait_for
from tests.support.dashboard import run_config, train
from tests.test_serve_api import get_json
from tests.test_serve_api import serve as serve  # the fixture

HOSTILE = "<img src=x onerror=alert(1)>"
GROUPS = ["train", "val", "lr", "grad", "throughput", "ledger", "health", "custom"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run with a non-finite loss at one step (a health alert) and a custom metric, and a copy
    of it under a name that is HTML."""
    directory = tmp_path_factory.mktemp("workspace")
    tracker = hf_tracking.ExperimentTracker(
        run_config(directory, "ws", num_iterations=40), backends=[LocalRunStore()]
    )
    train(tracker, 0, 25)
    tracker.log_train_step(
        loss=float("nan"), learning_rate=1e-3, grad_norm=1.0, tokens=64, iteration=25
    )
    train(tracker, 26, 40)
    tracker.log_custom_metric("accuracy", 0.5)
    tracker.finish(wait=True)
    shutil.copytree(directory / "ws", directory / HOSTILE)
    shutil.copy(directory / "ws_summary.json", directory / f"{HOSTILE}_summary.json")
    return directory


def alert_steps(directory) -> list[float]:
    with open(directory / "ws" / "metrics.jsonl") as stream:
        rows = [json.loads(line) for line in stream]
    return [row["time/gradient_steps"] for row in rows if row.get("event") == "alert"]


def test_panels_follow_the_catalog_groups():
    names = ["train/loss", "train/learning_rate", "train/grad_norm", "val/loss", "mine/acc"]
    names += ["memory/process_rss_gb", "time/train_hours", "time/eval_hours", "tokens/slots"]
    found = panels([*names, "alert/value", "custom/x", "train/epoch"])
    assert [(p["id"], p["keys"]) for p in found] == [
        ("train", ["train/loss", "train/epoch"]),
        ("val", ["val/loss"]),
        ("lr", ["train/learning_rate"]),
        ("grad", ["train/grad_norm"]),
        ("ledger", ["time/train_hours", "time/eval_hours"]),
        ("tokens", ["tokens/slots"]),
        ("memory", ["memory/process_rss_gb"]),
        ("health", ["alert/value"]),
        ("custom", ["custom/x", "mine/acc"]),
    ]


def test_the_keys_answer_names_the_run_s_panels(runs, serve):
    url = serve(runs)
    answer = get_json(url + "api/keys?run=ws")
    assert [panel["id"] for panel in answer["panels"]] == GROUPS
    steps = alert_steps(runs)
    assert steps  # the non-finite loss raised an alert
    for y in ("train/loss", "val/loss", "custom/accuracy"):
        alerts = get_json(url + f"api/series?run=ws&y={y}")["runs"][0]["alerts"]
        assert [(a["x"], a["step"], a["kind"]) for a in alerts] == [
            (step, step, "nonfinite_loss") for step in steps
        ]
    rows = {row["id"]: row for row in get_json(url + "api/runs")["runs"]}
    assert rows["ws"]["alerts"] == len(steps) == 1


@pytest.mark.slow
def test_the_workspace_grid_and_a_copied_link(runs):
    server = DashboardServer(RunCatalog([runs]), "127.0.0.1", 0)
    server.start()
    drawn = (
        "[...document.querySelectorAll('.panel:not(.collapsed) .panel-plot')]"
        ".every(n => Number(n.dataset.drawn) > 0)"
        " && document.querySelectorAll('.panel').length > 0"
    )
    ids = "[...document.querySelectorAll('.panel')].map(p => p.dataset.panel)"
    try:
        with chromium() as driver:
            driver.get(server.url + "?run=ws")
            wait_for(driver, drawn, timeout=30)
            assert driver.execute_script("return " + ids) == GROUPS  # one panel per group
            # The alert at step S: a marker at S on the chart and on every panel drawn.
            marks = driver.execute_script(
                "return [document.getElementById('plot'),"
                " ...document.querySelectorAll('.panel-plot')].map(n =>"
                " n.layout.shapes.filter(s => s.name === 'alert').map(s => s.x0))"
            )
            assert len(marks) == len(GROUPS) + 1
            assert all(found == alert_steps(runs) for found in marks), marks
            cell = driver.execute_script(  # the runs table's alerts column
                "const at = [...document.querySelectorAll('#runs thead th')]"
                ".findIndex(th => th.dataset.key === 'alerts');"
                "return document.querySelector(\"#runs tr[data-id='ws']\").cells[at].textContent"
            )
            assert cell == "1"

            # Shared choices: tokens on x, smoothing; a panel collapsed, another enlarged.
            driver.find_element("css selector", "#x-key option[value='time/tokens_seen']").click()
            driver.execute_script(
                "const s = document.getElementById('smoothing'); s.value = '0.5';"
                "s.dispatchEvent(new Event('input'));"
            )
            driver.find_element("css selector", ".panel[data-panel='lr'] .collapse").click()
            driver.find_element("css selector", ".panel[data-panel='train'] .enlarge").click()
            pick = f"#runs tr[data-id='{HOSTILE}'] input.pick"
            wait_for(driver, f'document.querySelector("{pick}")')
            driver.find_element("css selector", pick).click()
            link = wait_for(
                driver,
                "location.search.includes('smooth=0.5') && location.search.includes('tokens')"
                " && location.search.includes('collapsed=lr') && location.search.includes("
                "'big=train') && location.search.split('run=').length === 3 && location.href",
            )
            query = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)
            assert query["run"] == ["ws", HOSTILE] and query["x"] == ["time/tokens_seen"]

            driver.get("about:blank")
            driver.get(link)  # the copied link reopens the same view
            smoothed = (
                "document.querySelector('.panel[data-panel=\"grad\"] .panel-plot').data"
                ".some(t => t.meta.role === 'smoothed')"
            )
            wait_for(driver, f"{drawn} && {smoothed}", timeout=30)
            view = driver.execute_script(
                "const s = window.hfDashboard.state, w = window.hfDashboard.workspace;"
                "return {x: s.x, smooth: s.smoothing, runs: s.selected,"
                " collapsed: [...w.collapsed], big: w.big,"
                " bigShown: document.querySelector('.panel.big').dataset.panel,"
                " lrShut: document.querySelector('.panel[data-panel=\"lr\"]')"
                ".classList.contains('collapsed'),"
                " xTitle: document.querySelector('.panel[data-panel=\"val\"] .panel-plot')"
                ".layout.xaxis.title.text, images: document.querySelectorAll('img').length,"
                " text: document.getElementById('runs').textContent}"
            )
            assert view["x"] == "time/tokens_seen" and view["smooth"] == 0.5
            assert sorted(view["runs"]) == sorted(["ws", HOSTILE])
            assert view["collapsed"] == ["lr"] and view["lrShut"]
            assert view["big"] == "train" == view["bigShown"]
            assert view["xTitle"] == "tokens seen"
            assert view["images"] == 0 and HOSTILE in view["text"]  # the name shows as text
    finally:
        server.shutdown()
