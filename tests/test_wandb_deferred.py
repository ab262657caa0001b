"""Offline W&B runs written after training from the local store (``wandb_offline: deferred``,
the default): no W&B process while training, and the offline run written later by
``hf-tracking sync``, also for a run killed with SIGKILL, and as one run across a resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import psutil
import pytest

from hf_tracking.catalog import STEP_KEY
from tests.support.configs import small_config
from tests.support.runs import crashed_and_resumed, metrics_rows, strict_json
from tests.support.wandb_reader import find_offline_runs, read_run, wait_for_exit

KILLED_LOOP = """
import sys, time
from hf_tracking import ExperimentConfig, ExperimentTracker
config = ExperimentConfig(output_dir=sys.argv[1], experiment_name="killed", wandb_mode="offline",
                          log_every_steps=1, vocab_size=64, d_model=32, num_layers=2,
                          num_heads=2, seq_length=16)
tracker = ExperimentTracker(config)
for step in range(40):
    tracker.log_train_step(loss=2.0 / (1 + step), tokens=16)
tracker.flush()
print("ready", flush=True)
time.sleep(600)
"""


def test_a_run_killed_mid_training_ran_no_wandb_process_and_sync_writes_its_offline_run(
    tmp_path,
):
    output = tmp_path / "experiments"
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_LOOP, str(output)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        # Training with W&B offline: no W&B process, no W&B service, no wandb import.
        assert psutil.Process(process.pid).children(recursive=True) == []
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    run_dir = output / "killed"
    assert not list(tmp_path.rglob("offline-run-*"))
    command = [sys.executable, "-m", "hf_tracking.cli", "sync", "--no-upload", str(run_dir)]
    written = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    (offline_dir,) = find_offline_runs(tmp_path)
    assert f"offline W&B run: {offline_dir}" in written.stdout
    assert f"upload with: wandb sync {offline_dir}" in written.stdout
    run = wait_for_exit(offline_dir)
    assert [row[STEP_KEY] for row in run.history] == list(range(1, 41))
    assert run.exit_code == 1  # the training process never finished
    assert run.metrics[STEP_KEY] and run.metrics["train/*"]["step_metric"] == STEP_KEY
    spec = json.loads((run_dir / "wandb_run.json").read_text())
    assert run.run_id == spec["start"]["id"] and run.name == "killed"
    # Written once: a second sync of the unchanged run writes nothing new.
    again = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    assert f"offline W&B run: {offline_dir}" in again.stdout
    assert find_offline_runs(tmp_path) == [offline_dir]


@pytest.mark.slow
def test_a_deferred_run_resumed_is_one_wandb_run_with_the_resumed_values(tmp_path, monkeypatch):
    # A process that has not imported wandb (this one may have, reading W&B files for tests).
    monkeypatch.delitem(sys.modules, "wandb", raising=False)
    config = small_config(tmp_path, wandb_mode="offline", experiment_name="resumed")
    state, second = crashed_and_resumed(config)
    summary = strict_json(second.finish(wait=True))
    report = next(entry for entry in summary["backends"] if entry["name"] == "wandb")
    assert report["sync_command"] == f"hf-tracking sync {second.run_dir}"
    assert report["records_written"] == 5 and report["records_lost"] == 0
    monkeypatch.undo()  # wandb back as it was, for reading the run
    (offline_dir,) = find_offline_runs(tmp_path)
    run = read_run(offline_dir)
    assert run.run_id == summary["wandb"]["run_id"] == state["backends"]["wandb"]["run_id"]
    losses = [(row[STEP_KEY], row["train/loss"]) for row in run.history]
    assert losses == [
        (1, 2.0),
        (2, 2.0),
        (3, 2.0),
        (4, 1.5),
        (5, 1.5),
        (6, 1.5),
        (7, 1.5),
        (8, 1.5),
    ]
    assert run.exit_code == 0 and run.summary[STEP_KEY] == 8
    local = [row[STEP_KEY] for row in metrics_rows(second.run_dir) if row.get("event") == "train"]
    assert local == list(range(1, 9))
