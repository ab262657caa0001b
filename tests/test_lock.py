"""One writer per run directory: two real processes, a kill -9, two stores in one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from hf_tracking.backends.lock import RunDirLocked
from tests.support.stores import config, run_info

ROOT = Path(__file__).resolve().parents[1]


def first_session(tmp_path: Path, steps: int = 3) -> Path:
    tracker = ExperimentTracker(
        config(tmp_path, experiment_name="shared"), backends=[LocalRunStore()]
    )
    for _ in range(steps):
        tracker.log_train_step(loss=0.5, tokens=1)
    tracker.finish()
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(tracker.state_dict()))
    return state_path


def writer(tmp_path: Path, state_path: Path, rows: int, loss: float, hold: bool):
    command = [
        sys.executable,
        str(ROOT / "tests" / "support" / "resume_writer.py"),
        str(tmp_path),
        str(state_path),
        str(rows),
        str(loss),
    ]
    return subprocess.Popen(
        command + (["--hold"] if hold else []),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_two_processes_resuming_one_run(tmp_path):
    state_path = first_session(tmp_path)
    holder = writer(tmp_path, state_path, 3000, 1.0, hold=True)
    assert holder.stdout.readline().strip() == "ready"
    second = writer(tmp_path, state_path, 3000, 2.0, hold=False)
    out, _ = second.communicate(timeout=120)
    refused = json.loads(out.splitlines()[-1])
    holder.stdin.write("go\n")
    holder.stdin.flush()
    out, _ = holder.communicate(timeout=120)
    kept = json.loads(out.splitlines()[-1])
    assert refused["status"] == "failed" and "being written by another process" in refused["error"]
    assert f"pid {holder.pid}" in refused["error"]
    assert (refused["records_written"], refused["records_lost"]) == (0, 3000)
    assert (kept["records_written"], kept["records_lost"], kept["lock"]) == (3000, 0, "released")
    rows = [
        json.loads(line)
        for line in (tmp_path / "shared" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [row["time/gradient_steps"] for row in rows] == list(range(1, 3004))
    assert {row["train/loss"] for row in rows[3:]} == {1.0}


@pytest.mark.slow
def test_the_lock_goes_with_the_process(tmp_path):
    """kill -9 of the writer frees the run for the next resume; a finished one too."""
    state_path = first_session(tmp_path)
    holder = writer(tmp_path, state_path, 10, 1.0, hold=True)
    assert holder.stdout.readline().strip() == "ready"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    for loss in (2.0, 3.0):  # after a kill, then after a finish
        resumed = writer(tmp_path, state_path, 10, loss, hold=False)
        out, _ = resumed.communicate(timeout=120)
        report = json.loads(out.splitlines()[-1])
        assert (report["records_written"], report["error"]) == (10, None)


def test_a_second_store_in_the_same_process_is_refused(tmp_path):
    run = run_info(tmp_path / "run")
    first, second = LocalRunStore(), LocalRunStore()
    first.start(run)
    with pytest.raises(RunDirLocked, match="another tracker of this process"):
        second.start(run)
    first.finish("finished", 0)
    second.start(run)
    second.finish("finished", 0)
