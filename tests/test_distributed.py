"""A real 2-process run through `accelerate launch` on the CPU: one run, one summary, one W&B run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.launch import accelerate_launch
from tests.support.runs import metrics_rows, strict_json
from tests.support.tiny import PaddedDataset
from tests.support.wandb_reader import find_offline_runs, wait_for_exit

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_accelerate_launch_two_processes(tmp_path):
    result = accelerate_launch(
        ROOT / "tests" / "support" / "ddp_train.py", str(tmp_path / "out"), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
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
