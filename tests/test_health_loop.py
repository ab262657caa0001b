"""Training health in a hand-written loop: 300 normal steps fire nothing, random labels fire a
loss spike, ``should_stop`` ends the loop at a NaN, ``step_begin`` marks the data-loader wait."""

from __future__ import annotations

import math

import pytest

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from hf_tracking.report import load_run, report_markdown, summary_text
from tests.support.configs import FakeClock, small_config
from tests.support.health import CountingDataset, one_thread
from tests.support.runs import metrics_rows, strict_json
from tests.support.tiny import VOCAB, tiny_model

NORMAL_STEPS, NOISE_STEPS = 300, 6


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory):
    """300 normal steps, then random labels for 6 steps and 14 normal ones again."""
    with one_thread():
        return train_loop(tmp_path_factory.mktemp("loop"))


def train_loop(tmp_path):
    import torch

    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    config = small_config(tmp_path, track_layers=True, track_layers_every=1, track_memory=False)
    tracker = ExperimentTracker(config, model, backends=[LocalRunStore()])
    data = CountingDataset(size=32)
    generator = torch.Generator().manual_seed(0)
    for step in range(1, NORMAL_STEPS + NOISE_STEPS + 15):
        batch = [data[(4 * step + i) % len(data)] for i in range(4)]
        input_ids = torch.stack([sample["input_ids"] for sample in batch])
        labels = input_ids.clone()
        if NORMAL_STEPS < step <= NORMAL_STEPS + NOISE_STEPS:
            labels = torch.randint(1, VOCAB, labels.shape, generator=generator)
        tracker.step_begin()
        loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        with tracker.optimizer_step(model, max_grad_norm=1.0):
            optimizer.step()
        optimizer.zero_grad()
        tracker.log_train_step(loss.detach(), 1e-3, grad_norm, tokens=input_ids.numel())
    path = tracker.finish()
    summary = strict_json(path)
    return summary, metrics_rows(summary["run_dir"])


def test_normal_steps_fire_nothing_and_random_labels_fire_a_loss_spike(loop_run):
    summary, _ = loop_run
    alerts = [(alert["kind"], alert["step"]) for alert in summary["alerts"]]
    assert [step for _, step in alerts if step <= NORMAL_STEPS] == []
    spikes = [step for kind, step in alerts if kind == "loss_spike"]
    assert spikes and NORMAL_STEPS < spikes[0] <= NORMAL_STEPS + summary["config"]["spike_patience"]


def test_block_norms_of_a_hand_loop(loop_run):
    _, rows = loop_run
    train = [row for row in rows if row["event"] == "train"]
    assert len(train) == NORMAL_STEPS + NOISE_STEPS + 14
    for row in train:
        blocks = {name.split("/")[1] for name in row if name.startswith("layers/")}
        squares = sum(row[f"layers/{block}/grad_norm"] ** 2 for block in blocks)
        assert math.sqrt(squares) == pytest.approx(row["train/grad_norm"], rel=1e-4)
        assert row["train/update_ratio"] == pytest.approx(
            row["train/update_norm"] / row["train/param_norm"]
        )


def test_should_stop_ends_a_loop_at_the_alert(tmp_path):
    config = small_config(tmp_path, on_alert="stop", track_memory=False)
    tracker = ExperimentTracker(config, backends=[LocalRunStore()])
    steps = 0
    for step in range(1, 20):
        tracker.log_train_step(math.nan if step == 5 else 2.0, grad_norm=1.0)
        steps = step
        if step == 3:
            tracker.log_checkpoint(tmp_path / "checkpoint-3")
        if tracker.should_stop:
            break
    assert steps == 5
    summary_path = tracker.finish()
    summary = strict_json(summary_path)
    assert summary["status"] == "stopped"
    assert summary["stopped_by"]["last_good_checkpoint"].endswith("checkpoint-3")
    assert "nonfinite_loss at step 5" in summary["stopped_by"]["message"]
    # hf-tracking summary and report.md say it too.
    run = load_run(summary_path)
    text = summary_text(run)
    assert "stopped by:" in text and "checkpoint-3" in text
    assert "step 5:" in text and "nonfinite_loss at step 5" in text
    markdown = report_markdown(run, [])
    assert "## Alerts" in markdown and "| 5 | nonfinite_loss |" in markdown


def test_warn_never_stops_and_step_begin_marks_the_data_wait(tmp_path):
    clock = FakeClock()
    config = small_config(tmp_path, track_memory=False)
    tracker = ExperimentTracker(config, backends=[LocalRunStore()], clock=clock)
    for step in range(1, 6):
        clock.now += 3.0  # waiting for the batch
        tracker.step_begin()
        clock.now += 1.0  # the step
        tracker.log_train_step(math.nan if step == 2 else 2.0)
        assert not tracker.should_stop
    summary = strict_json(tracker.finish())
    ledger = {part: hours * 3600 for part, hours in summary["time_ledger_hours"].items()}
    # The first wait came before the first step: set-up, "other".
    assert ledger["data_wait"] == pytest.approx(12.0) and ledger["train"] == pytest.approx(5.0)
    assert ledger["other"] == pytest.approx(3.0)
    assert [alert["kind"] for alert in summary["alerts"]][:1] == ["nonfinite_loss"]
    assert summary["status"] == "finished"


def test_per_block_norms_left_to_their_budget_come_at_the_spacing_they_announce(tmp_path, caplog):
    import torch

    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    config = small_config(tmp_path, track_layers=True, track_memory=False)
    tracker = ExperimentTracker(config, model, backends=[LocalRunStore()])
    input_ids = torch.stack([CountingDataset(size=4)[i]["input_ids"] for i in range(4)])
    spacing_at = {}  # step -> the spacing announced by then
    with caplog.at_level("INFO", logger="hf_tracking"), one_thread():
        for step in range(1, 61):
            loss = model(input_ids=input_ids, labels=input_ids).loss
            loss.backward()
            with tracker.optimizer_step(model):
                optimizer.step()
            optimizer.zero_grad()
            tracker.log_train_step(loss.detach(), 1e-3, tokens=input_ids.numel())
            spacing_at[step] = tracker.hooks.layers.cadence.spacing
    rows = metrics_rows(strict_json(tracker.finish())["run_dir"])
    taken = [
        row["time/gradient_steps"]
        for row in rows
        if row["event"] == "train" and "train/param_norm" in row
    ]
    assert taken[0] == 1  # the first logging step measures what a take costs
    assert all(step % spacing_at[step - 1] == 0 for step in taken[1:])
    # Each take's cost is at least a few µs on this model: spaced, not on all 60 logging steps.
    assert spacing_at[60] > 1 and len(taken) < 60
    announced = [
        r.getMessage() for r in caplog.records if "per-block norms every" in r.getMessage()
    ]
    assert announced and announced[-1].endswith(f"every {spacing_at[60]} steps")


def test_per_block_norms_without_a_model_are_a_clear_error(tmp_path):
    config = small_config(tmp_path, track_layers=True, track_memory=False)
    tracker = ExperimentTracker(config, backends=[LocalRunStore()])
    needs = r"track_layers needs the model: tracker\.optimizer_step"
    with pytest.raises(TypeError, match=needs), tracker.optimizer_step():
        pass
    tracker.finish()
