"""Smoke tests of the benchmark scripts: each runs with --quick and writes the JSON it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def run_script(name: str, output: Path, *arguments: str) -> dict:
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / name), "--quick", "--output", str(output), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(output.read_text())


@pytest.mark.slow
def test_benchmark_hot_path_quick(tmp_path):
    data = run_script("benchmark_hot_path.py", tmp_path / "hot.json", "--against", "HEAD")
    assert data["against"] == "HEAD"
    assert len(data["rounds"]) == 1 and {"before", "after"} == set(data["rounds"][0])
    figures = {row["figure"]: row for row in data["rows"]}
    assert "log_train_step / wandb_offline / emitting" in figures
    assert all(row["before_us"] > 0 and row["after_us"] > 0 for row in data["rows"])
    assert "finish_drain / local_only / finish_s" in figures


@pytest.mark.slow
def test_benchmark_hot_path_trainer_quick(tmp_path):
    data = run_script(
        "benchmark_hot_path.py",
        tmp_path / "trainer.json",
        "--against",
        "HEAD",
        "--trainer",
        "hf_tracking_local",
    )
    assert set(data["rows"]) == {"before", "after"}
    for row in data["rows"].values():
        assert row["train_ratio"]["median"] > 0
        assert row["thread_us_per_step_net"]["median"] > 0


@pytest.mark.slow
def test_benchmark_overhead_quick(tmp_path):
    data = run_script("benchmark_overhead.py", tmp_path / "overhead.json")
    for key in ("versions", "machine", "timer_floor", "log_train_step", "on_log", "wandb_log"):
        assert key in data, key
    for key in ("ratios", "finish_drain", "startup", "trainer"):
        assert key in data, key
    assert {"torch", "transformers", "wandb", "hf_tracking", "python"} <= set(data["versions"])
    assert {"cpu", "cpu_count"} <= set(data["machine"])
    case = data["log_train_step"]["wandb_offline"]
    assert case["emitting"]["n"] == case["records_expected"] == case["metrics_jsonl_lines"]
    for stats in (
        case["non_emitting"],
        case["emitting"],
        data["on_log"]["wandb_offline"]["on_log"],
    ):
        assert 0 < stats["p50_us"] <= stats["p95_us"] <= stats["p99_us"]
    assert data["wandb_log"]["wandb_log_5_scalars"]["p50_us"] > 0
    drain = data["finish_drain"]
    assert drain["local_only"]["metrics_jsonl_lines"] == drain["local_only"]["records"]
    assert "difference_s" in data["startup"]["warm"]
    assert set(data["trainer"]) == {"micro"}
    # Both thread settings, side by side in one run.
    assert set(data["trainer"]["micro"]) == {"torch's default threads", "torch threads 1"}
    for trainer in data["trainer"]["micro"].values():
        assert list(trainer["configs"]) == ["none", "wandb", "hf_tracking"]
    trainer = data["trainer"]["micro"]["torch threads 1"]
    for name, case in trainer["configs"].items():
        assert case["train_s"]["median"] > 0 and case["train_ratio"]["median"] > 0
        assert case["records"] == trainer["configs"]["none"]["records"] > 0
        assert case["cpu_self_s"]["median"] > 0 and "extra_cpu_tree_s" in case
        assert (case["thread_us_per_step"]["median"] > 0) == (name != "none")
        assert (case["thread_us_per_step_typical"]["median"] > 0) == (name != "none")
    events = trainer["configs"]["hf_tracking"]["event_us_per_step"]
    assert {"token_hook", "loss_hook", "on_step_begin", "on_step_end", "on_log"} <= set(events)
    assert all(event["typical"] > 0 for event in events.values() if event["total"] > 0)
    # W&B offline by default: written after training (hf-tracking sync), not during the run.
    assert trainer["configs"]["wandb"]["wandb_file_kb"] > 0
    assert trainer["configs"]["hf_tracking"]["wandb_file_kb"] == 0
    assert trainer["shape"]["model"]["n_embd"] == 32


def test_benchmark_memory_quick(tmp_path):
    data = run_script("benchmark_memory.py", tmp_path / "memory.json")
    for key in ("versions", "machine", "rss_mb", "growth_mb", "samples", "max_intake_backlog"):
        assert key in data, key
    for key in ("history_len", "metrics_jsonl_lines", "finish_s", "summary_s", "wall_s"):
        assert key in data, key
    assert data["records"] == 20_000
    assert data["metrics_jsonl_lines"] == data["records"]
    assert 0 < data["history_len"] <= 10_000
    assert data["samples"][0]["records"] == 0 and data["samples"][-1]["records"] == 20_000
    assert data["targets"]["lines_equal_records"]["met"]


def test_benchmark_dashboard_quick(tmp_path):
    data = run_script("benchmark_dashboard.py", tmp_path / "dashboard.json", "--no-browser")
    assert data["rows"] == 20_000 and data["runs_api"]["listed"] == data["runs"] + 1
    assert data["series"]["validation_points"] == 20
    assert 0 < data["series"]["whole_points"] <= 2800
    assert data["index"]["index_mb"] > 0 and data["index"]["seconds"] > 0


def test_benchmark_health_quick(tmp_path):
    data = run_script("benchmark_health.py", tmp_path / "health.json")
    assert data["track_layers"]["blocks"] == 4  # embeddings, two blocks, head
    assert data["track_layers"]["total_ms"] > 0 and data["track_layers"]["adamw_ms"] > 0
    assert "per_call_ns" in data["loss_hook"] and "act_us" in data


def test_benchmark_dashboard_scale_quick(tmp_path):
    data = run_script("benchmark_dashboard_scale.py", tmp_path / "scale.json")
    found = data["results"]["this tree"]
    assert found["big"]["rows"] >= 5_000 and len(found["big"]["requests"]) == 5
    assert found["big"]["peak_rss_mb"] > 0
    assert found["runs"]["page_rows"] == data["sizes"]["runs"]
    assert found["compare"]["exit"] == 0 and found["compare"]["runs"] == data["sizes"]["runs"]
    assert found["wide"]["event_names"] > 0
    assert found["load"]["answered"] == found["load"]["clients"]
    assert found["load"]["threads_while_idle"] < found["load"]["idle"]
