"""The dashboard against files it did not expect: malformed summaries, secrets in metric names,
over-long lines and symlinks that lead out of the served directories."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request

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
    for page in ("api/scaling", "api/scaling?run=" + "&run=".join(BAD_SUMMARIES)):
        status, body = get(url + page)
        assert status == 200, (page, body[:300])
    left_out = get_json(url + "api/scaling?loss=train&run=totals_list&run=flops_list")["left_out"]
    assert [run["reason"] for run in left_out] == [
        "its summary does not hold the fields a point needs",
        "run 'flops_list' states no FLOPs per token in its summary; use the 6ND convention",
    ]
    for name in BAD_SUMMARIES:
        status, body = get(url + f"api/compare?run=good&run={name}")
        assert status == 200, (name, body[:300])
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


def get_within(url: str, seconds: float = 10.0) -> tuple[int, bytes]:
    """A GET that fails the test (instead of hanging it) when no answer comes in time."""
    try:
        with urllib.request.urlopen(url, timeout=seconds) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_fifos_a_yaml_bomb_and_a_huge_config_stall_no_request(tmp_path, serve, good_run):
    """Each file a run is read from, replaced by a FIFO (open() would wait for a writer), a YAML
    alias bomb, or a 300 MB config.yaml (sparse): every page still answers at once."""
    for name in ("fifo_summary", "fifo_config", "fifo_metrics", "bomb", "huge"):
        shutil.copytree(good_run / "good", tmp_path / name)
        shutil.copyfile(good_run / "good_summary.json", tmp_path / f"{name}_summary.json")
    for name in ("fifo_config", "fifo_metrics", "bomb", "huge"):
        summary = read_json(tmp_path / f"{name}_summary.json")
        del summary["config"]  # so config.yaml is what the page reads
        (tmp_path / f"{name}_summary.json").write_text(json.dumps(summary))
    (tmp_path / "fifo_summary_summary.json").unlink()
    os.mkfifo(tmp_path / "fifo_summary_summary.json")
    (tmp_path / "fifo_config" / "config.yaml").unlink()
    os.mkfifo(tmp_path / "fifo_config" / "config.yaml")
    (tmp_path / "fifo_metrics" / "metrics.jsonl").unlink()
    os.mkfifo(tmp_path / "fifo_metrics" / "metrics.jsonl")
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    bomb += [
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    (tmp_path / "bomb" / "config.yaml").write_text("\n".join(bomb) + "\n")
    with open(tmp_path / "huge" / "config.yaml", "w") as stream:
        stream.write("learning_rate: 0.001\n")
        stream.truncate(300 * 1024**2)
    url = serve(tmp_path)
    status, body = get_within(url + "api/runs")
    assert status == 200, body[:300]
    rows = {row["id"]: row for row in json.loads(body)["runs"]}
    assert {"fifo_config", "fifo_metrics", "bomb", "huge", "fifo_summary"} <= set(rows)
    assert rows["bomb"]["config"] == {} and rows["huge"]["config"] == {}
    assert rows["fifo_config"]["steps"] == 12
    for name in rows:
        for page in (f"api/run?id={name}", f"api/series?run={name}", f"api/keys?run={name}"):
            status, body = get_within(url + page)
            assert status == 200, (page, body[:300])
    for page in ("api/scaling", "api/compare?run=" + "&run=".join(rows)):
        status, body = get_within(url + page)
        assert status == 200, (page, body[:300])
    assert get_json(url + "api/series?run=fifo_metrics")["runs"][0]["line"] is None


def test_the_scaling_and_compare_answers_refuse_bad_requests_with_a_4xx(serve, good_run):
    """Unknown ids, unknown choices and huge parameters: a 4xx saying why, never a 500."""
    url = serve(good_run)
    many = "&".join(f"run=r{index}" for index in range(5001))
    cases = {
        "api/scaling?run=nope": 404,
        "api/scaling?run=good&run=..%2Fgood": 404,
        "api/scaling?loss=bogus": 400,
        "api/scaling?compute=" + "x" * 30000: 400,
        "api/scaling?grid=%00": 400,
        f"api/scaling?{many}": 400,
        "api/compare": 400,
        "api/compare?run=good&run=good": 400,
        "api/compare?run=good&run=nope": 404,
        "api/compare?run=good&run=%2Fetc%2Fpasswd": 404,
        "api/compare?" + "&".join(f"run=r{index}" for index in range(33)): 400,
        "api/compare?run=" + "a" * 70000: 414,
    }
    for page, expected in cases.items():
        status, body = get(url + page)
        assert status == expected, (page[:60], status, body[:200])
        assert b"Traceback" not in body and len(body) < 2000, page[:60]
        if status != 414:
            assert json.loads(body)["error"]


def test_runs_named_like_credentials_stay_masked_unique_and_openable(tmp_path, serve, good_run):
    secrets = ["hf_" + "a" * 24, "hf_" + "b" * 24]
    for secret in secrets:
        shutil.copytree(good_run / "good", tmp_path / f"exp-{secret}")
        shutil.copyfile(good_run / "good_summary.json", tmp_path / f"exp-{secret}_summary.json")
    url = serve(tmp_path)
    status, body = get(url + "api/runs")
    assert status == 200 and not any(secret.encode() in body for secret in secrets)
    rows = json.loads(body)["runs"]
    assert [row["name"] for row in rows] == ["exp-***redacted***"] * 2
    ids = [row["id"] for row in rows]
    assert len(set(ids)) == 2
    for run_id in ids:
        quoted = urllib.parse.quote(run_id)
        for page in (f"api/run?id={quoted}", f"api/series?run={quoted}", f"api/keys?run={quoted}"):
            status, body = get(url + page)
            assert status == 200, (page, body[:200])
            assert not any(secret.encode() in body for secret in secrets)
        assert get_json(url + f"api/series?run={quoted}")["runs"][0]["line"]["y"]
