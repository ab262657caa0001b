"""accelerate's trackers: ``Accelerator(log_with="hf_tracking")`` by name, an ``AccelerateTracker``
instance in ``log_with``, the mapping of ``accelerator.log`` values, and runs whose model sizes
are not known. A whole accelerate loop, in one and two processes: test_accelerate_loop.py."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import hf_tracking
from tests.support.runs import metrics_rows, strict_json

QUIET = {"wandb_mode": "disabled", "track_memory": False}


@pytest.fixture
def accelerator_class():
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState

    yield Accelerator
    # Each Accelerator here is the process's only one: leave no state to the next test.
    AcceleratorState._reset_state(reset_partial_state=True)
    PartialState._reset_state()


def finished_run(accelerator) -> tuple[dict, list[dict]]:
    engine = accelerator.get_tracker("hf_tracking", unwrap=True)
    accelerator.end_training()
    summary = strict_json(engine.summary_path)
    return summary, metrics_rows(summary["run_dir"])


def test_log_with_by_name(accelerator_class):
    accelerator = accelerator_class(log_with="hf_tracking", cpu=True)
    accelerator.init_trackers(
        "my-project",
        config={"learning_rate": 1e-3, "num_iterations": 4, "seed": 7},
        init_kwargs={"hf_tracking": {"config": QUIET}},
    )
    wrapper = accelerator.get_tracker("hf_tracking")
    assert isinstance(wrapper, hf_tracking.AccelerateTracker)
    assert accelerator.get_tracker("hf_tracking", unwrap=True) is wrapper.tracker
    assert isinstance(wrapper.tracker, hf_tracking.ExperimentTracker)
    for step in range(1, 5):
        values = {"loss": 2.0 - 0.25 * step, "lr": 1e-3, "grad_norm": 0.5, "tokens": 100}
        accelerator.log({**values, "epoch": 0}, step=step)
    accelerator.log({"eval_loss": 1.5, "eval_accuracy": 0.25, "eval_runtime": 0.2}, step=4)
    summary, rows = finished_run(accelerator)

    train = [row for row in rows if row["event"] == "train"]
    assert [row["time/gradient_steps"] for row in train] == [1, 2, 3, 4]
    assert [row["time/tokens_seen"] for row in train] == [100, 200, 300, 400]
    assert [row["train/loss"] for row in train] == [1.75, 1.5, 1.25, 1.0]
    assert train[-1]["train/learning_rate"] == 1e-3 and train[-1]["train/grad_norm"] == 0.5
    assert train[-1]["progress/completion_pct"] == 100.0
    assert train[-1]["throughput/tokens_per_second"] > 0
    (val,) = [row for row in rows if row["event"] == "val"]
    assert val["time/gradient_steps"] == 4 and val["val/loss"] == 1.5
    assert val["val/accuracy"] == 0.25 and val["val/eval_time_seconds"] == 0.2
    assert val["val/train_val_gap"] == 0.5
    assert [row["train/epoch"] for row in train] == [0] * 4  # an axis in the row, not custom
    assert not [row for row in rows if row["event"] == "custom"]
    assert summary["config"]["project"] == "my-project"
    assert summary["config"]["learning_rate"] == 1e-3
    assert summary["config"]["trainer"]["seed"] == 7
    assert summary["best"]["val"]["loss"] == 1.5


def test_instance_in_log_with(accelerator_class, tmp_path):
    tracker = hf_tracking.AccelerateTracker(
        config={**QUIET, "experiment_name": "by-instance", "output_dir": str(tmp_path / "runs")}
    )
    accelerator = accelerator_class(log_with=[tracker], cpu=True)
    accelerator.init_trackers("ignored-for-instances")
    assert accelerator.get_tracker("hf_tracking") is tracker
    accelerator.log({"train_loss": 3.0, "learning_rate": 0.1}, step=10)
    accelerator.log({"val_loss": 2.5}, step=12)  # the step clock moves on without a loss
    accelerator.log({"loss": 2.0}, step=12)
    summary, rows = finished_run(accelerator)
    assert summary["experiment_name"] == "by-instance"
    assert Path(summary["run_dir"]).parent == tmp_path / "runs"
    assert [(row["event"], row["time/gradient_steps"]) for row in rows] == [
        ("train", 10),
        ("val", 12),
        ("train", 12),
    ]


def test_values_without_a_loss_and_values_that_are_not_numbers(accelerator_class, caplog):
    accelerator = accelerator_class(log_with="hf_tracking", cpu=True)
    accelerator.init_trackers("p", init_kwargs={"hf_tracking": {"config": QUIET}})
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        accelerator.log({"lr": 0.5, "tokens": 7, "note": "text", "sample": [1, 2]})
        accelerator.log({"note": "again", "loss": 1.0})  # one step per call without step=
        accelerator.log({"loss": 0.5})
    _, rows = finished_run(accelerator)
    assert [(row["event"], row["time/gradient_steps"]) for row in rows] == [
        ("custom", 0),
        ("train", 1),
        ("train", 2),
    ]
    assert rows[0]["custom/lr"] == 0.5
    assert rows[1]["time/tokens_seen"] == 7  # tokens wait for the next training row
    skipped = [
        record.getMessage() for record in caplog.records if "not a number" in record.getMessage()
    ]
    assert len(skipped) == 2  # once per key


def test_bad_calls_raise_errors_that_name_the_argument(accelerator_class):
    accelerator = accelerator_class(log_with="hf_tracking", cpu=True)
    accelerator.init_trackers("p", init_kwargs={"hf_tracking": {"config": QUIET}})
    with pytest.raises(TypeError, match="log_kwargs"):
        accelerator.log({"loss": 1.0}, log_kwargs={"hf_tracking": {"commit": True}})
    with pytest.raises(TypeError, match="step"):
        accelerator.log({"loss": 1.0}, step="3")
    with pytest.raises(ValueError, match="tokens"):
        accelerator.log({"loss": 1.0, "tokens": -1}, step=1)
    with pytest.raises(hf_tracking.ConfigError, match="learning_rate"):
        hf_tracking.AccelerateTracker(config={"learning_rate": -1.0})
    accelerator.end_training()


def test_without_a_config_or_a_model_sizes_are_not_made_up(accelerator_class, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    accelerator = accelerator_class(log_with="hf_tracking", cpu=True)
    accelerator.init_trackers("p")
    for step in (1, 2, 3):
        accelerator.log({"loss": 1.0 / step, "tokens": 64}, step=step)
    summary, rows = finished_run(accelerator)
    assert summary["experiment_name"].startswith("unknown_custom_accelerate_")
    assert list(summary["parameters"]) == ["unknown"]
    assert "no model" in summary["parameters"]["unknown"]
    assert summary["flops"]["flops_per_token"] is None
    assert summary["flops"]["mfu_note"] == summary["parameters"]["unknown"]
    assert rows[-1]["throughput/tokens_per_second"] > 0
    assert not any(key.startswith(("throughput/model_", "throughput/mfu")) for key in rows[-1])


def test_a_prepared_model_that_takes_no_tokens(accelerator_class, monkeypatch):
    import torch

    monkeypatch.setenv("WANDB_MODE", "disabled")
    accelerator = accelerator_class(log_with="hf_tracking", cpu=True)
    model = torch.nn.Linear(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.init_trackers("p")
    for _ in range(2):
        accelerator.backward(model(torch.ones(4, 8)).sum())
        optimizer.step()
        optimizer.zero_grad()
    accelerator.log({"loss": 1.0, "tokens": 40})  # its inputs are features, not tokens
    summary, rows = finished_run(accelerator)
    assert summary["experiment_name"].startswith("9_custom_accelerate_")
    assert summary["parameters"]["actual_total"] == 9
    assert "no decoder sizes" in summary["parameters"]["unknown"]
    assert [(row["time/gradient_steps"], row["time/tokens_seen"]) for row in rows] == [(2, 40)]
    assert "pre-hook" not in summary["tokens"]["counting"]


def test_tokens_of_processes_that_skip_a_call_never_block_and_never_go_back(monkeypatch, caplog):
    # Two processes' parts over a real key-value store: both reach log, then only the main
    # process reaches save_state (a call made on the main process only).
    from datetime import timedelta

    from torch.distributed import TCPStore

    from hf_tracking.trainer import accelerate_process
    from tests.support.launch import free_port

    store = TCPStore("127.0.0.1", free_port(), 2, True, timedelta(seconds=5), False)
    monkeypatch.setattr(accelerate_process, "_default_store", lambda: store)
    monkeypatch.setattr(accelerate_process, "AGREEMENT_SECONDS", 0.2)
    main, other = accelerate_process.StoreExchange(0, 2), accelerate_process.StoreExchange(1, 2)
    other._prefix = main._prefix

    def totals(real: int) -> dict[str, int]:
        return {"real": real, "slots": 2 * real, "loss_bearing": real - 1, "seq_length": 8}

    assert other.summed("log", totals(30)) == totals(30)  # sent; the others never wait
    assert main.summed("log", totals(20)) == {
        "real": 50, "slots": 100, "loss_bearing": 48, "seq_length": 8,
    }  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        for own in (25, 40):
            summed = main.summed("save", totals(own))
            assert summed["real"] == own + 30 and summed["slots"] == 2 * own + 60
    warnings = [r.getMessage() for r in caplog.records if "did not reach" in r.getMessage()]
    assert len(warnings) == 1 and "accelerator.save_state" in warnings[0]
