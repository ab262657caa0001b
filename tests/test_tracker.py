"""ExperimentTracker through the seed's hand-written-loop API, with real W&B in offline mode."""

from __future__ import annotations

import dataclasses
import math
import time

import pytest
import torch

from hf_tracking import ConfigError, ExperimentConfig, ExperimentTracker
from hf_tracking.backends import LocalRunStore
from hf_tracking.catalog import LEDGER_KEYS
from tests.support.catalog import AXES, CHECKPOINT_NAMES, TRAIN_NAMES, VAL_NAMES
from tests.support.faults import HangingFinish
from tests.support.runs import metrics_rows, strict_json
from tests.support.tiny import tiny_model
from tests.support.wandb_reader import find_offline_runs, wait_for_exit

ACCUMULATION = 3
ITERATIONS = 12
MICRO_BATCH_TOKENS = (48, 40, 33)  # differs per micro-batch, so a wrong sum would show


def seed_config(tmp_path, **overrides) -> ExperimentConfig:
    settings = dict(
        model_size="17M",
        dataset="tinystories",
        learning_rate=3e-4,
        vocab_size=64,
        d_model=32,
        num_layers=2,
        num_heads=2,
        seq_length=16,
        gradient_accumulation_steps=ACCUMULATION,
        num_iterations=ITERATIONS,
        log_every_steps=2,
        tags=["seed", "test"],
        output_dir=str(tmp_path / "experiments"),
        wandb_mode="offline",
    )
    settings.update(overrides)
    return ExperimentConfig(**settings)


def run_seed_loop(tracker: ExperimentTracker, model, iterations=ITERATIONS, start=0) -> None:
    """The seed's usage example: a hand-written loop with gradient accumulation."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    generator = torch.Generator().manual_seed(0)
    for iteration in range(start, iterations):
        for micro_step in range(ACCUMULATION):
            batch = torch.randint(0, 64, (2, 16), generator=generator)
            loss = model(input_ids=batch, labels=batch).loss / ACCUMULATION
            loss.backward()
            last = micro_step == ACCUMULATION - 1
            tracker.log_train_step(
                loss=loss.detach() * ACCUMULATION,
                learning_rate=optimizer.param_groups[0]["lr"],
                grad_norm=torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0) if last else None,
                tokens=MICRO_BATCH_TOKENS[micro_step],
                iteration=iteration,
                accumulation_step=micro_step,
            )
        optimizer.step()
        optimizer.zero_grad()
        if (iteration + 1) % 4 == 0:
            with tracker.validation(), torch.no_grad():
                val_loss = model(input_ids=batch, labels=batch).loss
            tracker.log_validation(val_loss=val_loss, num_batches=1)
        if (iteration + 1) % 6 == 0:
            tracker.log_checkpoint(f"checkpoint-{iteration + 1}", is_best=iteration == 5)


def test_seed_example_end_to_end_with_wandb_offline(tmp_path):
    config = seed_config(tmp_path)
    model = tiny_model()
    tracker = ExperimentTracker(config, model)
    run_seed_loop(tracker, model)
    summary_path = tracker.finish(wait=True)

    rows = metrics_rows(tracker.run_dir)
    train = [row for row in rows if row["event"] == "train"]
    val = [row for row in rows if row["event"] == "val"]
    checkpoints = [row for row in rows if row["event"] == "checkpoint"]
    assert [row["time/gradient_steps"] for row in train] == list(range(2, ITERATIONS + 1, 2))
    tokens_per_step = sum(MICRO_BATCH_TOKENS)
    for row in train:
        assert row["time/tokens_seen"] == row["time/gradient_steps"] * tokens_per_step
        for name in TRAIN_NAMES:
            assert name in row, name
    for row in rows:
        for axis in AXES:
            assert axis in row
    assert len(val) == 3 and all(name in val[0] for name in VAL_NAMES)
    assert len(checkpoints) == 2 and all(name in checkpoints[0] for name in CHECKPOINT_NAMES)
    assert [row["checkpoint/is_best"] for row in checkpoints] == [1, 0]
    hours = [row["time/wallclock_hours"] for row in rows]
    assert hours == sorted(hours)

    summary = strict_json(summary_path)
    assert summary["status"] == "finished"
    assert summary["totals"]["gradient_steps"] == ITERATIONS
    assert summary["totals"]["tokens_seen"] == ITERATIONS * tokens_per_step
    assert summary["best"]["val"]["loss"] == min(row["val/loss"] for row in val)
    assert len(summary["checkpoints"]) == 2
    assert summary["parameters"]["actual_total"] == sum(p.numel() for p in model.parameters())
    assert summary["wandb"]["mode"] == "offline"
    # Written after training unless this process imported wandb (tests read W&B files here).
    deferred = f"hf-tracking sync {tracker.run_dir}"
    assert summary["wandb"]["sync_command"].startswith(("wandb sync ", deferred))
    assert (tracker.run_dir / "config.yaml").exists()

    (offline_dir,) = find_offline_runs(tmp_path)
    run = wait_for_exit(offline_dir)
    assert run.exit_code == 0
    assert run.run_id == summary["wandb"]["run_id"]
    assert run.name == tracker.experiment_name
    assert run.tags == ["17M", "tinystories", "baseline", "seed", "test"]
    assert run.config["learning_rate"] == pytest.approx(3e-4)
    assert run.config["gradient_accumulation_steps"] == ACCUMULATION
    assert len(run.history) == len(rows)
    for logged, local in zip(run.history, rows, strict=True):
        for axis in AXES:
            assert logged[axis] == pytest.approx(local[axis])
        for key in ("train/loss", "val/loss", "checkpoint/count"):
            if key in local:
                assert logged[key] == pytest.approx(local[key])
    assert "_step" not in {name for name in run.metrics}
    assert run.metrics["train/*"]["step_metric"] == "time/gradient_steps"
    assert run.metrics["time/tokens_seen"]["step_metric"] == "time/gradient_steps"
    assert run.metrics["time/wallclock_hours"]["step_metric"] == "time/gradient_steps"


def test_loss_tensors_are_read_only_on_logging_steps(tmp_path):
    reads = []

    class CountingTensor(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if getattr(func, "__name__", "") in ("item", "tolist", "__float__", "cpu", "numpy"):
                reads.append(func.__name__)
            return super().__torch_function__(func, types, args, kwargs or {})

    tracker = ExperimentTracker(
        seed_config(
            tmp_path, gradient_accumulation_steps=1, log_every_steps=5, wandb_mode="disabled"
        ),
    )
    reads_per_step = []
    for iteration in range(20):
        loss = torch.tensor(2.0).as_subclass(CountingTensor)
        grad_norm = torch.tensor(1.0).as_subclass(CountingTensor)
        before = len(reads)
        tracker.log_train_step(
            loss=loss, learning_rate=1e-3, grad_norm=grad_norm, tokens=10, iteration=iteration
        )
        reads_per_step.append(len(reads) - before)
    tracker.finish()
    for iteration, count in enumerate(reads_per_step):
        if (iteration + 1) % 5:
            assert count == 0, f"device read on non-logging step {iteration + 1}"
    assert sum(reads_per_step) > 0  # logging steps do read


def test_state_round_trip_continues_the_axes(tmp_path):
    config = seed_config(
        tmp_path, wandb_mode="disabled", gradient_accumulation_steps=1, log_every_steps=1
    )
    first = ExperimentTracker(config)
    for iteration in range(5):
        first.log_train_step(
            loss=1.0, learning_rate=1e-3, grad_norm=1.0, tokens=100, iteration=iteration
        )
    first.log_validation(val_loss=0.9, eval_seconds=2.0)
    state = first.state_dict()
    first.finish()
    import json

    state = json.loads(json.dumps(state))  # plain JSON data
    second = ExperimentTracker(config)
    second.load_state_dict(state)
    assert second.experiment_name == first.experiment_name
    second.log_train_step(loss=0.8, learning_rate=1e-3, grad_norm=1.0, tokens=100, iteration=5)
    second.finish()
    rows = metrics_rows(first.run_dir)
    assert [row["time/gradient_steps"] for row in rows if row["event"] == "train"] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert rows[-1]["time/tokens_seen"] == 600
    hours = [row["time/wallclock_hours"] for row in rows]
    assert hours == sorted(hours)
    assert rows[-1]["time/eval_hours"] == pytest.approx(2.0 / 3600)
    summary = strict_json(second.summary_path)
    assert summary["totals"]["resumes"] == 1
    assert summary["best"]["val"]["loss"] == pytest.approx(0.9)
    with pytest.raises(RuntimeError, match="before the first record"):
        second.load_state_dict(state)
    with pytest.raises(ConfigError):
        ExperimentTracker(config).load_state_dict({"version": 99})


def test_non_finite_values_become_null_and_are_counted(tmp_path):
    config = seed_config(
        tmp_path, wandb_mode="disabled", log_every_steps=1, gradient_accumulation_steps=1
    )
    tracker = ExperimentTracker(config)
    tracker.log_train_step(loss=1.0, grad_norm=1.0, tokens=1, iteration=0)
    tracker.log_train_step(loss=math.nan, grad_norm=math.inf, tokens=1, iteration=1)
    tracker.log_custom_metric("reward", math.inf)
    tracker.log_validation(val_loss=math.nan)
    tracker.log_validation(val_loss=2.0)
    summary_path = tracker.finish()
    rows = metrics_rows(tracker.run_dir)  # strict JSON per line
    assert rows[1]["train/loss"] is None and rows[1]["train/grad_norm"] is None
    assert rows[1]["train/nonfinite_count"] == 2
    assert next(row for row in rows if row["event"] == "custom")["custom/reward"] is None
    summary = strict_json(summary_path)
    assert summary["totals"]["nonfinite_count"] == 4
    assert summary["best"]["val"]["loss"] == 2.0


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda t: t.log_train_step(loss="high", tokens=1), TypeError),
        (lambda t: t.log_train_step(loss=1.0, tokens=-5), ValueError),
        (lambda t: t.log_train_step(loss=1.0, tokens=2.5), TypeError),
        (lambda t: t.log_custom_metric("", 1.0), TypeError),
        (lambda t: t.log_custom_metric("x", "y"), TypeError),
    ],
)
def test_wrong_types_get_clear_errors(tmp_path, call, error):
    tracker = ExperimentTracker(seed_config(tmp_path, wandb_mode="disabled"))
    with pytest.raises(error, match="hf_tracking"):
        call(tracker)
    tracker.finish()


def test_backwards_steps_and_none_grad_norm_are_skipped_with_one_warning(tmp_path, caplog):
    tracker = ExperimentTracker(
        seed_config(
            tmp_path, wandb_mode="disabled", gradient_accumulation_steps=1, log_every_steps=1
        )
    )
    tracker.log_train_step(loss=1.0, grad_norm=None, tokens=1, iteration=4)
    tracker.log_train_step(loss=100.0, tokens=1000, iteration=2)
    tracker.log_train_step(loss=100.0, tokens=1000, iteration=3)
    tracker.log_train_step(loss=1.0, tokens=1, iteration=5)
    tracker.finish()
    rows = metrics_rows(tracker.run_dir)
    assert [row["time/gradient_steps"] for row in rows] == [5, 6]
    assert [row["time/tokens_seen"] for row in rows] == [1, 2]  # skipped calls count nothing
    assert rows[1]["train/loss"] == 1.0
    assert sum("behind" in message for message in caplog.messages) == 1


def test_context_manager_and_double_finish(tmp_path):
    with ExperimentTracker(seed_config(tmp_path, wandb_mode="disabled")) as tracker:
        tracker.log_train_step(loss=1.0, tokens=1)
    assert tracker.status == "finished"
    assert tracker.finish() == tracker.summary_path

    failing = ExperimentTracker(seed_config(tmp_path, wandb_mode="disabled"))
    with pytest.raises(ZeroDivisionError), failing:
        failing.log_train_step(loss=1.0, tokens=1)
        1 / 0  # noqa: B018
    summary = strict_json(failing.summary_path)
    assert summary["status"] == "failed"
    assert "ZeroDivisionError" in summary["error"]


def test_two_runs_in_the_same_second_get_different_names(tmp_path):
    config = seed_config(tmp_path, wandb_mode="disabled")
    first = ExperimentTracker(config).start()
    second = ExperimentTracker(config).start()
    assert first.experiment_name != second.experiment_name
    first.finish()
    second.finish()
    assert first.summary_path != second.summary_path


def test_non_main_process_writes_nothing(tmp_path):
    tracker = ExperimentTracker(seed_config(tmp_path, wandb_mode="disabled"), is_main_process=False)
    tracker.log_train_step(loss=1.0, tokens=1)
    assert tracker.finish() is None
    assert not (tmp_path / "experiments").exists()


def test_ledger_sums_to_wallclock(tmp_path):
    tracker = ExperimentTracker(
        seed_config(
            tmp_path, wandb_mode="disabled", log_every_steps=1, gradient_accumulation_steps=1
        )
    )
    for iteration in range(3):
        tracker.log_train_step(loss=1.0, tokens=1, iteration=iteration)
        time.sleep(0.002)
        tracker.log_validation(val_loss=1.0, eval_seconds=0.001)
    tracker.finish()
    for row in metrics_rows(tracker.run_dir):
        if row["event"] == "train":
            parts = sum(row[key] for key in LEDGER_KEYS)  # the ledger's five parts
            assert parts == pytest.approx(row["time/wallclock_hours"], rel=1e-6, abs=1e-12)


def test_disabled_wandb_is_no_backend_at_all(tmp_path):
    tracker = ExperimentTracker(seed_config(tmp_path, wandb_mode="disabled"))
    tracker.log_train_step(loss=1.0, tokens=1)
    summary = strict_json(tracker.finish(wait=True))
    assert [report["name"] for report in summary["backends"]] == ["local"]
    assert summary["backends"][0]["status"] == "finished"


def test_resume_inside_a_with_block(tmp_path):
    config = seed_config(
        tmp_path, wandb_mode="disabled", gradient_accumulation_steps=1, log_every_steps=1
    )
    with ExperimentTracker(config) as first:
        first.log_train_step(loss=1.0, tokens=10, iteration=0)
        state = first.state_dict()
    with ExperimentTracker(config) as second:
        second.load_state_dict(state)
        second.log_train_step(loss=1.0, tokens=10, iteration=1)
    assert second.run_dir == first.run_dir
    rows = metrics_rows(first.run_dir)
    assert [row["event"] for row in rows] == ["train", "resume", "train"]
    assert [row["time/tokens_seen"] for row in rows] == [10, 10, 20]
    assert rows[1]["resume/from_step"] == rows[1]["time/gradient_steps"] == 1
    assert len(list((tmp_path / "experiments").iterdir())) == 2  # one run dir, one summary


def test_a_late_rewrite_never_replaces_the_resumed_runs_summary(tmp_path):
    config = seed_config(tmp_path, gradient_accumulation_steps=1, log_every_steps=1)
    first_config = dataclasses.replace(config, backend_finish_timeout=2)
    first = ExperimentTracker(first_config, backends=[LocalRunStore(), HangingFinish()])
    first.log_train_step(loss=1.0, tokens=10, iteration=0)
    first.finish()  # its rewrite waits for the hanging backend, up to 2 s
    second = ExperimentTracker(config, backends=[LocalRunStore()])
    second.load_state_dict(first.state_dict())
    second.log_train_step(loss=1.0, tokens=10, iteration=1)
    summary_path = second.finish()
    assert summary_path == first.summary_path
    assert first.wait_for_backends(timeout=30)
    summary = strict_json(summary_path)
    assert summary["totals"]["gradient_steps"] == 2
    assert [report["name"] for report in summary["backends"]] == ["local"]


def test_an_unusable_output_dir_never_stops_training(tmp_path, caplog):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    tracker = ExperimentTracker(
        seed_config(tmp_path, wandb_mode="disabled", output_dir=str(blocker / "runs"))
    )
    for iteration in range(5):
        tracker.log_train_step(loss=1.0, tokens=1, iteration=iteration)
    assert tracker.finish() is None
    assert any("cannot create the run directory" in message for message in caplog.messages)
