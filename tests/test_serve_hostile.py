"""The dashboard against files it did not expect: malformed summaries, secrets in metric names,
over-long lines and symlinks that lead out of the served directories."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from hf_tracking.jsonio import read_json
from hf_tracking.serve import index as index_module
from tests.support.dashboard import finished_run
from tests.test_serve_api import get, get_json
from tests.test_serve_api import serve as serve  # the fixture

BAD_SUMMARIES = {
    "totals_list": {"totals": [1, 2]},
    "best_text": {"best": "x"},
    "tags_nan": {"tags": [float("nan")]},
    "nan_field": {"extra": float("nan"), "goodput_pct": float("inf")},
    "flops_list": {"flops": []},
    "wandb_text": {"wandb": "x", "backends": "x"},
    "status_dict": {"status": {"a": 1}},
    "config_deep": {"config": json.loads('{"a":' * 900 + "1" + "}" * 900)},
}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("good")
    finished_run(directory, "good", steps=12)
    return directory


def test_a_malformed_summary_breaks_neither_the_list_nor_its_own_page(tmp_path, serve, good_run):
    summary = read_json(good_run / "good_summary.json")
    shutil.copytree(good_run / "good", tmp_path / "good")
    (tmp_path / "good_summary.json").write_text(json.dumps(summary))
    for name, fields in BAD_SUMMARIES.items():
        (tmp_path / f"{name}_summary.json").write_text(json.dumps({**summary, **fields}))
    url = serve(tmp_path)
    status, body = get(url + "api/runs")
    assert status == 200, body[:300]
    rows = {row["id"]: row for row in json.loads(body)["runs"]}
    assert set(BAD_SUMMARIES) <= set(rows) and rows["good"]["steps"] == 12
    assert rows["totals_list"]["steps"] is None and rows["best_text"]["best_val_loss"] is None
    assert rows["nan_field"]["goodput_pct"] is None
    for name in BAD_SUMMARIES:
        status, body = get(url + f"api/run?id={name}")
        assert status == 200, (name, body[:300])
        assert b"NaN" not in body and b"Infinity" not in body
    detail = get_json(url + "api/run?id=wandb_text")
    assert detail["sync_command"] is None and detail["backends"] == []
    assert get_json(url + "api/run?id=nan_field")["summary"]["extra"] is None


def test_secrets_in_metric_names_are_masked_when_served(tmp_path, serve, monkeypatch):
    secret = "s3cr3tvalue0123456789"
    finished_run(tmp_path, "run", steps=6)
    metrics = tmp_path / "run" / "metrics.jsonl"
    row = {"event": "custom", "time/gradient_steps": 6, f"custom/m_{secret}": 1.0}
    with open(metrics, "a") as stream:
        stream.write(json.dumps(row) + "\n")
    summary = read_json(tmp_path / "run_summary.json")
    summary["final"][f"custom/m_{secret}"] = 1.0
    (tmp_path / "run_summary.json").write_text(json.dumps(summary))
    monkeypatch.setenv("HF_TOKEN", secret)
    url = serve(tmp_path)
    for page in ("api/runs", "api/run?id=run", "api/keys?run=run", "api/series?run=run"):
        status, body = get(url + page)
        assert status == 200 and secret.encode() not in body, page
    assert "custom/m_***redacted***" in get_json(url + "api/keys?run=run")["keys"]["custom"]


def test_an_over_long_line_is_skipped_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "CHUNK_BYTES", 1024)
    path = tmp_path / "metrics.jsonl"
    rows = [{"event": "train", "time/gradient_steps": step, "train/loss": 1.0} for step in (1, 2)]
    long = {"event": "train", "time/gradient_steps": 9, "k": "a" * 5000}
    path.write_text("".join(json.dumps(row) + "\n" for row in (rows[0], long, rows[1])))
    index = index_module.MetricsIndex(path)
    index.update()
    assert index.rows == 2 and index.skipped_lines == 1
    assert index.series("train", "time/gradient_steps").tolist() == [1.0, 2.0]
    with open(path, "a") as stream:
        stream.write(json.dumps({**rows[1], "time/gradient_steps": 3}) + "\n")
    index.update()
    assert index.series("train", "time/gradient_steps").tolist() == [1.0, 2.0, 3.0]


def test_symlinks_out_of_the_served_directories_are_not_served(tmp_path, serve, good_run):
    served, outside = tmp_path / "served", tmp_path / "outside"
    served.mkdir()
    outside.mkdir()
    (outside / "private.json").write_text(json.dumps({"status": "finished", "private": 42}))
    (served / "leak_summary.json").symlink_to(outside / "private.json")
    (served / "linked").symlink_to(good_run / "good")
    (served / "inner").mkdir()
    (served / "inner" / "metrics.jsonl").symlink_to(good_run / "good" / "metrics.jsonl")
    url = serve(served)
    ids = {row["id"] for row in get_json(url + "api/runs")["runs"]}
    assert ids.isdisjoint({"leak", "linked", "inner"}), ids
    assert get(url + "api/run?id=leak")[0] == 404
    assert os.path.exists(served / "leak_summary.json")
