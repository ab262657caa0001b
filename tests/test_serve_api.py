"""The dashboard's HTTP API on real run stores: no browser, real server on a free port."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from hf_tracking.jsonio import dumps_line, iter_jsonl, read_json
from hf_tracking.metrics.time_ema import ema
from hf_tracking.serve import host_warning
from hf_tracking.serve.index import MetricsIndex
from hf_tracking.serve.runs import RunCatalog
from hf_tracking.serve.server import DashboardServer
from hf_tracking.serve.smooth import tau_of
from tests.support.dashboard import LiveRun, finished_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def serve():
    servers = []

    def start(*roots: Path) -> str:
        server = DashboardServer(RunCatalog(list(roots)), "127.0.0.1", 0)
        server.start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def get(url: str, gzip_ok: bool = False) -> tuple[int, bytes]:
    headers = {"Accept-Encoding": "gzip"} if gzip_ok else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
            body = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return response.status, body
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get_json(url: str) -> dict:
    status, body = get(url)
    assert status == 200, body
    return json.loads(body)


def test_runs_table_reads_the_summaries(tmp_path, serve):
    finished_run(tmp_path, "base", steps=60, tags=["sweep"])
    finished_run(tmp_path, "fast", steps=40, learning_rate=1e-3)
    url = serve(tmp_path)
    rows = {row["id"]: row for row in get_json(url + "api/runs")["runs"]}
    assert set(rows) == {"base", "fast"}
    summary = read_json(tmp_path / "base_summary.json")
    base = rows["base"]
    assert base["status"] == "finished" and base["live"] is False
    assert base["steps"] == 60 and base["tokens"] == summary["totals"]["tokens_seen"]
    assert base["best_val_loss"] == summary["best"]["val"]["loss"]
    assert base["last_train_loss"] == summary["final"]["train/loss"]
    assert base["goodput_pct"] == summary["goodput_pct"]
    assert "sweep" in base["tags"]
    assert rows["fast"]["config"]["learning_rate"] == 1e-3
    assert base["config"]["learning_rate"] == 3e-4


def test_series_holds_the_rows_markers_and_the_compute_axis(tmp_path, serve):
    finished_run(tmp_path, "run", steps=60, resume_at=30)
    url = serve(tmp_path)
    rows = list(iter_jsonl(tmp_path / "run" / "metrics.jsonl"))
    train = [row for row in rows if row["event"] == "train"]
    val = [row for row in rows if row["event"] == "val"]
    answer = get_json(url + "api/series?run=run&y=train/loss&x=time/tokens_seen")["runs"][0]
    assert answer["complete"] is True and "note" not in answer
    assert answer["line"]["x"] == [row["time/tokens_seen"] for row in train]
    assert answer["line"]["y"] == [row["train/loss"] for row in train]
    assert answer["points_key"] == "val/loss"
    assert answer["points"]["y"] == [row["val/loss"] for row in val]
    assert [mark["step"] for mark in answer["checkpoints"]] == [10, 20, 30, 40, 50, 60]
    assert [mark["step"] for mark in answer["resumes"]] == [30]
    flops = read_json(tmp_path / "run_summary.json")["flops"]["flops_per_token"]["total"]
    compute = get_json(url + "api/series?run=run&y=train/loss&x=compute")["runs"][0]
    assert compute["line"]["x"] == [row["time/tokens_seen"] * flops for row in train]
    val_only = get_json(url + "api/series?run=run&y=val/loss")["runs"][0]
    assert val_only["line"]["y"] == [row["val/loss"] for row in val]


def test_series_downsamples_and_zooms_keeping_ends_and_validation(tmp_path, serve):
    finished_run(tmp_path, "long", steps=3000)
    url = serve(tmp_path)
    full = get_json(url + "api/series?run=long&points=100")["runs"][0]
    assert full["total"] == 3000
    assert len(full["line"]["x"]) <= 100
    assert full["line"]["x"][0] == 1 and full["line"]["x"][-1] == 3000
    assert len(full["points"]["x"]) == 300  # every validation point
    zoom = get_json(url + "api/series?run=long&points=100&lo=1000&hi=1200")["runs"][0]
    xs = zoom["line"]["x"]
    assert xs[0] == 999 and xs[-1] == 1201 and 50 < len(xs) <= 100  # one point past each edge
    assert zoom["points"]["x"] == list(range(990, 1220, 10))

    # Smoothed on every row before downsampling: a zoom shows the same smoothed values.
    every = get_json(url + "api/series?run=long&points=20000&smooth=0.9")
    rows = every["runs"][0]["line"]
    assert every["tau"] == pytest.approx(tau_of(0.9, 2999.0))
    assert rows["smooth"] == pytest.approx(
        ema(np.array(rows["x"]), np.array(rows["y"]), every["tau"]).tolist(), rel=1e-12
    )
    by_x = dict(zip(rows["x"], rows["smooth"], strict=True))
    for answer in (full, zoom):
        query = "&lo=1000&hi=1200" if answer is zoom else ""
        line = get_json(url + f"api/series?run=long&points=100&smooth=0.9{query}")["runs"][0][
            "line"
        ]
        assert line["smooth"] == pytest.approx([by_x[x] for x in line["x"]], rel=1e-12)


def test_bad_requests_are_clear_errors(tmp_path, serve):
    finished_run(tmp_path, "run", steps=10)
    url = serve(tmp_path)
    status, body = get(url + "api/series?run=run&x=time/epochs")
    assert status == 400 and b"x must be one of" in body
    status, body = get(url + "api/series?run=run&lo=abc")
    assert status == 400 and b"lo must be a number" in body
    status, body = get(url + "api/series?run=run&points=0")
    assert status == 400 and b"points must be between 4 and" in body
    status, body = get(url + "api/series?run=run&smooth=1")
    assert status == 400 and b"smooth must be in [0, 1)" in body
    status, body = get(url + "api/series?run=nope")
    assert status == 404 and b"no run with id" in body


def test_only_the_page_and_runs_are_served(tmp_path, serve):
    finished_run(tmp_path / "experiments", "run", steps=10)
    (tmp_path / "secret.txt").write_text("do not serve")
    url = serve(tmp_path / "experiments")
    for path in (
        "../secret.txt",
        "static/../../secret.txt",
        "static/%2e%2e/%2e%2e/secret.txt",
        "run/metrics.jsonl",
        "run_summary.json",
        "static/../api/runs",
        "api/run?id=../secret.txt",
        "api/run?id=/etc/passwd",
        "api/series?run=..%2Fsecret.txt",
    ):
        request = urllib.request.Request(url + path)
        request.selector = "/" + path  # as sent, without the client's own normalising
        try:
            with urllib.request.urlopen(request) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        assert status == 404, path
        assert b"do not serve" not in body
    request = urllib.request.Request(url + "api/runs", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 405
    status, body = get(url + "static/plotly.min.js", gzip_ok=True)
    assert status == 200 and b"plotly.js" in body[:200]
    status, page = get(url)
    assert status == 200
    for script in [*re.findall(rb'src="(/static/[^"]+)"', page), b"/static/app.css"]:
        assert get(url + script.decode()[1:])[0] == 200, script


def test_a_foreign_host_name_is_refused(tmp_path, serve):
    finished_run(tmp_path, "run", steps=10)
    url = serve(tmp_path)
    request = urllib.request.Request(url + "api/runs", headers={"Host": "attacker.example:7070"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 403
    port = url.rsplit(":", 1)[1].strip("/")
    request = urllib.request.Request(url + "api/runs", headers={"Host": f"localhost:{port}"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200


def test_no_secret_reaches_a_page(tmp_path, serve, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    live = LiveRun(tmp_path, "live", max_steps=40).start(first_steps=5)
    live.stop()
    (tmp_path / "live_summary.json").unlink()  # a run still being written has no summary
    config = tmp_path / "live" / "config.yaml"
    config.write_text(config.read_text() + f"hub_token: hf_abcdefgh12345\nnotes: key {'k' * 40}\n")
    url = serve(tmp_path)
    pages = [get(url + "api/runs")[1], get(url + "api/run?id=live")[1]]
    for page in pages:
        assert b"hf_abcdefgh12345" not in page and b"k" * 40 not in page
    assert b"***redacted***" in pages[1]


def test_a_live_run_is_read_by_offset_and_a_torn_line_waits(tmp_path, serve):
    live = LiveRun(tmp_path, "live", interval=0.01, max_steps=10_000).start(first_steps=10)
    try:
        url = serve(tmp_path)
        first = get_json(url + "api/runs")["runs"][0]
        assert first["status"] == "running" and first["live"] is True
        assert first["rows"] >= 10
        for _ in range(200):
            later = get_json(url + "api/runs")["runs"][0]
            if later["rows"] > first["rows"] + 5:
                break
        assert later["rows"] > first["rows"] and later["steps"] > first["steps"]
    finally:
        live.stop()
    metrics = tmp_path / "live" / "metrics.jsonl"
    index = MetricsIndex(metrics)
    rows = index.update()
    assert rows == len(list(iter_jsonl(metrics))) and index.offset == metrics.stat().st_size
    line = dumps_line({"event": "train", "time/gradient_steps": 99999, "train/loss": 1.5})
    with open(metrics, "a") as stream:
        stream.write(line[:20])  # a row caught half-written
    assert index.update() == 0 and index.offset == metrics.stat().st_size - 20
    with open(metrics, "a") as stream:
        stream.write(line[20:])
    assert index.update() == 1
    assert index.series("train", "train/loss")[-1] == 1.5
    assert index.series("train", "time/gradient_steps")[-1] == 99999


def test_loopback_by_default_and_a_warning_for_every_interface():
    from hf_tracking.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.dirs == []
    assert host_warning("127.0.0.1") is None and host_warning("localhost") is None
    assert "anyone who can reach this machine" in host_warning("0.0.0.0")
    assert "not only this machine" in host_warning("192.168.1.20")


def test_the_command_prints_its_url_and_serves(tmp_path):
    finished_run(tmp_path / "experiments", "run", steps=10)
    process = subprocess.Popen(
        [sys.executable, "-m", "hf_tracking.cli", "serve", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "open http://127.0.0.1:" in line
        url = line.rsplit("open ", 1)[1].strip()
        assert [row["id"] for row in get_json(url + "api/runs")["runs"]] == ["run"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_import_hf_tracking_loads_no_dashboard_dependency():
    code = (
        "import sys, hf_tracking; "
        "print(sorted(m for m in ('plotly', 'orjson', 'selenium', 'hf_tracking.serve') "
        "if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert output.stdout.strip() == "[]", output.stderr


def test_without_plotly_the_command_says_which_extra_to_install(tmp_path):
    code = (
        "import sys; sys.modules['plotly'] = None; from hf_tracking.cli import main; "
        "sys.exit(main(['serve', '--port', '0']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert "pip install 'hf-tracking[serve]'" in result.stderr


def test_indexes_of_finished_runs_stay_within_the_memory_budget(tmp_path, monkeypatch):
    from hf_tracking.serve import runs

    finished_run(tmp_path, "old", steps=200)
    finished_run(tmp_path, "new", steps=200)
    catalog = RunCatalog([tmp_path], memory_budget=1)
    clock = [1000.0]
    monkeypatch.setattr(runs.time, "monotonic", lambda: clock[0])
    old = catalog.index(catalog.get("old"))
    assert old.rows > 200
    clock[0] += 10
    catalog.index(catalog.get("new"))
    clock[0] += 10
    catalog.index(catalog.get("new"))  # over budget: the least recently used index goes
    assert catalog.get("old").index is None and catalog.get("new").index is not None
    again = catalog.index(catalog.get("old"))  # rebuilt when asked for
    assert again.rows == old.rows
