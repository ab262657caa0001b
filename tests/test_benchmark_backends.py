"""Smoke test of scripts/benchmark_backends.py: one quick round writes the JSON it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "benchmark_backends.py"


@pytest.mark.slow
def test_benchmark_backends_quick(tmp_path):
    output = tmp_path / "backends.json"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    data = json.loads(output.read_text())
    assert data["rounds"] == 1 and data["steps"] == 20
    for name in ("none", "hf_tracking", "trainer_3", "trainer_4"):
        assert data[name]["global_steps"] == [20]
        assert 0 < data[name]["train_s"]["median_s"] <= data[name]["to_exit_s"]["median_s"]
    (backends,) = data["hf_tracking_backends"]
    assert set(backends) == {"local", "wandb", "tensorboard", "mlflow", "trackio"}
    written = {report["records_written"] for report in backends.values()}
    assert all(report["status"] == "finished" for report in backends.values()), backends
    assert len(written) == 1 and written.pop() > 20  # every backend got every record
    assert "| hf_tracking |" in completed.stdout
