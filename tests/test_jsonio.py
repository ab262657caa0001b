"""Readers of the run store against hostile lines: skipped and said once, never a traceback."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from hf_tracking.cli import main
from hf_tracking.jsonio import iter_jsonl, read_json
from tests.support.reporting import make_run

HOSTILE_LINES = {
    "deep": '{"event": "train", "a": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
    "digits": '{"event": "train", "time/gradient_steps": ' + "9" * 4000 + "}\n",
    "not-an-object": "[1, 2]\n",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_LINES))
def test_iter_jsonl_skips_a_hostile_line_and_says_so_once(tmp_path, caplog, kind):
    path = tmp_path / "metrics.jsonl"
    good = '{"event": "train", "time/gradient_steps": 1}\n'
    path.write_text(good + HOSTILE_LINES[kind] + HOSTILE_LINES[kind] + good)
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        rows = list(iter_jsonl(path))
    assert [row["time/gradient_steps"] for row in rows] == [1, 1]
    (message,) = [m for m in caplog.messages if "unreadable" in m]
    assert "skipped 2 unreadable line(s)" in message


def test_read_json_refuses_hostile_documents_with_value_error(tmp_path):
    for kind, line in HOSTILE_LINES.items():
        if kind == "not-an-object":
            continue
        path = tmp_path / f"{kind}.json"
        path.write_text(line)
        with pytest.raises(ValueError):
            read_json(path)


@pytest.mark.parametrize("kind", ["deep", "digits"])
@pytest.mark.parametrize("command", ["summary", "report"])
def test_cli_reads_past_a_hostile_line(tmp_path, caplog, kind, command):
    make_run(tmp_path, "run", track_memory=False)
    with open(tmp_path / "run" / "metrics.jsonl", "a") as stream:
        stream.write(HOSTILE_LINES[kind])
    assert main([command, str(tmp_path / "run")]) == 0
    assert sum("skipped 1 unreadable line(s)" in m for m in caplog.messages) == 1


@pytest.mark.slow
def test_the_cli_says_so_on_stderr_without_a_traceback(tmp_path):
    make_run(tmp_path, "run", track_memory=False)
    with open(tmp_path / "run" / "metrics.jsonl", "a") as stream:
        stream.write(HOSTILE_LINES["deep"])
    result = subprocess.run(
        [sys.executable, "-m", "hf_tracking.cli", "summary", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "skipped 1 unreadable line(s)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["deep", "digits"])
def test_resume_over_a_hostile_line_keeps_the_session(tmp_path, kind):
    config = {
        "experiment_name": "run",
        "output_dir": str(tmp_path),
        "wandb_mode": "disabled",
        "log_every_steps": 1,
        "track_memory": False,
        **{"vocab_size": 64, "d_model": 32, "num_layers": 2, "num_heads": 2, "seq_length": 16},
    }
    first = ExperimentTracker(config, backends=[LocalRunStore()])
    for _ in range(10):
        first.log_train_step(loss=1.0, tokens=1)
    first.finish()
    state = first.state_dict()
    metrics = tmp_path / "run" / "metrics.jsonl"
    with open(metrics, "a") as stream:
        stream.write(HOSTILE_LINES[kind])
    second = ExperimentTracker(config, backends=[LocalRunStore()])
    second.load_state_dict(state)
    for _ in range(10):
        second.log_train_step(loss=1.0, tokens=1)
    summary = json.loads(second.finish().read_text())
    (local,) = summary["backends"]
    assert (local["records_written"], local["records_lost"], local["error"]) == (10, 0, None)
    steps = [row["time/gradient_steps"] for row in iter_jsonl(metrics)]
    assert steps == list(range(1, 21))
    assert HOSTILE_LINES[kind] not in metrics.read_text()
