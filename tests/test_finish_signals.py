"""A signal while a run is finishing: the drain completes, the summary says "interrupted", and
the process then ends as the signal says."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.runs import metrics_rows, strict_json
from tests.support.wandb_reader import find_offline_runs, wait_for_exit

ROOT = Path(__file__).resolve().parents[1]
RECORDS = 6000


def finish_interrupted(tmp_path: Path, signals: list[int], wandb: bool = False):
    command = [sys.executable, str(ROOT / "tests/support/finish_signal.py"), str(tmp_path)]
    command += [str(RECORDS), *(["--wandb"] if wandb else [])]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "finishing"
    for signum in signals:
        time.sleep(0.3)
        process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout, stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_finish_lets_the_drain_complete(tmp_path, signum):
    returncode, stdout, stderr = finish_interrupted(tmp_path, [signum])
    assert returncode == -signum, stderr[-2000:]
    assert "finished" not in stdout  # the signal took effect after the finish
    rows = metrics_rows(tmp_path / "signal")
    assert len(rows) == RECORDS
    summary = strict_json(tmp_path / "signal_summary.json")
    assert summary["status"] == "interrupted"
    assert signal.Signals(signum).name in summary["error"]
    assert "while the run is finishing" in stderr


@pytest.mark.slow
def test_a_second_signal_during_finish_stops_at_once(tmp_path):
    started = time.perf_counter()
    returncode, _, _ = finish_interrupted(tmp_path, [signal.SIGTERM, signal.SIGTERM])
    assert returncode == -signal.SIGTERM
    assert time.perf_counter() - started < 1.5 + RECORDS / 1000 * 0.3


@pytest.mark.slow
def test_the_wandb_run_is_finished_after_a_signal_during_finish(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    returncode, _, stderr = finish_interrupted(tmp_path, [signal.SIGTERM], wandb=True)
    assert returncode == -signal.SIGTERM, stderr[-2000:]
    (offline_dir,) = find_offline_runs(tmp_path)
    run = wait_for_exit(offline_dir)
    assert len(run.history) == RECORDS
    assert run.exit_code is not None
