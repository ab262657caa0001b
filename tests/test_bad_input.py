"""Bad values are refused where they are passed, and nothing bad enters tracker state."""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from hf_tracking import ConfigError, ExperimentTracker
from hf_tracking.backends import LocalRunStore
from tests.support.configs import small_config
from tests.support.runs import metrics_rows, strict_json

STORED_V1_STATE = Path(__file__).parent / "data" / "v1_state.json"


def local_tracker(tmp_path, **overrides) -> ExperimentTracker:
    return ExperimentTracker(small_config(tmp_path, **overrides), backends=[LocalRunStore()])


BAD_LOSSES = [
    (torch.tensor([1.0, 2.0]), ValueError, "loss must be a single number"),
    (np.array([1.0, 2.0]), TypeError, "loss must be a number"),
    (10**400, ValueError, "loss is too large for a float"),
    (torch.tensor(1.0, device="meta"), ValueError, "loss is a meta-device tensor"),
    ("1.5", TypeError, "loss must be a number"),
    (True, TypeError, "loss must be a number"),
    (torch.tensor(1 + 2j), TypeError, "loss must be a real number"),
    (None, TypeError, "loss must be a number"),
]


@pytest.mark.parametrize(("loss", "error", "message"), BAD_LOSSES)
def test_a_bad_loss_is_refused_and_the_next_call_works(tmp_path, loss, error, message):
    tracker = local_tracker(tmp_path)
    tracker.log_train_step(loss=1.0, tokens=8)
    with pytest.raises(error, match=message):
        tracker.log_train_step(loss=loss, tokens=8)
    for _ in range(3):
        tracker.log_train_step(loss=2.0, tokens=8)
    summary = strict_json(tracker.finish())
    assert summary["status"] == "finished"
    train = [row for row in metrics_rows(tracker.run_dir) if row["event"] == "train"]
    assert [row["time/gradient_steps"] for row in train] == [1, 2, 3, 4]
    assert summary["totals"]["tokens_seen"] == 32  # the refused call counted nothing
    assert tracker.finish() == tracker.summary_path and tracker.summary_path.exists()


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"tokens": torch.tensor(-5)}, ValueError, "tokens must be >= 0"),
        ({"tokens": -1}, ValueError, "tokens must be >= 0"),
        ({"tokens": 2.5}, TypeError, "tokens must be a whole number"),
        ({"tokens": torch.tensor(2.0)}, TypeError, "tokens must be a whole number"),
        ({"tokens": torch.tensor([1, 2])}, ValueError, "tokens must be a single number"),
        ({"iteration": 4.5}, TypeError, "iteration must be an integer"),
        ({"iteration": "3"}, TypeError, "iteration must be an integer"),
        ({"iteration": -1}, ValueError, "iteration must be >= 0"),
        ({"accumulation_step": "0"}, TypeError, "accumulation_step must be an integer"),
        ({"grad_norm": torch.ones(3)}, ValueError, "grad_norm must be a single number"),
        ({"learning_rate": "1e-3"}, TypeError, "learning_rate must be a number"),
    ],
)
def test_bad_arguments_name_themselves(tmp_path, arguments, error, message):
    tracker = local_tracker(tmp_path)
    with pytest.raises(error, match=message):
        tracker.log_train_step(loss=1.0, **arguments)
    tracker.log_train_step(loss=1.0, tokens=4)
    assert tracker.gradient_steps == 1
    assert tracker.tokens_seen == 4
    tracker.finish()


def test_numpy_scalars_and_one_element_tensors_are_numbers(tmp_path):
    tracker = local_tracker(tmp_path)
    tracker.log_train_step(loss=np.float32(1.5), learning_rate=np.float64(1e-3), tokens=np.int64(4))
    tracker.log_train_step(loss=torch.tensor([2.5]), grad_norm=torch.tensor(1.0), tokens=4)
    tracker.finish()
    losses = [row["train/loss"] for row in metrics_rows(tracker.run_dir)]
    assert losses == [1.5, 2.5]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.log_validation("x"), "val_loss must be a number"),
        (lambda t: t.log_validation(1.0, eval_seconds="x"), "eval_seconds must be a number"),
        (lambda t: t.log_validation(1.0, num_batches="4"), "num_batches must be an integer"),
        (lambda t: t.log_validation(1.0, extra={"acc": "high"}), r"extra\['acc'\] must be"),
        (lambda t: t.log_checkpoint(3), "path must be a str or os.PathLike"),
        (lambda t: t.log_checkpoint("c", seconds="slow"), "seconds must be a number"),
        (lambda t: t.log_custom_metric("x", "1"), "x must be a number"),
    ],
)
def test_wrong_types_elsewhere_are_clear_errors(tmp_path, call, message):
    tracker = local_tracker(tmp_path)
    with pytest.raises((TypeError, ValueError), match=message):
        call(tracker)
    tracker.log_validation(1.0)
    tracker.finish()
    assert [row["event"] for row in metrics_rows(tracker.run_dir)] == ["val"]


@pytest.mark.parametrize("name", ["time/gradient_steps", "time/tokens_seen", "time/mine"])
def test_the_axes_and_the_time_group_are_the_trackers(tmp_path, name):
    tracker = local_tracker(tmp_path)
    tracker.log_train_step(loss=1.0, tokens=1)
    with pytest.raises(ValueError, match="a name the tracker owns"):
        tracker.log_custom_metric(name, 0)
    tracker.log_custom_metric("accuracy", 0.5)
    tracker.finish()
    custom = [row for row in metrics_rows(tracker.run_dir) if row["event"] == "custom"]
    assert custom[0]["custom/accuracy"] == 0.5 and custom[0]["time/gradient_steps"] == 1


def test_nan_and_inf_are_counted_not_refused(tmp_path):
    tracker = local_tracker(tmp_path)
    tracker.log_train_step(loss=math.nan, tokens=1)
    tracker.log_train_step(loss=torch.tensor(math.inf), tokens=1)
    summary = strict_json(tracker.finish())
    assert summary["totals"]["nonfinite_count"] == 2


def test_eight_threads_opening_a_run_make_one_run(tmp_path):
    tracker = local_tracker(tmp_path, experiment_name="shared")
    barrier = threading.Barrier(8)

    def first_call() -> None:
        barrier.wait()
        tracker.log_custom_metric("thread", 1.0)

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tracker.finish()
    assert sorted(path.name for path in (tmp_path / "experiments").iterdir()) == [
        "shared",
        "shared_summary.json",
    ]
    assert len(metrics_rows(tracker.run_dir)) == 8


def test_a_relative_output_dir_is_resolved_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    tracker = ExperimentTracker(
        small_config(tmp_path, output_dir="runs", experiment_name="here"),
        backends=[LocalRunStore()],
    )
    tracker.log_train_step(loss=1.0, tokens=1)
    os.chdir(tmp_path / "elsewhere")
    tracker.log_train_step(loss=1.0, tokens=1)
    tracker.finish()
    assert len(metrics_rows(tmp_path / "runs" / "here")) == 2
    assert (tmp_path / "runs" / "here_summary.json").exists()
    assert not (tmp_path / "elsewhere" / "runs").exists()


def test_a_stored_first_release_state_resumes(tmp_path):
    state = json.loads(STORED_V1_STATE.read_text())
    tracker = ExperimentTracker(small_config(tmp_path, wandb_mode="offline"))
    tracker.load_state_dict(state)
    for _ in range(4):
        tracker.log_train_step(loss=1.0, tokens=128)
    summary = strict_json(tracker.finish(wait=True))
    assert summary["experiment_name"] == "stored_v1"
    assert summary["totals"]["gradient_steps"] == 14
    assert summary["totals"]["tokens_seen"] == 1280 + 4 * 128
    assert summary["totals"]["resumes"] == 1
    assert summary["best"]["val"]["loss"] == 2.5
    assert summary["checkpoints"][0]["seconds"] == 0.25
    assert summary["wandb"]["previous_run_ids"] == [state["wandb"]["run_id"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"experiment_name": "../victim_dir"}, None),
        ({"experiment_name": ""}, "experiment_name must be a name"),
        ({"experiment_name": 5}, "experiment_name must be a name"),
        ({"gradient_steps": -1}, "gradient_steps must be a whole number >= 0"),
        ({"gradient_steps": "10"}, "gradient_steps must be a whole number >= 0"),
        ({"tokens_seen": None}, "tokens_seen must be a whole number >= 0"),
        ({"best": {"val": {"loss": "low"}}}, r"best\['val'\] must hold a loss"),
        ({"checkpoints": [{"step": 3}]}, "checkpoints must be a list"),
        ({"ledger_seconds": {"train": -4}}, "ledger_seconds must map parts"),
        ({"samples": {"step_seconds": ["x"]}}, "samples.step_seconds must be a list"),
        ({"version": 2}, "not a hf_tracking state"),
    ],
)
def test_a_damaged_state_is_refused_and_names_never_escape(tmp_path, change, message):
    state = {**json.loads(STORED_V1_STATE.read_text()), **change}
    tracker = local_tracker(tmp_path)
    if message is None:  # accepted, with the name cleaned like any other
        tracker.load_state_dict(state)
        assert tracker.experiment_name == "victim_dir"
    else:
        with pytest.raises(ConfigError, match=message):
            tracker.load_state_dict(state)
        assert tracker.gradient_steps == 0  # nothing of it entered the tracker
    tracker.log_train_step(loss=1.0, tokens=1)
    tracker.finish()
    assert Path(tracker.run_dir).parent == tmp_path / "experiments"
    assert not (tmp_path / "victim_dir").exists()


def test_missing_keys_of_a_state_are_a_config_error(tmp_path):
    state = json.loads(STORED_V1_STATE.read_text())
    del state["gradient_steps"]
    with pytest.raises(ConfigError, match="gradient_steps"):
        local_tracker(tmp_path).load_state_dict(state)
