"""The Trainer integration: report_to, the command-line flag, the explicit callback, tokens,
resume, and W&B offline read back from its files."""

from __future__ import annotations

import logging

import pytest
from transformers import HfArgumentParser, Trainer, TrainingArguments

import hf_tracking
from hf_tracking import ExperimentConfig, TrackingCallback
from tests.support.catalog import AXES, CHECKPOINT_NAMES, TRAIN_NAMES, VAL_NAMES
from tests.support.runs import metrics_rows, strict_json
from tests.support.tiny import PaddedDataset, tiny_model, training_arguments
from tests.support.wandb_reader import find_offline_runs, wait_for_exit

pytestmark = pytest.mark.slow
TRAIN_SIZE = 48


def tracking_callback(trainer: Trainer) -> TrackingCallback:
    callback = tracking_callback_of(trainer)
    callback.wait_for_backends()
    return callback


def train(args: TrainingArguments, callbacks=None, resume_from_checkpoint=None) -> Trainer:
    trainer = Trainer(
        model=tiny_model(),
        args=args,
        train_dataset=PaddedDataset(TRAIN_SIZE),
        eval_dataset=PaddedDataset(16, seed=1),
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    return trainer


def check_run(trainer: Trainer, tmp_path) -> dict:
    """Everything a Trainer run with the default test arguments must leave."""
    callback = tracking_callback(trainer)
    summary = strict_json(callback.summary_path)
    rows = metrics_rows(summary["run_dir"])
    train_rows = [row for row in rows if row["event"] == "train"]
    val_rows = [row for row in rows if row["event"] == "val"]
    checkpoint_rows = [row for row in rows if row["event"] == "checkpoint"]
    for row in rows:
        for axis in AXES:
            assert axis in row, (axis, row)
        mangled = [
            key
            for key in row
            if key.startswith(("train/train_", "train/eval_", "val/eval_"))
            and key != "val/eval_time_seconds"
        ]
        assert not mangled
    for row in train_rows:
        for name in TRAIN_NAMES:
            assert name in row, name
    assert [row["time/gradient_steps"] for row in train_rows] == [2, 4, 6, 8, 10, 12]
    assert [row["time/gradient_steps"] for row in val_rows] == [4, 8, 12]
    assert [row["time/gradient_steps"] for row in checkpoint_rows] == [6, 12]
    for name in VAL_NAMES:
        assert name in val_rows[0]
    for name in CHECKPOINT_NAMES:
        assert name in checkpoint_rows[0]
    assert checkpoint_rows[0]["checkpoint/size_mb"] > 0
    # 12 steps × 4 samples × 2 micro-batches = 96 samples = two epochs of the padded data.
    real_tokens = 2 * PaddedDataset(TRAIN_SIZE).real_tokens()
    assert train_rows[-1]["time/tokens_seen"] == real_tokens
    assert train_rows[-1]["tokens/slots"] == 96 * 16
    # Loss-bearing: labels other than -100 after the one-position shift, one fewer per sample.
    assert train_rows[-1]["tokens/loss_bearing"] == real_tokens - 96
    assert train_rows[-1]["tokens/padding_efficiency_pct"] == pytest.approx(
        100 * real_tokens / (96 * 16)
    )
    assert train_rows[-1]["time/gradient_steps"] == trainer.state.global_step
    assert val_rows[0]["val/eval_time_seconds"] > 0
    assert "train/epoch" in train_rows[0]
    assert summary["status"] == "finished"
    assert summary["totals"]["gradient_steps"] == 12
    assert summary["totals"]["tokens_seen"] == real_tokens
    assert summary["trainer_final_metrics"]["final/loss"] > 0
    assert len(summary["checkpoints"]) == 2
    assert summary["config"]["trainer"]["gradient_accumulation_steps"] == 2
    assert summary["config"]["trainer"]["global_batch_size"] == 8
    # The efficiency fields, from a real run.
    assert 0 < summary["step_time_seconds"]["p50"] <= summary["step_time_seconds"]["p95"]
    assert summary["step_time_seconds"]["p95"] <= summary["step_time_seconds"]["max"]
    assert summary["throughput"]["p50_tokens_per_second"] > 0
    ledger = summary["time_ledger_hours"]
    assert ledger["eval"] > 0 and ledger["checkpoint"] > 0 and ledger["train"] > 0
    parts = sum(ledger[part] for part in ("train", "eval", "checkpoint", "data_wait", "other"))
    assert parts == pytest.approx(ledger["wallclock"])
    assert 0 < summary["goodput_pct"] < 100
    assert summary["flops"]["flops_per_token"]["total"] > 0
    assert summary["flops"]["mfu_pct"] is None  # the CPU has no known peak
    assert summary["hardware"]["versions"]["transformers"]
    assert summary["hardware"]["cpu_count"] >= 1
    assert summary["memory"]["gpu_peak_allocated_gb"] == {}

    (offline_dir,) = find_offline_runs(tmp_path)
    run = wait_for_exit(offline_dir)
    assert run.exit_code == 0
    assert run.name == summary["experiment_name"]
    curve_rows = [row for row in rows if row["event"] != "final"]
    assert len(run.history) == len(curve_rows)
    assert [h["time/gradient_steps"] for h in run.history] == [
        r["time/gradient_steps"] for r in curve_rows
    ]
    assert run.summary["final/loss"] == pytest.approx(
        summary["trainer_final_metrics"]["final/loss"]
    )
    assert run.config["trainer"]["learning_rate"] == pytest.approx(1e-3)
    return summary


def test_report_to_name(tmp_path):
    trainer = train(training_arguments(str(tmp_path / "out")))
    summary = check_run(trainer, tmp_path)
    assert summary["tokens"]["counting"].startswith("hf_tracking forward pre-hook")
    assert summary["config"]["model_size"] == "28.0K"


def test_report_to_from_the_command_line(tmp_path):
    parser = HfArgumentParser(TrainingArguments)
    reference = training_arguments(str(tmp_path / "out"))
    argv = ["--output_dir", str(tmp_path / "out"), "--report_to", "hf_tracking"]
    for name in (
        "per_device_train_batch_size",
        "per_device_eval_batch_size",
        "gradient_accumulation_steps",
        "max_steps",
        "learning_rate",
        "logging_steps",
        "eval_steps",
        "save_steps",
        "seed",
    ):
        argv += [f"--{name}", str(getattr(reference, name))]
    argv += [
        "--eval_strategy",
        "steps",
        "--save_strategy",
        "steps",
        "--use_cpu",
        "--disable_tqdm",
        "true",
    ]
    (args,) = parser.parse_args_into_dataclasses(argv)
    assert args.report_to == ["hf_tracking"]
    check_run(train(args), tmp_path)


def test_explicit_callback_with_a_config(tmp_path):
    config = ExperimentConfig(
        model_size="28K",
        dataset="padded",
        vocab_size=64,
        d_model=32,
        num_layers=2,
        num_heads=2,
        seq_length=16,
        experiment_name="explicit",
        output_dir=str(tmp_path / "runs"),
    )
    args = training_arguments(str(tmp_path / "out"), report_to="none")
    trainer = train(args, callbacks=[TrackingCallback(config)])
    summary = check_run(trainer, tmp_path)
    assert summary["experiment_name"] == "explicit"
    assert (tmp_path / "runs" / "explicit_summary.json").exists()
    assert summary["tags"] == ["28K", "padded", "baseline"]


def test_trainer_token_count_gives_the_same_numbers(tmp_path):
    ours = train(training_arguments(str(tmp_path / "a"), report_to="hf_tracking"))
    ours_rows = metrics_rows(strict_json(tracking_callback(ours).summary_path)["run_dir"])
    theirs = train(
        training_arguments(str(tmp_path / "b"), include_num_input_tokens_seen="non_padding")
    )
    summary = strict_json(tracking_callback(theirs).summary_path)
    theirs_rows = metrics_rows(summary["run_dir"])
    assert summary["tokens"]["counting"].startswith("Trainer include_num_input_tokens_seen")
    ours_tokens = [r["time/tokens_seen"] for r in ours_rows if r["event"] == "train"]
    theirs_tokens = [r["time/tokens_seen"] for r in theirs_rows if r["event"] == "train"]
    assert ours_tokens == theirs_tokens
    assert ours.state.num_input_tokens_seen == 0  # the Trainer's own count stayed off


def test_resume_from_an_earlier_checkpoint(tmp_path):
    args = training_arguments(
        str(tmp_path / "out"), logging_steps=1, save_steps=4, eval_steps=4, max_steps=12
    )
    first = train(args)
    first_summary = strict_json(tracking_callback(first).summary_path)
    first_rows = metrics_rows(first_summary["run_dir"])
    wallclock_at_8 = max(
        r["time/wallclock_hours"] for r in first_rows if r["time/gradient_steps"] <= 8
    )

    second = train(args, resume_from_checkpoint=str(tmp_path / "out" / "checkpoint-8"))
    summary = strict_json(tracking_callback(second).summary_path)
    assert summary["experiment_name"] == first_summary["experiment_name"]
    assert len(list((tmp_path / "experiments").glob("*_summary.json"))) == 1
    rows = metrics_rows(summary["run_dir"])
    train_steps = [row["time/gradient_steps"] for row in rows if row["event"] == "train"]
    assert train_steps == list(range(1, 13))  # monotonic, no gap, no duplicate
    steps = [row["time/gradient_steps"] for row in rows]
    assert steps == sorted(steps)
    hours = [row["time/wallclock_hours"] for row in rows]
    assert hours == sorted(hours)
    resumed = [r for r in rows if r["time/gradient_steps"] > 8]
    assert resumed[0]["time/wallclock_hours"] >= wallclock_at_8
    assert resumed[-1]["time/tokens_seen"] == first_rows[-2]["time/tokens_seen"]  # same data again
    assert summary["totals"]["resumes"] == 1
    assert [entry["step"] for entry in summary["checkpoints"]] == [4, 8, 12]
    assert summary["totals"]["checkpoints"] == 3
    assert summary["wandb"]["previous_run_ids"] == [first_summary["wandb"]["run_id"]]
    assert len(find_offline_runs(tmp_path)) == 2
    ledger = summary["time_ledger_hours"]
    parts = sum(ledger[p] for p in ("train", "eval", "checkpoint", "data_wait", "other"))
    assert parts == pytest.approx(ledger["wallclock"])


def test_resume_in_the_same_process_with_the_same_trainer(tmp_path):
    args = training_arguments(
        str(tmp_path / "out"), logging_steps=1, save_steps=4, eval_steps=4, max_steps=12
    )
    trainer = Trainer(
        model=tiny_model(),
        args=args,
        train_dataset=PaddedDataset(TRAIN_SIZE),
        eval_dataset=PaddedDataset(16, seed=1),
    )
    trainer.train()
    trainer.train(resume_from_checkpoint=str(tmp_path / "out" / "checkpoint-8"))
    summary = strict_json(tracking_callback(trainer).summary_path)
    rows = metrics_rows(summary["run_dir"])
    assert [r["time/gradient_steps"] for r in rows if r["event"] == "train"] == list(range(1, 13))
    assert [entry["step"] for entry in summary["checkpoints"]] == [4, 8, 12]


def test_only_evaluations_with_a_runtime_are_datasets():
    from hf_tracking.trainer.logs import eval_datasets as _eval_datasets

    metrics = {"eval_loss": 1.0, "eval_aux_loss": 0.5, "eval_runtime": 0.1, "epoch": 1.0}
    assert _eval_datasets(metrics) == [(None, "eval_")]
    named = {
        "eval_a_loss": 1.0,
        "eval_a_runtime": 0.1,
        "eval_a_b_loss": 2.0,
        "eval_a_b_runtime": 0.2,
    }
    assert sorted(_eval_datasets(named)) == [("a", "eval_a_"), ("a_b", "eval_a_b_")]


def test_a_training_log_passes_its_other_numbers_and_an_evaluation_log_is_told_apart():
    from hf_tracking.trainer.logs import is_evaluation_log, train_extras

    logs = {"loss": 2.0, "learning_rate": 1e-3, "epoch": 0.5, "train_aux": 3, "note": "text"}
    assert train_extras(logs) == {"train/epoch": 0.5, "train/aux": 3}
    assert not is_evaluation_log(logs)
    assert is_evaluation_log({"epoch": 0.5, "eval_loss": 1.0})
    assert is_evaluation_log({"eval_loss": 1.0, "epoch": 0.5})


def test_report_to_with_wandb_makes_one_run(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        trainer = train(
            training_arguments(str(tmp_path / "out"), report_to=["hf_tracking", "wandb"])
        )
    assert any("WandbCallback is left out" in message for message in caplog.messages)
    check_run(trainer, tmp_path)  # waits for the W&B process to finish its run
    assert len(find_offline_runs(tmp_path)) == 1


def test_a_second_train_call_is_a_new_run(tmp_path):
    args = training_arguments(
        str(tmp_path / "out"), max_steps=2, eval_strategy="no", save_strategy="no"
    )
    trainer = Trainer(model=tiny_model(), args=args, train_dataset=PaddedDataset(16))
    trainer.train()
    first = tracking_callback(trainer).summary_path
    trainer.train()
    second = tracking_callback(trainer).summary_path
    assert first != second
    assert strict_json(second)["totals"]["gradient_steps"] == 2


def test_config_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "tracking.yaml"
    ExperimentConfig(
        experiment_name="from_env",
        output_dir=str(tmp_path / "env_runs"),
        vocab_size=64,
        d_model=32,
        num_layers=2,
        num_heads=2,
        seq_length=16,
    ).save(path)
    monkeypatch.setenv("HF_TRACKING_CONFIG", str(path))
    args = training_arguments(
        str(tmp_path / "out"), max_steps=2, eval_strategy="no", save_strategy="no"
    )
    Trainer(model=tiny_model(), args=args, train_dataset=PaddedDataset(16)).train()
    assert (tmp_path / "env_runs" / "from_env_summary.json").exists()


def test_several_eval_datasets_log_under_their_names(tmp_path):
    args = training_arguments(str(tmp_path / "out"), save_strategy="no", max_steps=8)
    trainer = Trainer(
        model=tiny_model(),
        args=args,
        train_dataset=PaddedDataset(TRAIN_SIZE),
        eval_dataset={"stories": PaddedDataset(8, seed=1), "held_out": PaddedDataset(8, seed=2)},
    )
    trainer.train()
    summary = strict_json(tracking_callback(trainer).summary_path)
    val_rows = [row for row in metrics_rows(summary["run_dir"]) if row["event"] == "val"]
    assert [sorted(k for k in row if k.endswith("/loss")) for row in val_rows] == [
        ["val/stories/loss"],
        ["val/held_out/loss"],
    ] * 2
    assert all(
        row[key.replace("/loss", "/eval_time_seconds")] > 0
        for row in val_rows
        for key in row
        if key.endswith("/loss")
    )
    assert set(summary["best"]) == {"val/stories", "val/held_out"}


def test_import_registers_without_patching_anything_else():
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    assert INTEGRATION_TO_CALLBACK["hf_tracking"] is hf_tracking.TrackingCallback


def test_rows_are_built_and_tokens_counted_on_the_writer_thread(tmp_path, monkeypatch):
    """At logging_steps=1 the training thread only reads the clock and hands the micro-batches
    over: every row's values and token counts are made on the writer thread, except what is
    still waiting when training ends (the training thread catches up then)."""
    import threading

    import hf_tracking.tracked_run as tracked_run
    from hf_tracking import tokens

    calls: dict[str, list[tuple[str, bool]]] = {"rows": [], "counts": []}
    trainer = Trainer(
        model=tiny_model(),
        args=training_arguments(
            str(tmp_path / "out"),
            report_to="hf_tracking",
            logging_steps=1,
            eval_strategy="no",
            save_strategy="no",
        ),
        train_dataset=PaddedDataset(TRAIN_SIZE),
    )
    callback = tracking_callback_of(trainer)

    def recorded(kind, function):
        def call(*args):
            ended = callback.tracker is None or callback.tracker._tracked.training_closed
            calls[kind].append((threading.current_thread().name, ended))
            return function(*args)

        return call

    monkeypatch.setattr(
        tracked_run, "train_record_values", recorded("rows", tracked_run.train_record_values)
    )
    monkeypatch.setattr(tokens, "micro_batch_counts", recorded("counts", tokens.micro_batch_counts))
    trainer.train()
    summary = strict_json(tracking_callback(trainer).summary_path)
    train_rows = [r for r in metrics_rows(summary["run_dir"]) if r["event"] == "train"]
    assert [r["time/gradient_steps"] for r in train_rows] == list(range(1, 13))
    for kind in ("rows", "counts"):
        on_writer = [ended for name, ended in calls[kind] if name == "hf_tracking-writer"]
        elsewhere = [ended for name, ended in calls[kind] if name != "hf_tracking-writer"]
        assert on_writer and all(elsewhere), (kind, calls[kind])
    assert len(calls["rows"]) == 12
    # Two micro-batches a step; the last row's count is the run's exact total.
    assert len(calls["counts"]) == 24
    tokens_seen = [r["time/tokens_seen"] for r in train_rows]
    assert tokens_seen == sorted(set(tokens_seen))
    assert tokens_seen[-1] == 2 * PaddedDataset(TRAIN_SIZE).real_tokens()
    assert summary["totals"]["tokens_seen"] == tokens_seen[-1]


def tracking_callback_of(trainer: Trainer) -> TrackingCallback:
    (callback,) = [c for c in trainer.callback_handler.callbacks if isinstance(c, TrackingCallback)]
    return callback
