"""An accelerate loop shaped like transformers' run_clm_no_trainer.py (tests/fixtures/
clm_no_trainer.py, which never imports hf_tracking) with ``--with_tracking --report_to
hf_tracking`` and no hf_tracking config: tokens against the script's own count of every training
forward, save_state as checkpoint events, a resume through load_state, measured evaluation time,
the model's real sizes, one row per kind; in this process, and under ``accelerate launch`` with
two processes (one gloo job, and two independent ones)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from hf_tracking.metrics.params import format_count
from hf_tracking.trainer.accelerate_process import STATE_FILE
from tests.support.clm_loop import SCRIPT, launch, loop_inputs, reports, run_in_process
from tests.support.runs import metrics_rows, strict_json
from tests.support.wandb_reader import find_offline_runs, wait_for_exit

EVAL_PAUSE = 0.3
TRACKING = ["--with_tracking", "--report_to", "hf_tracking", "--gradient_accumulation_steps", "2"]


def the_run(directory: Path) -> tuple[dict, list[dict]]:
    """The summary and rows of the run written last."""
    paths = (directory / "experiments").glob("*_summary.json")
    summary = strict_json(max(paths, key=lambda path: path.stat().st_mtime))
    return summary, metrics_rows(summary["run_dir"])


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> dict:
    """Six optimizer steps (2 micro-batches each, a checkpoint every 2 steps, an evaluation per
    epoch), then a second process resuming from its step_4 up to step 8."""
    directory = tmp_path_factory.mktemp("loop")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        patch.setenv("WANDB_MODE", "disabled")
        base = loop_inputs(directory)
        run_in_process(
            base + TRACKING + ["--max_train_steps", "6", "--checkpointing_steps", "2"]
            + ["--output_dir", str(directory / "out"), "--eval_pause_seconds", str(EVAL_PAUSE)]
        )  # fmt: skip
        first = dict(zip(("summary", "rows"), the_run(directory), strict=True))
        first["report"] = reports(directory / "out")[0]
        states = {step: directory / "out" / f"step_{step}" / STATE_FILE for step in (2, 4, 6)}
        first["states"] = {
            step: json.loads(path.read_text()) if path.exists() else {}
            for step, path in states.items()
        }
        shutil.copytree(directory / "experiments", directory / "experiments_first")
        run_in_process(
            base + TRACKING + ["--max_train_steps", "8", "--checkpointing_steps", "2"]
            + ["--output_dir", str(directory / "resumed")]
            + ["--resume_from_checkpoint", str(directory / "out" / "step_4")]
        )  # fmt: skip
        resumed = dict(zip(("summary", "rows"), the_run(directory), strict=True))
        resumed["report"] = reports(directory / "resumed")[0]
    return {"first": first, "resumed": resumed, "directory": directory}


def test_the_loop_is_a_script_of_this_repository_that_never_imports_hf_tracking():
    text = SCRIPT.read_text()
    assert len(text.splitlines()) < 400
    assert not re.search(r"copyright|licensed under", text, re.IGNORECASE)
    assert not re.search(r"^\s*(import|from) hf_tracking", text, re.MULTILINE)
    assert "accelerator.init_trackers(" in text and "accelerator.load_state(" in text


def test_tokens_are_the_real_tokens_of_every_training_forward(sessions):
    first = sessions["first"]
    by_step = {int(step): count for step, count in first["report"]["real_tokens_by_step"].items()}
    rows = [row for row in first["rows"] if row["event"] in ("train", "val", "checkpoint")]
    for row in rows:  # evaluation forwards ran before most of them: not training tokens
        assert row["time/tokens_seen"] == by_step[row["time/gradient_steps"]], row
    summary = first["summary"]
    assert summary["totals"]["tokens_seen"] == first["report"]["real_tokens"] == by_step[6]
    assert summary["tokens"]["slots"] > summary["totals"]["tokens_seen"]  # padding left out
    assert summary["tokens"]["counting"].startswith("hf_tracking forward pre-hook")
    assert all(
        row["throughput/tokens_per_second"] > 0 for row in rows[1:] if row["event"] == "train"
    )
    assert [state["tokens_seen"] for state in first["states"].values()] == [
        by_step[2],
        by_step[4],
        by_step[6],
    ]


def test_save_state_is_a_checkpoint_event_with_the_runs_state_beside_it(sessions):
    first, directory = sessions["first"], sessions["directory"]
    checkpoints = [row for row in first["rows"] if row["event"] == "checkpoint"]
    assert [row["time/gradient_steps"] for row in checkpoints] == [2, 4, 6]
    assert all(row["checkpoint/size_mb"] > 0.1 for row in checkpoints)
    listed = first["summary"]["checkpoints"]
    assert [entry["path"] for entry in listed] == [
        str(directory / "out" / f"step_{step}") for step in (2, 4, 6)
    ]
    assert [entry["step"] for entry in listed] == [2, 4, 6]
    assert all(entry["size_bytes"] > 100_000 for entry in listed)
    assert [state["gradient_steps"] for state in first["states"].values()] == [2, 4, 6]


def test_load_state_continues_the_same_run(sessions):
    first, resumed = sessions["first"], sessions["resumed"]
    assert resumed["summary"]["experiment_name"] == first["summary"]["experiment_name"]
    assert resumed["summary"]["run_dir"] == first["summary"]["run_dir"]
    assert resumed["summary"]["totals"]["resumes"] == 1
    rows = resumed["rows"]
    (resume,) = [row for row in rows if row["event"] == "resume"]
    assert resume["resume/from_step"] == 4
    after = rows[rows.index(resume) + 1 :]
    assert [row["time/gradient_steps"] for row in rows[: rows.index(resume)]] == [
        row["time/gradient_steps"] for row in first["rows"] if row["time/gradient_steps"] <= 4
    ]
    saved = first["states"][4]
    own = {int(step): count for step, count in resumed["report"]["real_tokens_by_step"].items()}
    for row in after:  # tokens and wallclock go on from the checkpoint's
        assert row["time/tokens_seen"] == saved["tokens_seen"] + own[row["time/gradient_steps"]]
        assert row["time/wallclock_hours"] * 3600 > saved["ledger_seconds"]["wallclock"]
    assert [row["time/gradient_steps"] for row in after if row["event"] == "train"] == [8]
    total = saved["tokens_seen"] + resumed["report"]["real_tokens"]
    assert resumed["summary"]["totals"]["tokens_seen"] == total
    assert [entry["step"] for entry in resumed["summary"]["checkpoints"]] == [2, 4, 6, 8]


def test_evaluation_time_is_measured_and_never_booked_as_training(sessions):
    first = sessions["first"]
    measured = first["report"]["evaluation_seconds"]  # from model.eval() to the log call
    rows = first["rows"]
    validations = [row for row in rows if row["event"] == "val"]
    assert len(validations) == len(measured) == 2
    for row, seconds in zip(validations, measured, strict=True):
        assert EVAL_PAUSE <= row["val/eval_time_seconds"] <= seconds + 0.05
        (train,) = [
            r
            for r in rows
            if r["event"] == "train" and r["time/gradient_steps"] == row["time/gradient_steps"]
        ]
        # The training row describes the moment training stopped, before the evaluation.
        gap = (row["time/wallclock_hours"] - train["time/wallclock_hours"]) * 3600
        assert gap >= row["val/eval_time_seconds"] - 0.01
    ledger = first["summary"]["time_ledger_hours"]
    assert ledger["eval"] * 3600 >= sum(row["val/eval_time_seconds"] for row in validations) - 1e-6
    assert ledger["eval"] * 3600 >= 2 * EVAL_PAUSE


def test_without_a_config_the_run_has_the_prepared_models_sizes(sessions):
    summary = sessions["first"]["summary"]
    parameters = summary["parameters"]
    assert parameters["total"] == parameters["actual_total"] < 100_000
    assert summary["experiment_name"].startswith(
        f"{format_count(parameters['actual_total'])}_custom_accelerate_"
    )
    assert summary["config"]["num_layers"] == 2 and summary["config"]["d_model"] == 32
    assert summary["flops"]["flops_per_token"]["parameters"] == 6 * parameters["non_embedding"]


def test_one_log_call_makes_one_row_per_kind(sessions):
    rows = sessions["first"]["rows"]
    logged = [
        (row["event"], row["time/gradient_steps"]) for row in rows if row["event"] != "checkpoint"
    ]
    assert logged == [("train", 4), ("val", 4), ("train", 6), ("val", 6)]
    assert [row["train/epoch"] for row in rows if row["event"] == "train"] == [0, 1]
    assert not any(key.startswith("custom/") for row in rows for key in row)
    for row in rows:
        if row["event"] == "val":
            assert row["val/perplexity"] == pytest.approx(2.718281828 ** row["val/loss"])


@pytest.mark.slow
def test_two_processes_count_every_process_s_tokens(tmp_path):
    arguments = loop_inputs(tmp_path) + TRACKING + ["--max_train_steps", "4"]
    arguments += ["--checkpointing_steps", "2", "--output_dir", str(tmp_path / "out")]
    result = launch(arguments, tmp_path, {"ACCELERATE_USE_CPU": "1"})  # W&B offline
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    truth = reports(tmp_path / "out")
    assert sorted(truth) == [0, 1]
    summary, rows = the_run(tmp_path)
    assert summary["world_size"] == 2
    for row in rows:
        step = str(row["time/gradient_steps"])
        assert row["time/tokens_seen"] == sum(
            r["real_tokens_by_step"][step] for r in truth.values()
        )
    assert summary["totals"]["tokens_seen"] == sum(r["real_tokens"] for r in truth.values())
    assert [row["time/gradient_steps"] for row in rows if row["event"] == "checkpoint"] == [2, 4]
    (offline_dir,) = find_offline_runs(tmp_path)  # one W&B run, finished by the main process
    assert wait_for_exit(offline_dir).exit_code == 0
    assert "Traceback" not in result.stderr, result.stderr[-5000:]


def test_processes_the_accelerator_does_not_join_make_one_run_and_one_warning(tmp_path, caplog):
    # What accelerate launch --multi_gpu --num_processes 2 leaves on a machine without GPUs
    # (checked by hand): each process has WORLD_SIZE=2 and its RANK, and an Accelerator of one
    # process (distributed_type NO).
    arguments = loop_inputs(tmp_path) + TRACKING + ["--max_train_steps", "2"]
    for rank in ("1", "0"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WANDB_MODE", "disabled")
            patch.setenv("WORLD_SIZE", "2")
            patch.setenv("RANK", rank)
            output = tmp_path / f"rank_{rank}"
            run_in_process([*arguments, "--output_dir", str(output)])
            assert reports(output)[0]["real_tokens"] > 0  # it trained
        if rank == "1":
            assert not (tmp_path / "experiments").exists()
    assert len(list((tmp_path / "experiments").glob("*_summary.json"))) == 1
    warnings = [r.getMessage() for r in caplog.records if "not distributed" in r.getMessage()]
    assert len(warnings) == 1 and "only the process of RANK 0 is tracked" in warnings[0]
    summary, _ = the_run(tmp_path)
    assert summary["world_size"] == 1
    assert summary["totals"]["tokens_seen"] == reports(tmp_path / "rank_0")[0]["real_tokens"]
