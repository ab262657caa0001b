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


def run_script(tmp_path: Path, *argv: str, backends: str = "local") -> str:
    command = [sys.executable, str(ROOT / "tests" / "support" / "clm_script.py")]
    command += ["--output_dir", str(tmp_path / "out"), *COMMON, *argv]
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "HF_TRACKING_BACKENDS": backends,
    }
    result = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stderr


def the_run(tmp_path: Path) -> tuple[dict, list[dict]]:
    (path,) = (tmp_path / "experiments").glob("*_summary.json")
    summary = strict_json(path)
    return summary, metrics_rows(summary["run_dir"])


def true_tokens(fetched: list[int], steps: int) -> int:
    """Real tokens of the samples the first ``steps`` gradient steps trained on."""
    return sum(fetched[: steps * SAMPLES_PER_STEP])


def saved_tokens(tmp_path: Path, step: int) -> int:
    state = json.loads((tmp_path / "out" / f"checkpoint-{step}" / "trainer_state.json").read_text())
    return state["stateful_callbacks"]["TrackingCallback"]["attributes"]["tracker_state"][
        "tokens_seen"
    ]


def test_tokens_on_every_row_evaluation_after_training_and_a_resume_between_logs(tmp_path):
    stderr = run_script(tmp_path, *SCHEDULE, "--do_predict", backends="local,wandb")
    fetched = json.loads((tmp_path / "fetched.json").read_text())
    summary, rows = the_run(tmp_path)
    # Tokens: every row, the summary and each checkpoint's state hold the count of their step.
    assert [(r["event"], r["time/gradient_steps"]) for r in rows if r["event"] != "val"] == [
        ("train", 5), ("checkpoint", 7), ("train", 10), ("checkpoint", 14), ("final", 14),
    ]  # fmt: skip
    for row in rows:
        assert row["time/tokens_seen"] == true_tokens(fetched, row["time/gradient_steps"]), row
    assert summary["totals"]["tokens_seen"] == true_tokens(fetched, 14)
    assert saved_tokens(tmp_path, 7) == true_tokens(fetched, 7)
    assert saved_tokens(tmp_path, 14) == true_tokens(fetched, 14)
    # evaluate() and predict() after train(): the same run, at the final step, after the final
    # figures; the summary counts them and takes their best values.
    val_rows = [row for row in rows if row["event"] == "val"]
    assert [row["time/gradient_steps"] for row in val_rows] == [4, 8, 12, 14, 14, 14]
    assert rows[-3]["event"] == "final" and "val/test/loss" in rows[-1]
    assert summary["totals"]["evaluations"] == 6
    assert summary["best"]["val"]["loss"] == min(r["val/loss"] for r in val_rows if "val/loss" in r)
    assert summary["best"]["val/test"]["loss"] == rows[-1]["val/test/loss"]
    (offline_dir,) = find_offline_runs(tmp_path)
    wandb_run = wait_for_exit(offline_dir)
    assert wandb_run.exit_code == 0
    assert sum(1 for row in wandb_run.history if "val/loss" in row) == 5
    assert sum(1 for row in wandb_run.history if "val/test/loss" in row) == 1
    # The end of training says where the run went, once.
    assert stderr.count("run directory: ") == 1
    assert stderr.count(f"summary: {tmp_path / 'experiments'}") == 1
    assert stderr.count("wandb sync ") == 1
    first_checkpoints = {entry["path"]: entry for entry in summary["checkpoints"]}

    run_script(tmp_path, *SCHEDULE, "--resume_from_checkpoint", str(tmp_path / "out/checkpoint-7"))
    resumed = json.loads((tmp_path / "fetched_resumed.json").read_text())
    summary, rows = the_run(tmp_path)

    def expected(step: int) -> int:
        if step <= 7:
            return true_tokens(fetched, step)
        return true_tokens(fetched, 7) + true_tokens(resumed, step - 7)

    assert [r["time/gradient_steps"] for r in rows if r["event"] == "train"] == [5, 10]
    for row in rows:
        assert row["time/tokens_seen"] == expected(row["time/gradient_steps"]), row
    assert summary["totals"]["tokens_seen"] == expected(14)
    assert saved_tokens(tmp_path, 14) == expected(14)
    # The checkpoint resumed from keeps the details the first session measured.
    checkpoint_7 = summary["checkpoints"][0]
    assert checkpoint_7["step"] == 7
    for key in ("seconds", "size_bytes", "wallclock_hours"):
        assert checkpoint_7[key] is not None
        assert checkpoint_7[key] == first_checkpoints[checkpoint_7["path"]][key], key


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
