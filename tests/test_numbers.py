"""Numbers a hand-written loop gets right whatever it does: tokens on the first rows, steps when
the accumulation count does not match, axes nobody else may write, a size label checked."""

from __future__ import annotations

import logging

import pytest
import torch

from hf_tracking import ExperimentConfig, ExperimentTracker
from tests.support.runs import metrics_rows
from tests.support.tiny import tiny_model


def local_tracker(tmp_path, model=None, **overrides) -> ExperimentTracker:
    settings = dict(
        model_size="28K", vocab_size=64, d_model=32, num_layers=2, num_heads=2, seq_length=16,
        output_dir=str(tmp_path / "experiments"), wandb_mode="disabled", track_memory=False,
    )  # fmt: skip
    settings.update(overrides)
    return ExperimentTracker(ExperimentConfig(**settings), model)


def test_rows_between_logging_steps_carry_the_tokens_so_far(tmp_path):
    tracker = local_tracker(tmp_path, log_every_steps=5)
    for iteration in range(3):
        tracker.log_train_step(1.0, tokens=torch.tensor(100 + iteration), iteration=iteration)
    tracker.log_validation(2.0)
    tracker.log_checkpoint(tmp_path / "checkpoint-3")
    tracker.log_custom_metric("probe", 1.0)
    assert tracker.state_dict()["tokens_seen"] == 303
    tracker.finish()
    rows = metrics_rows(tracker.run_dir)
    assert [row["event"] for row in rows] == ["val", "checkpoint", "custom", "train"]
    assert [row["time/tokens_seen"] for row in rows] == [303] * 4


def test_an_iteration_that_moves_on_is_a_step_whatever_accumulation_step_said(tmp_path, caplog):
    tracker = local_tracker(tmp_path, gradient_accumulation_steps=4, log_every_steps=10)
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        for iteration in range(1000):
            for micro_step in range(2):
                tracker.log_train_step(
                    1.0, tokens=3, iteration=iteration, accumulation_step=micro_step
                )
    tracker.flush()
    steps = [row["time/gradient_steps"] for row in metrics_rows(tracker.run_dir)]
    assert steps == list(range(10, 1000, 10))
    assert len(tracker.window.losses) <= 2 * 10  # the window never outgrows a logging interval
    tracker.finish()
    last = metrics_rows(tracker.run_dir)[-1]
    assert (last["time/gradient_steps"], last["time/tokens_seen"]) == (1000, 6000)
    warnings = [message for message in caplog.messages if "began before" in message]
    assert warnings == [
        "hf_tracking: iteration 1 began before iteration 0 saw accumulation_step 3 "
        "(gradient_accumulation_steps is 4); each new iteration counts as a step"
    ]


@pytest.mark.parametrize("name", ["time/gradient_steps", "time/tokens_seen", "time/my_clock"])
def test_the_axes_and_the_time_group_are_the_trackers(tmp_path, name):
    tracker = local_tracker(tmp_path, log_every_steps=1)
    tracker.log_train_step(1.0, tokens=5)
    with pytest.raises(ValueError, match="the tracker owns"):
        tracker.log_custom_metric(name, 0)
    tracker.finish()
    assert [row["time/gradient_steps"] for row in metrics_rows(tracker.run_dir)] == [1]


def test_a_fractional_iteration_is_refused(tmp_path):
    tracker = local_tracker(tmp_path, log_every_steps=1)
    with pytest.raises(TypeError, match="iteration must be an integer"):
        tracker.log_train_step(1.0, tokens=5, iteration=4.5)
    tracker.finish()
    assert tracker.gradient_steps == 0


def test_a_size_label_far_from_the_model_warns_once(tmp_path, caplog):
    model = tiny_model()  # 28.0K parameters, 26.5K without embeddings
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        local_tracker(tmp_path, model, model_size="28K").finish()
        local_tracker(tmp_path, model, model_size="50K").finish()  # within 2x
        assert not [m for m in caplog.messages if "model_size" in m]
        local_tracker(tmp_path, model, model_size="17M").finish()
    (warning,) = [message for message in caplog.messages if "model_size" in message]
    assert "model_size says 17M but the model has 28.0K parameters" in warning
