"""A run_clm.py-shaped Trainer script (tests/support/clm_script.py) in fresh processes: tokens
against the true count on every row and in every checkpoint's state, with logging, evaluation
and saving at intervals that do not divide each other; evaluation after training in the same
run; a resume from a checkpoint between logs; what the end of training says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runs import metrics_rows, strict_json
from tests.support.wandb_reader import find_offline_runs, wait_for_exit

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SAMPLES_PER_STEP = 4 * 2  # per-device batch × gradient accumulation
COMMON = [
    "--report_to", "hf_tracking", "--per_device_train_batch_size", "4",
    "--per_device_eval_batch_size", "8", "--gradient_accumulation_steps", "2",
    "--learning_rate", "1e-3", "--use_cpu", "--disable_tqdm", "true", "--seed", "0",
]  # fmt: skip
SCHEDULE = [
    "--do_train", "--do_eval", "--max_steps", "14", "--logging_steps", "5",
    "--eval_strategy", "steps", "--eval_steps", "4", "--save_strategy", "steps",
    "--save_steps", "7",
]  # fmt: skip


def run_script(directory: Path, *argv: str, backends: str = "local") -> str:
    command = [sys.executable, str(ROOT / "tests" / "support" / "clm_script.py")]
    command += ["--output_dir", str(directory / "out"), *COMMON, *argv]
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "HF_TRACKING_BACKENDS": backends,
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(directory),
        "WANDB_SILENT": "true",
    }
    result = subprocess.run(
        command, cwd=directory, env=environment, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stderr


def the_run(directory: Path) -> tuple[dict, list[dict]]:
    (path,) = (directory / "experiments").glob("*_summary.json")
    summary = strict_json(path)
    return summary, metrics_rows(directory / summary["run_dir"])


def true_tokens(fetched: list[int], steps: int) -> int:
    """Real tokens of the samples the first ``steps`` gradient steps trained on."""
    return sum(fetched[: steps * SAMPLES_PER_STEP])


def saved_tokens(tmp_path: Path, step: int) -> int:
    state = json.loads((tmp_path / "out" / f"checkpoint-{step}" / "trainer_state.json").read_text())
    return state["stateful_callbacks"]["TrackingCallback"]["attributes"]["tracker_state"][
        "tokens_seen"
    ]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> dict:
    """The script run once with W&B, then resumed from checkpoint-7 (between two logs)."""
    directory = tmp_path_factory.mktemp("clm")
    first: dict = {
        "stderr": run_script(directory, *SCHEDULE, "--do_predict", backends="local,wandb")
    }
    first["fetched"] = json.loads((directory / "fetched.json").read_text())
    first["summary"], first["rows"] = the_run(directory)
    first["saved_tokens"] = {step: saved_tokens(directory, step) for step in (7, 14)}
    (offline_dir,) = find_offline_runs(directory)
    first["wandb"] = wait_for_exit(offline_dir)
    checkpoint = str(directory / "out" / "checkpoint-7")
    resumed: dict = {
        "stderr": run_script(directory, *SCHEDULE, "--resume_from_checkpoint", checkpoint)
    }
    resumed["fetched"] = json.loads((directory / "fetched_resumed.json").read_text())
    resumed["summary"], resumed["rows"] = the_run(directory)
    resumed["saved_tokens"] = {14: saved_tokens(directory, 14)}
    return {"first": first, "resumed": resumed, "directory": directory}


def test_tokens_on_every_row_and_in_every_checkpoint_state(sessions):
    first = sessions["first"]
    fetched, rows = first["fetched"], first["rows"]
    assert [(r["event"], r["time/gradient_steps"]) for r in rows if r["event"] != "val"] == [
        ("train", 5), ("checkpoint", 7), ("train", 10), ("checkpoint", 14), ("final", 14),
    ]  # fmt: skip
    for row in rows:
        assert row["time/tokens_seen"] == true_tokens(fetched, row["time/gradient_steps"]), row
    assert first["summary"]["totals"]["tokens_seen"] == true_tokens(fetched, 14)
    assert first["saved_tokens"] == {7: true_tokens(fetched, 7), 14: true_tokens(fetched, 14)}


def test_a_resume_between_logs_goes_on_with_the_exact_count(sessions):
    fetched, resumed = sessions["first"]["fetched"], sessions["resumed"]

    def expected(step: int) -> int:
        if step <= 7:
            return true_tokens(fetched, step)
        return true_tokens(fetched, 7) + true_tokens(resumed["fetched"], step - 7)

    rows = resumed["rows"]
    assert [r["time/gradient_steps"] for r in rows if r["event"] == "train"] == [5, 10]
    for row in rows:
        assert row["time/tokens_seen"] == expected(row["time/gradient_steps"]), row
    assert resumed["summary"]["totals"]["tokens_seen"] == expected(14)
    assert resumed["saved_tokens"] == {14: expected(14)}


def test_evaluation_and_prediction_after_training_belong_to_the_run(sessions):
    summary, rows = sessions["first"]["summary"], sessions["first"]["rows"]
    # At the final step, after the final figures; counted, with their best values, and in W&B.
    val_rows = [row for row in rows if row["event"] == "val"]
    assert [row["time/gradient_steps"] for row in val_rows] == [4, 8, 12, 14, 14, 14]
    assert rows[-3]["event"] == "final" and "val/test/loss" in rows[-1]
    assert summary["totals"]["evaluations"] == 6
    assert summary["best"]["val"]["loss"] == min(r["val/loss"] for r in val_rows if "val/loss" in r)
    assert summary["best"]["val/test"]["loss"] == rows[-1]["val/test/loss"]
    wandb_run = sessions["first"]["wandb"]
    assert wandb_run.exit_code == 0
    assert sum(1 for row in wandb_run.history if "val/loss" in row) == 5
    assert sum(1 for row in wandb_run.history if "val/test/loss" in row) == 1


def test_the_end_of_training_says_where_the_run_went(sessions):
    stderr, summary = sessions["first"]["stderr"], sessions["first"]["summary"]
    assert stderr.count(f"run directory: {summary['run_dir']}") == 1
    assert stderr.count(f"summary: {sessions['directory'] / 'experiments'}") == 1
    sync_command = summary["wandb"]["sync_command"]
    # The script never imports wandb: its offline run is written after training.
    assert sync_command == f"hf-tracking sync {summary['run_dir']}"
    assert stderr.count(sync_command) == 1


def test_the_resumed_checkpoint_keeps_its_details(sessions):
    before = {entry["path"]: entry for entry in sessions["first"]["summary"]["checkpoints"]}
    checkpoint_7 = sessions["resumed"]["summary"]["checkpoints"][0]
    assert checkpoint_7["step"] == 7
    for key in ("seconds", "size_bytes", "wallclock_hours"):
        assert checkpoint_7[key] is not None, key
        assert checkpoint_7[key] == before[checkpoint_7["path"]][key], key


def test_evaluation_with_no_eval_strategy_is_counted(tmp_path):
    run_script(
        tmp_path, "--do_train", "--do_eval", "--eval_strategy", "no", "--save_strategy", "no",
        "--max_steps", "3", "--logging_steps", "2",
    )  # fmt: skip
    fetched = json.loads((tmp_path / "fetched.json").read_text())
    summary, rows = the_run(tmp_path)
    assert summary["totals"]["evaluations"] == 1
    assert summary["status"] == "finished"
    (val,) = [row for row in rows if row["event"] == "val"]
    assert val["time/gradient_steps"] == 3
    assert val["time/tokens_seen"] == true_tokens(fetched, 3)
    assert summary["best"]["val"]["step"] == 3
