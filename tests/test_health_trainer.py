"""Training health with a real Trainer on a tiny GPT-2: injected faults fire their alerts at the
step they happen, an alert's action stops the run, data-loader wait is its own ledger part, and
per-block gradient norms add up to the logged one."""

from __future__ import annotations

import math
import types

import pytest
from transformers import Trainer

from hf_tracking import ExperimentConfig, TrackingCallback
from tests.support.health import CountingDataset, LearningRateBurst, NanLossAt, one_thread
from tests.support.runs import metrics_rows, strict_json
from tests.support.tiny import tiny_model, training_arguments

pytestmark = pytest.mark.slow
NAN_STEP, BURST_STEP, STEPS = 40, 130, 150


def run_trainer(tmp_path, name, steps, config=None, nan_at=(), callbacks=(), data=None, **args):
    model = tiny_model()
    NanLossAt(model, *nan_at)
    settings = {
        "max_steps": steps,
        "logging_steps": 1,
        "eval_strategy": "no",
        "save_strategy": "no",
        "gradient_accumulation_steps": 1,
        "report_to": "none",
        **args,
    }
    config = ExperimentConfig(
        output_dir=str(tmp_path / "experiments"),
        experiment_name=name,
        backends=["local"],
        log_every_steps=1,
        track_memory=False,
        **(config or {}),
    )
    tracking = TrackingCallback(config)
    trainer = Trainer(
        model=model,
        args=training_arguments(str(tmp_path / name), **settings),
        train_dataset=data or CountingDataset(),
        callbacks=[tracking, *callbacks],
    )
    with one_thread():
        trainer.train()
    tracking.wait_for_backends()
    summary = strict_json(tracking.summary_path)
    return trainer, summary, metrics_rows(summary["run_dir"])


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    """One run: a NaN micro-batch loss at step 40 (the Trainer's filter hides it from the logged
    loss) and the learning rate × 1000 for steps 130-132."""
    tmp_path = tmp_path_factory.mktemp("faults")
    burst = LearningRateBurst(BURST_STEP, BURST_STEP + 2)
    return run_trainer(
        tmp_path,
        "faults",
        STEPS,
        nan_at=[NAN_STEP],
        callbacks=[burst],
        lr_scheduler_type="constant",
    )


def test_a_hidden_nan_loss_fires_at_its_step(faults):
    _, summary, rows = faults
    train = {row["time/gradient_steps"]: row for row in rows if row["event"] == "train"}
    assert math.isfinite(train[NAN_STEP]["train/loss"])  # what the Trainer's filter logs
    assert train[NAN_STEP]["train/nonfinite_losses"] == 1
    first = summary["alerts"][0]
    assert (first["kind"], first["step"]) == ("nonfinite_loss", NAN_STEP)
    alert_rows = [row for row in rows if row["event"] == "alert"]
    assert alert_rows[0]["alert/kind"] == "nonfinite_loss"
    assert alert_rows[0]["time/gradient_steps"] == NAN_STEP


def test_a_learning_rate_burst_fires_loss_spike_within_the_patience(faults):
    _, summary, _ = faults
    kinds = [(alert["kind"], alert["step"]) for alert in summary["alerts"]]
    # No spike or NaN between the NaN and the burst: the normal steps are quiet. (The share of
    # a 10 ms CPU step spent outside it moves with the machine's load: input_bound is left to
    # the slow-data run, and the hand-written loop's 300 steps check every detector.)
    quiet = [s for k, s in kinds if NAN_STEP < s < BURST_STEP and k != "input_bound"]
    assert quiet == []
    spikes = [step for kind, step in kinds if kind == "loss_spike"]
    patience = ExperimentConfig().spike_patience
    assert spikes and BURST_STEP <= spikes[0] <= BURST_STEP + patience
    spike = next(alert for alert in summary["alerts"] if alert["kind"] == "loss_spike")
    assert spike["value"] > spike["threshold"] > spike["baseline"]
    assert summary["status"] == "finished" and summary["stopped_by"] is None  # warn only


@pytest.mark.parametrize("action", ["stop", "checkpoint_and_stop"])
def test_an_alert_stops_the_trainer_at_its_step(tmp_path, monkeypatch, action):
    if action == "stop":  # as report_to users choose it
        monkeypatch.setenv("HF_TRACKING_ON_ALERT", action)
    trainer, summary, _ = run_trainer(
        tmp_path,
        action,
        30,
        config={"on_alert": action} if action != "stop" else None,
        nan_at=[12],
        save_strategy="steps",
        save_steps=5,
    )
    assert trainer.state.global_step == 12
    saved = sorted(p.name for p in (tmp_path / action).glob("checkpoint-*"))
    expected = ["checkpoint-10", "checkpoint-12", "checkpoint-5"]
    assert saved == (expected if action == "checkpoint_and_stop" else expected[::2])
    assert summary["status"] == "stopped"
    stopped = summary["stopped_by"]
    assert (stopped["kind"], stopped["step"]) == ("nonfinite_loss", 12)
    assert stopped["last_good_checkpoint"].endswith("checkpoint-10")
    assert summary["alerts"][0]["checkpoint"].endswith("checkpoint-10")


@pytest.fixture(scope="module")
def slow_data(tmp_path_factory):
    """A data loader that sleeps 20 ms per sample, with per-block norms on."""
    tmp_path = tmp_path_factory.mktemp("slow")
    data = CountingDataset(sleep_seconds=0.02)
    run = run_trainer(
        tmp_path, "slow", 16, config={"track_layers": True, "track_layers_every": 1}, data=data
    )
    return (*run, data)


def test_data_loader_wait_is_its_own_part_and_fires_input_bound(slow_data):
    _, summary, _, data = slow_data
    ledger = summary["time_ledger_hours"]
    # The first step's batch is fetched before the run's clock starts (set-up).
    expected = data.slept * 15 / 16 / 3600
    assert ledger["data_wait"] == pytest.approx(expected, rel=0.1)
    # The parts are disjoint and add up to wallclock: the sleep is in none of the others.
    parts = sum(ledger[p] for p in ("train", "eval", "checkpoint", "data_wait", "other"))
    assert parts == pytest.approx(ledger["wallclock"], rel=1e-9)
    assert [alert["kind"] for alert in summary["alerts"]] == ["input_bound"]


def test_block_gradient_norms_add_up_to_the_logged_grad_norm(slow_data):
    trainer, _, rows, _ = slow_data
    train = [row for row in rows if row["event"] == "train"]
    names = {name for row in train for name in row if name.startswith("layers/")}
    blocks = {name.split("/")[1] for name in names}
    assert blocks == {"embeddings", "block_0", "block_1", "head"}
    clipped = 0
    for row in train:
        squares = sum(row[f"layers/{block}/grad_norm"] ** 2 for block in blocks)
        assert math.sqrt(squares) == pytest.approx(row["train/grad_norm"], rel=1e-4)
        updates = sum(row[f"layers/{block}/update_norm"] ** 2 for block in blocks)
        assert math.sqrt(updates) == pytest.approx(row["train/update_norm"], rel=1e-9)
        clipped += row["train/grad_norm"] > 1.0
    assert clipped  # the pre-clip norms were rebuilt on some steps (max_grad_norm 1.0)
    from hf_tracking.layers import parameter_blocks

    listed = [name for names in parameter_blocks(trainer.model).values() for name in names]
    assert sorted(listed) == sorted(name for name, _ in trainer.model.named_parameters())


@pytest.mark.parametrize("where", ["host", "device"])
def test_hidden_nonfinite_losses_are_counted_kept_and_folded(where, monkeypatch):
    import torch

    from hf_tracking.trainer import health
    from tests.test_tokens import OnDevice

    monkeypatch.setattr(health, "MAX_KEPT", 4)  # past 4 kept losses they are folded

    class Losses(torch.nn.Module):
        def forward(self, value):
            loss = torch.tensor(value)
            return types.SimpleNamespace(
                loss=loss if where == "host" else loss.as_subclass(OnDevice)
            )

    model, watch = Losses(), health.LossWatch()
    watch.attach(model)
    values = [1.0, math.nan, 2.0, math.inf, 3.0, math.nan, 4.0]
    for value in values:
        model(value)
    assert health.count_nonfinite(watch.take()) == 3  # 4 folded (2 NaN/inf), then 3 kept (1)
    model(math.nan)
    assert health.count_nonfinite(watch.take()) == 1  # kept only
    model.eval()
    model(math.nan)  # evaluation forwards are not watched
    assert health.count_nonfinite(watch.take()) == 0
