"""The W&B mirror on real offline runs read back from their files: what reaches W&B and how
(thinned rows, config, summary, WANDB_* variables, artifacts), wandb.run in the training
process, acknowledged counts, and a W&B run closed when the training process dies."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transformers import Trainer, TrainerCallback

from hf_tracking import ExperimentTracker, TrackingCallback
from hf_tracking.backends import LocalRunStore, WandbBackend
from hf_tracking.backends.wandb_rows import FULL_RESOLUTION, RowThinner, wandb_config
from hf_tracking.catalog import STEP_KEY, WALLCLOCK_KEY
from tests.support.configs import small_config
from tests.support.runs import crashed_and_resumed, metrics_rows, strict_json
from tests.support.tiny import PaddedDataset, tiny_model, training_arguments
from tests.support.wandb_reader import find_offline_runs, wait_for_exit

ROOT = Path(__file__).resolve().parents[1]


def backend_report(summary: dict, name: str = "wandb") -> dict:
    return next(report for report in summary["backends"] if report["name"] == name)


def only_run(tmp_path):
    (run_dir,) = find_offline_runs(tmp_path)
    return wait_for_exit(run_dir)


# ---------------------------------------------------------------------- pure parts
def train_values(step: int, seconds: float) -> dict:
    return {
        STEP_KEY: step,
        WALLCLOCK_KEY: seconds / 3600,
        "time/tokens_seen": 10 * step,
        "train/loss": 2.0,
        "train/learning_rate": 1e-3,
        "train/grad_norm": None,
        "throughput/tokens_per_second": 5.0,
        "time/train_hours": 0.1,
    }


def test_row_thinner_sends_diagnostics_on_a_cadence_and_with_the_last_row():
    thinner = RowThinner(15.0)
    sent = []
    for step, seconds in enumerate([0.0, 5.0, 10.0, 16.0, 20.0], start=1):
        sent += thinner.rows("train", train_values(step, seconds))
    sent += thinner.rows("val", {STEP_KEY: 5, "val/loss": 1.5})
    sent += thinner.rows("train", train_values(6, 25.0))
    sent += thinner.rows("custom", {STEP_KEY: 6, "custom/x": 1.0})
    sent += thinner.rows("train", train_values(7, 26.0))
    sent += thinner.last()
    assert [row[STEP_KEY] for row in sent] == [1, 2, 3, 4, 5, 5, 6, 6, 7]
    full = [row[STEP_KEY] for row in sent if "throughput/tokens_per_second" in row]
    # The first row, 15 s later, before an evaluation and at the end.
    assert full == [1, 4, 5, 7]
    assert all(set(row) <= FULL_RESOLUTION for row in (sent[1], sent[2], sent[6]))
    assert "train/grad_norm" not in sent[0]  # None values are not sent
    assert sent[5] == {STEP_KEY: 5, "val/loss": 1.5}
    assert RowThinner(0).rows("train", train_values(2, 1.0))[0]["time/train_hours"] == 0.1


def test_wandb_config_is_laid_out_as_wandb_callback_does():
    config = {"learning_rate": 3e-4, "project": "p", "trainer": {"learning_rate": 1e-3}}
    combined = wandb_config(config, {"n_embd": 32, "learning_rate": 9.0}, 1234)
    assert combined["n_embd"] == 32
    assert combined["learning_rate"] == 1e-3  # TrainingArguments over the model config
    assert combined["trainer"] == {"learning_rate": 1e-3}
    assert combined["model/num_parameters"] == 1234


# ---------------------------------------------------------------------- rows and counts
def test_rows_reaching_wandb_are_thinned_and_the_local_store_keeps_every_key(tmp_path):
    tracker = ExperimentTracker(small_config(tmp_path, wandb_mode="offline"))
    for _ in range(6):
        tracker.log_train_step(loss=2.0, tokens=16, learning_rate=1e-3, grad_norm=0.5)
    tracker.log_validation(1.8)
    summary = strict_json(tracker.finish(wait=True))
    run = only_run(tmp_path)
    local = metrics_rows(tracker.run_dir)
    assert len(run.history) == len(local) == 7
    assert backend_report(summary)["records_written"] == 7
    diagnostics = "time/train_hours"
    local_train = [row for row in local if "train/loss" in row]
    assert all(diagnostics in row for row in local_train)
    # A hand-written loop's throughput window opens at the end of its first step: the first row
    # has nothing to measure a rate over.
    throughput = "throughput/steps_per_hour"
    assert [throughput in row for row in local_train] == [False] + [True] * 5
    train_rows = [row for row in run.history if "train/loss" in row]
    assert [diagnostics in row for row in train_rows] == [True, False, False, False, False, True]
    for row in train_rows:
        assert {"train/loss", "train/learning_rate", "train/grad_norm", STEP_KEY} <= set(row)
    assert run.history[-1]["val/loss"] == pytest.approx(1.8)
    assert run.summary[diagnostics] == pytest.approx(local[5][diagnostics])


def test_an_alert_reaches_wandb_as_run_alert_and_a_row(tmp_path):
    tracker = ExperimentTracker(small_config(tmp_path, wandb_mode="offline"))
    for step in range(1, 4):
        tracker.log_train_step(loss=math.nan if step == 2 else 2.0, grad_norm=0.5)
    tracker.finish(wait=True)
    run = only_run(tmp_path)
    (alert,) = run.alerts
    assert alert["title"] == "hf_tracking: nonfinite_loss"
    assert alert["text"].startswith("nonfinite_loss at step 2: train/loss is nan")
    (row,) = [row for row in run.history if "alert/threshold" in row or "alert/value" in row]
    assert row[STEP_KEY] == 2 and "alert/kind" not in row  # strings stay in the local store
    (local,) = [row for row in metrics_rows(tracker.run_dir) if row["event"] == "alert"]
    assert local["alert/kind"] == "nonfinite_loss"


def test_a_failing_wandb_log_is_named_when_it_happens_and_counted_as_acknowledged(
    tmp_path, monkeypatch, caplog
):
    # The W&B process imports tests/support/wandb_faults/sitecustomize.py: its fifth row fails.
    faults = ROOT / "tests" / "support" / "wandb_faults"
    monkeypatch.setenv("PYTHONPATH", f"{faults}:{ROOT}")
    monkeypatch.setenv("HF_TRACKING_FAULT", "wandb-log-fails-after-4")
    tracker = ExperimentTracker(small_config(tmp_path, wandb_mode="offline", wandb_offline="live"))
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        for _ in range(8):
            tracker.log_train_step(loss=2.0, tokens=16)
            tracker.flush()
        deadline = time.monotonic() + 30
        while not any("injected" in m for m in caplog.messages) and time.monotonic() < deadline:
            tracker.log_train_step(loss=2.0, tokens=16)
            tracker.flush()
            time.sleep(0.05)
        named_during_training = [m for m in caplog.messages if "injected" in m]
        total = tracker.run.gradient_steps
        summary = strict_json(tracker.finish(wait=True))
    assert len(named_during_training) == 1
    assert "ValueError: injected: the fifth row is refused" in named_during_training[0]
    report = backend_report(summary)
    run = only_run(tmp_path)
    assert len(run.history) == 4 and run.exit_code == 1
    assert report["records_written"] == 4
    assert report["records_lost"] == total - 4
    assert "ValueError: injected" in report["error"]
    assert len(metrics_rows(tracker.run_dir)) == total  # training and the local store went on


CRASH_DURING_START = """
import os, sys, time
from hf_tracking import ExperimentConfig, ExperimentTracker
config = ExperimentConfig(output_dir=sys.argv[1], wandb_mode="offline", wandb_offline="live",
                          log_every_steps=1, vocab_size=64, d_model=32, num_layers=2,
                          num_heads=2, seq_length=16)
tracker = ExperimentTracker(config).start()
time.sleep(0.3)  # the W&B process is importing wandb or inside wandb.init
os._exit(3)
"""


def test_the_wandb_run_is_closed_when_the_training_process_dies_during_its_start(tmp_path):
    subprocess.run(
        [sys.executable, "-c", CRASH_DURING_START, str(tmp_path / "experiments")],
        check=False,
        timeout=120,
    )
    # The W&B process runs at the lowest priority: on a busy machine its start takes a while.
    deadline = time.monotonic() + 180
    while not list(tmp_path.rglob("offline-run-*/run-*.wandb")) and time.monotonic() < deadline:
        time.sleep(0.2)
    run = only_run(tmp_path)
    assert run.exit_code == 1


# ---------------------------------------------------------------------- WANDB_* variables
def test_wandb_variables_are_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    monkeypatch.setenv("WANDB_NAME", "env-name")
    monkeypatch.setenv("WANDB_TAGS", "alpha, beta")
    monkeypatch.setenv("WANDB_NOTES", "env notes")
    monkeypatch.setenv("WANDB_RUN_ID", "envid123")
    monkeypatch.setenv("WANDB_RUN_GROUP", "sweep-7")
    tracker = ExperimentTracker(small_config(tmp_path, tags=["mine"]))
    tracker.log_train_step(loss=2.0, tokens=16)
    summary = strict_json(tracker.finish(wait=True))
    run = only_run(tmp_path)
    assert (run.run_id, run.project, run.name) == ("envid123", "from-env", "env-name")
    assert {"mine", "alpha", "beta"} <= set(run.tags)
    assert (run.notes, run.group) == ("env notes", "sweep-7")
    assert summary["wandb"]["run_id"] == "envid123"


@pytest.mark.parametrize("variable", [("WANDB_MODE", "disabled"), ("WANDB_DISABLED", "true")])
def test_wandb_turned_off_by_the_environment(tmp_path, monkeypatch, variable):
    monkeypatch.setenv(*variable)
    tracker = ExperimentTracker(small_config(tmp_path, wandb_mode="offline"))
    tracker.log_train_step(loss=2.0, tokens=16)
    summary = strict_json(tracker.finish(wait=True))
    assert [report["name"] for report in summary["backends"]] == ["local"]
    assert find_offline_runs(tmp_path) == []


# ---------------------------------------------------------------------- wandb.run in training
class UserLogging(TrainerCallback):
    """What a user's own code does with wandb.run during training."""

    def __init__(self) -> None:
        self.run_at_first_step = "unset"
        self.logged = False

    def on_step_begin(self, args, state, control, **kwargs):
        import wandb

        if state.global_step == 0:
            self.run_at_first_step = wandb.run
        # As with report_to="wandb": wandb.run is there from the first step on.
        wandb.log({"user/step": state.global_step})
        if state.global_step == 6 and not self.logged:
            import numpy as np

            wandb.log(
                {
                    "samples": wandb.Table(columns=["prompt", "text"], data=[["a", "b"]]),
                    "weights": wandb.Histogram([0.1, 0.2, 0.2, 0.5]),
                    "picture": wandb.Image(np.zeros((4, 4, 3), dtype=np.uint8)),
                }
            )
            wandb.run.summary["user_best"] = 0.25
            wandb.run.config.update({"user_setting": 7})
            self.logged = True


@pytest.mark.slow
def test_wandb_run_is_ready_at_the_first_step_and_logs_into_the_same_run(tmp_path, monkeypatch):
    import wandb

    monkeypatch.setenv("WANDB_LOG_MODEL", "checkpoint")
    user = UserLogging()
    args = training_arguments(
        str(tmp_path / "out"), report_to="none", logging_steps=1, hub_token="hf_secret123"
    )
    config = small_config(tmp_path, wandb_mode="offline")
    callback = TrackingCallback(config)
    model = tiny_model()
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=PaddedDataset(48),
        eval_dataset=PaddedDataset(8, seed=1),
        callbacks=[callback, user],
    )
    trainer.train()
    assert callback.wait_for_backends(60)
    assert user.run_at_first_step is not None  # the script imported wandb: ready before step 1
    assert user.logged and wandb.run is None  # handed back at the end of the run
    run = only_run(tmp_path)
    assert [row["user/step"] for row in run.history if "user/step" in row] == list(range(12))
    user_rows = [row for row in run.history if "samples/_type" in row]
    assert len(user_rows) == 1
    assert user_rows[0]["weights/_type"] == "histogram"
    assert user_rows[0]["picture/_type"] == "image-file"
    assert run.summary["user_best"] == 0.25
    assert run.config["user_setting"] == 7
    # The config as WandbCallback lays it out, credentials redacted; final figures in the summary.
    assert run.config["n_embd"] == 32 and run.config["per_device_train_batch_size"] == 4
    assert run.config["model/num_parameters"] == model.num_parameters()
    assert "hf_secret123" not in str(run.config)
    assert run.summary["final/loss"] > 0 and run.summary[STEP_KEY] == 12
    # WANDB_LOG_MODEL=checkpoint: every checkpoint, then the final model.
    aliases = [artifact["aliases"] for artifact in run.artifacts if artifact["type"] == "model"]
    assert {"epoch_1.0", "checkpoint_global_step_6"} <= set(aliases[0])
    assert {"epoch_2.0", "checkpoint_global_step_12"} <= set(aliases[1])
    assert "final_model" in aliases[2] and len(aliases) == 3


NO_WANDB_IMPORT = """
import sys, threading
from hf_tracking import ExperimentConfig, ExperimentTracker
config = ExperimentConfig(output_dir=sys.argv[1], wandb_mode="offline", log_every_steps=1,
                          vocab_size=64, d_model=32, num_layers=2, num_heads=2, seq_length=16)
tracker = ExperimentTracker(config)
for _ in range(5):
    tracker.log_train_step(loss=2.0, tokens=16)
tracker.flush()
names = sorted(thread.name for thread in threading.enumerate())
tracker.finish(wait=True)
print("wandb" in sys.modules, names)
"""


def test_a_process_that_never_imports_wandb_runs_no_wandb_code(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", NO_WANDB_IMPORT, str(tmp_path / "experiments")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    imported, threads = completed.stdout.strip().split(" ", 1)
    assert imported == "False"
    assert "wandb" not in threads.replace("hf_tracking-wandb", "")
    assert len(only_run(tmp_path).history) == 5


@pytest.mark.slow
def test_wandb_watch_logs_gradients_into_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_WATCH", "gradients")
    import torch

    model = tiny_model()
    tracker = ExperimentTracker(
        small_config(tmp_path, wandb_mode="offline"),
        model,
        backends=[LocalRunStore(), WandbBackend("offline", attach="never")],
    )
    tracker.start()
    deadline = time.monotonic() + 60
    import wandb

    while wandb.run is None and time.monotonic() < deadline:
        time.sleep(0.05)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    batch = PaddedDataset(4)[0]
    for _ in range(101):
        loss = model(**{key: value[None] for key, value in batch.items()}).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tracker.log_train_step(loss=float(loss), tokens=16)
    tracker.finish(wait=True)
    history = only_run(tmp_path).history
    assert any(key.startswith("gradients/") for row in history for key in row)


def test_config_fields_are_checked(tmp_path):
    from hf_tracking import ConfigError

    with pytest.raises(ConfigError, match="wandb_attach"):
        small_config(tmp_path, wandb_attach="sometimes")
    with pytest.raises(ConfigError, match="wandb_diagnostics_seconds"):
        small_config(tmp_path, wandb_diagnostics_seconds=-1)


# ---------------------------------------------------------------------- offline resume
def test_a_live_offline_resume_is_a_second_run_without_the_steps_the_first_holds(tmp_path):
    config = small_config(
        tmp_path, wandb_mode="offline", wandb_offline="live", experiment_name="resumed"
    )
    _, second = crashed_and_resumed(config)
    summary = strict_json(second.finish(wait=True))
    first_dir, second_dir = sorted(find_offline_runs(tmp_path), key=lambda p: p.stat().st_mtime)
    steps = [[row[STEP_KEY] for row in wait_for_exit(d).history] for d in (first_dir, second_dir)]
    assert steps == [[1, 2, 3, 4, 5, 6], [7, 8]]  # no step twice in what wandb sync uploads
    report = backend_report(summary)
    assert report["rows_in_previous_segment"] == 3 and report["records_written"] == 5
    first_id = summary["wandb"]["previous_run_ids"][0]
    assert report["sync_command"].startswith(f"wandb sync --id {first_id} ")
    assert report["sync_command"].endswith(f"{first_dir} {second_dir}")
    local = [row[STEP_KEY] for row in metrics_rows(second.run_dir) if row.get("event") == "train"]
    assert local == [1, 2, 3, 4, 5, 6, 7, 8]  # the local store holds the resumed values
