"""A real 2-process run through `accelerate launch` on the CPU: one run, one summary, one W&B run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.launch import accelerate_launch, free_port
from tests.support.runs import metrics_rows, strict_json
from tests.support.tiny import PaddedDataset
from tests.support.wandb_reader import find_offline_runs, wait_for_exit

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def launch(tmp_path: Path, script: str, *args: str, backends: str = "local") -> Any:
    """Run ``tests/support/<script>`` on two CPU processes with accelerate launch (gloo)."""
    result = accelerate_launch(
        ROOT / "tests" / "support" / script,
        *args,
        cwd=tmp_path,
        environment={"HF_TRACKING_BACKENDS": backends},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def test_accelerate_launch_two_processes(tmp_path):
    result = launch(tmp_path, "ddp_train.py", str(tmp_path / "out"), backends="local,wandb")
    ranks = [json.loads(path.read_text()) for path in (tmp_path / "out").glob("rank_*.json")]
    assert sorted(rank["rank"] for rank in ranks) == [0, 1]
    assert all(rank["world_size"] == 2 for rank in ranks)

    summaries = list((tmp_path / "experiments").glob("*_summary.json"))
    run_dirs = [path for path in (tmp_path / "experiments").iterdir() if path.is_dir()]
    assert len(summaries) == 1 and len(run_dirs) == 1, (summaries, run_dirs)
    summary = strict_json(summaries[0])
    assert summary["world_size"] == 2
    rows = metrics_rows(run_dirs[0])
    train_rows = [row for row in rows if row["event"] == "train"]
    # 6 steps × 2 micro-batches × 4 samples × 2 processes = 96 samples = three epochs of 32.
    assert train_rows[-1]["time/tokens_seen"] == 3 * PaddedDataset(32).real_tokens()
    assert train_rows[-1]["time/gradient_steps"] == 6
    assert [row["time/gradient_steps"] for row in rows if row["event"] == "val"] == [3, 6]
    assert summary["config"]["trainer"]["global_batch_size"] == 16
    (offline_dir,) = find_offline_runs(tmp_path)
    assert wait_for_exit(offline_dir).exit_code == 0, result.stderr[-5000:]
    assert "Traceback" not in result.stderr, result.stderr[-5000:]


def test_hand_written_loop_sums_tokens_over_ranks(tmp_path):
    launch(tmp_path, "ddp_loop.py", str(tmp_path / "out"))
    ranks = [json.loads(path.read_text()) for path in (tmp_path / "out").glob("rank_*.json")]
    per_step = [
        sum(step) for step in zip(*(rank["tokens_per_step"] for rank in ranks), strict=True)
    ]
    assert len(ranks) == 2 and ranks[0]["tokens_per_step"] != ranks[1]["tokens_per_step"]
    summed = [sum(per_step[:steps]) for steps in range(len(per_step) + 1)]
    (summary_path,) = (tmp_path / "experiments").glob("*_summary.json")
    summary = strict_json(summary_path)
    rows = metrics_rows(summary["run_dir"])
    assert [(row["event"], row["time/gradient_steps"]) for row in rows] == [
        ("train", 2), ("val", 2), ("val", 3), ("train", 4), ("val", 4), ("custom", 4),
        ("train", 5),
    ]  # fmt: skip
    for row in rows:
        assert row["time/tokens_seen"] == summed[row["time/gradient_steps"]], row
    assert summary["totals"]["tokens_seen"] == summed[5]
    assert summary["world_size"] == 2


def test_a_loop_that_logs_on_rank_zero_only_counts_its_own_tokens_and_never_hangs(tmp_path):
    result = launch(tmp_path, "ddp_loop.py", str(tmp_path / "out"), "--rank-zero-only")
    (rank_zero,) = [
        json.loads(path.read_text())
        for path in (tmp_path / "out").glob("rank_*.json")
        if json.loads(path.read_text())["rank"] == 0
    ]
    own = [sum(rank_zero["tokens_per_step"][:steps]) for steps in range(6)]
    (summary_path,) = (tmp_path / "experiments").glob("*_summary.json")
    rows = metrics_rows(strict_json(summary_path)["run_dir"])
    for row in rows:
        assert row["time/tokens_seen"] == own[row["time/gradient_steps"]], row
    assert result.stderr.count("only some of the 2 ranks call log_train_step") == 1


def test_a_process_group_the_trainer_does_not_use_gives_independent_runs(tmp_path):
    port = str(free_port())
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "HF_TRACKING_BACKENDS": "local",
    }
    script = str(ROOT / "tests" / "support" / "independent_train.py")
    processes = [
        subprocess.Popen(
            [sys.executable, script, str(rank), port, str(tmp_path / "out")],
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    summaries = [strict_json(path) for path in (tmp_path / "experiments").glob("*_summary.json")]
    assert len(summaries) == 2
    # 4 steps × 2 micro-batches × 4 samples = 32 samples: one epoch of each process's own data.
    for summary in summaries:
        assert summary["totals"]["tokens_seen"] == PaddedDataset(32).real_tokens()
        assert summary["world_size"] == 1
        train_rows = [
            r for r in metrics_rows(tmp_path / summary["run_dir"]) if r["event"] == "train"
        ]
        assert train_rows[-1]["time/tokens_seen"] == PaddedDataset(32).real_tokens()
    for _, stderr in outputs:
        assert stderr.count("the Trainer is not distributed") == 1, stderr[-3000:]
        assert "tracked as an independent run" in stderr
