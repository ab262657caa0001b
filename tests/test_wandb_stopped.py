"""A W&B process stopped with SIGSTOP (a debugger, a job suspended): finish names it as not
responding, does not wait out the finish timeout, and counts every record it did not confirm."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore, WandbBackend
from tests.support.harness import tally_report
from tests.support.runs import metrics_rows
from tests.support.stores import config

pytest.importorskip("wandb")
RECORDS = 200


def test_a_stopped_wandb_process_is_named_and_its_records_counted(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    wandb = WandbBackend("offline")
    tracker = ExperimentTracker(
        config(tmp_path, wandb_mode="offline", backend_finish_timeout=60),
        backends=[LocalRunStore(), wandb],
    )
    try:
        logged, deadline = 0, float("inf")
        while logged < 50 or (wandb.acknowledged() < 40 and time.monotonic() < deadline):
            tracker.log_train_step(loss=1.0, tokens=8)
            logged += 1
            if logged == 50:
                assert tracker.flush(timeout=120)  # W&B started and has 50 records
                deadline = time.monotonic() + 30
            elif logged > 50:
                # The child confirms what it logged at most once a second, as records arrive.
                assert tracker.flush(timeout=30)
                time.sleep(0.2)
        os.kill(wandb.pipe.process.pid, signal.SIGSTOP)
        confirmed = wandb.acknowledged()
        for _ in range(RECORDS - logged):
            tracker.log_train_step(loss=1.0, tokens=8)
        started = time.monotonic()
        summary = json.loads(tracker.finish(wait=True).read_text())
        assert time.monotonic() - started < 15
    finally:
        process = wandb.pipe.process
        if process.poll() is None:
            process.kill()
    reports = {report["name"]: report for report in summary["backends"]}
    stopped = reports["wandb"]
    message = f"the W&B process (pid {process.pid}) is stopped and not responding"
    assert stopped["error"] == message
    assert stopped["status"] == f"did not finish within 1 s ({message})"
    tally = tally_report(
        "W&B process stopped (SIGSTOP)", RECORDS, stopped["records_written"], stopped
    )
    assert tally.records_lost_silently == 0
    assert stopped["records_written"] == confirmed >= 40 and stopped["records_lost"] > 0
    assert len(metrics_rows(tracker.run_dir)) == reports["local"]["records_written"] == RECORDS
