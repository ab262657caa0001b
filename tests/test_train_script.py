"""scripts/train.py end to end on the CPU: the tiny recipe and its ablation, offline, then the
report and the comparison from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.reporting import assert_plot_image
from tests.support.runs import metrics_rows

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "scripts" / "train.py"
SMALL = [
    "training.max_steps=6",
    "training.warmup_steps=1",
    "training.logging_steps=2",
    "training.eval_steps=3",
    "training.save_steps=3",
    "training.eval_batches=2",
    "data.offline_train_documents=400",
    "data.offline_validation_documents=40",
    "batch_size=8",
    "seq_length=64",
]


def train(tmp_path: Path, recipe: str, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(TRAIN), str(ROOT / "recipes" / recipe), *options]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)


def cli(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "hf_tracking.cli", *arguments]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def printed(result: subprocess.CompletedProcess, label: str) -> list[str]:
    prefix = f"{label}: "
    return [line[len(prefix) :] for line in result.stdout.splitlines() if line.startswith(prefix)]


@pytest.mark.slow
def test_train_tiny_and_ablation_then_report_and_compare(tmp_path):
    overrides = [item for pair in (("--set", value) for value in SMALL) for item in pair]
    base = train(tmp_path, "tiny.yaml", "--offline", "--output-dir", "out", *overrides)
    assert base.returncode == 0, base.stdout + base.stderr[-4000:]
    assert "recipe tiny: run 1M_tinystories_baseline_" in base.stdout
    [summary_path] = printed(base, "summary")
    summary = json.loads((tmp_path / summary_path).read_text())
    assert summary["status"] == "finished"
    assert summary["totals"]["gradient_steps"] == 6
    assert summary["config"]["learning_rate"] == 3e-3
    assert "offline-stories" in summary["tags"]
    run_dir = tmp_path / summary["run_dir"]
    assert run_dir.parent == tmp_path / "out"
    assert printed(base, "metrics") == [str(Path(summary["run_dir"]) / "metrics.jsonl")]
    assert printed(base, "dashboard") == [
        f"hf-tracking serve {Path(summary_path).parent} (then open http://127.0.0.1:7070/)"
    ]
    rows = metrics_rows(run_dir)
    events = {row["event"] for row in rows}
    assert {"train", "val", "checkpoint"} <= events
    losses = [row["train/loss"] for row in rows if row["event"] == "train" and "train/loss" in row]
    assert losses[-1] < losses[0]
    assert summary["parameters"]["actual_total"] == summary["parameters"]["total"]
    reports = printed(base, "report")
    assert reports[-1].endswith("report.md") and len(reports) >= 5
    assert f"upload it with: hf-tracking sync {run_dir}" in base.stdout
    assert (tmp_path / "out" / "checkpoints" / summary["experiment_name"]).is_dir()

    ablation = train(
        tmp_path,
        "tiny_ablation.yaml",
        "--offline",
        "--output-dir",
        "out",
        "--no-report",
        *overrides,
        "--set",
        "wandb_mode=disabled",
    )
    assert ablation.returncode == 0, ablation.stdout + ablation.stderr[-4000:]
    [ablation_summary] = printed(ablation, "summary")
    assert "ablation" in ablation_summary
    assert not printed(ablation, "report")

    report = cli(tmp_path, "report", ablation_summary)
    assert report.returncode == 0, report.stderr
    paths = [tmp_path / line for line in report.stdout.split()]
    assert [path.name for path in paths[:2]] == ["loss.png", "learning_rate.png"]
    for path in paths[:-1]:
        assert_plot_image(path)
    markdown = paths[-1].read_text()
    ablation_name = json.loads((tmp_path / ablation_summary).read_text())["experiment_name"]
    assert f"# Run {ablation_name}" in markdown

    compare = cli(tmp_path, "compare", summary_path, ablation_summary, "--output", "cmp")
    assert compare.returncode == 0, compare.stderr
    assert "differs: learning_rate: 0.003 | 0.001" in compare.stdout
    assert_plot_image(tmp_path / "cmp" / "compare_loss.png")
    table = (tmp_path / "cmp" / "comparison.md").read_text()
    assert summary["experiment_name"] in table and ablation_name in table

    summary_lines = cli(tmp_path, "summary", summary_path)
    assert summary_lines.returncode == 0
    assert "hf-tracking sync" in summary_lines.stdout


@pytest.mark.slow
def test_a_bad_override_exits_2_with_one_line(tmp_path):
    result = train(tmp_path, "tiny.yaml", "--offline", "--set", "training.max_step=6")
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown training key 'max_step'")
    assert "did you mean 'max_steps'" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_an_unreachable_hub_says_use_offline(tmp_path):
    result = train(tmp_path, "tiny.yaml", "--set", "training.max_steps=2")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: could not reach the Hugging Face Hub")
    assert "--offline" in last and "Traceback" not in result.stderr
    assert not list(tmp_path.glob("experiments/*_summary.json"))
