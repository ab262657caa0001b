"""``--report_to`` on the command line of an ``HfArgumentParser`` script (transformers 5.25): one
name only; hf_tracking and TensorBoard together through ``HF_TRACKING_BACKENDS``, or through a
JSON file of arguments, as the Trainer guide says (docs/guides/trainer.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import TrainingArguments
from transformers.integrations import TensorBoardCallback
from transformers.integrations.integration_utils import get_reporting_integration_callbacks

import hf_tracking
from tests.support.backend_readers import read_scalars
from tests.support.report_to_script import parse
from tests.support.runs import metrics_rows, strict_json

ROOT = Path(__file__).resolve().parents[1]


def test_the_command_line_takes_one_report_to_name(tmp_path):
    """The forms that do not work, so the documentation names none of them."""
    with pytest.raises(ValueError, match=r"not used by the HfArgumentParser: \['tensorboard'\]"):
        parse(["--output_dir", str(tmp_path), "--report_to", "hf_tracking", "tensorboard"])
    comma = parse(["--output_dir", str(tmp_path), "--report_to", "hf_tracking,tensorboard"])
    with pytest.raises(ValueError, match="hf_tracking,tensorboard is not supported"):
        get_reporting_integration_callbacks(comma.report_to)


def test_a_json_file_of_arguments_takes_a_list(tmp_path):
    arguments = tmp_path / "args.json"
    arguments.write_text(
        json.dumps({"output_dir": str(tmp_path), "report_to": ["hf_tracking", "tensorboard"]})
    )
    args = parse([str(arguments)])
    assert isinstance(args, TrainingArguments)
    assert get_reporting_integration_callbacks(args.report_to) == [
        hf_tracking.TrackingCallback,
        TensorBoardCallback,
    ]


@pytest.mark.slow
def test_report_to_hf_tracking_with_tensorboard_from_the_command_line(tmp_path):
    """The Trainer guide's command line: ``HF_TRACKING_BACKENDS=tensorboard ... --report_to
    hf_tracking``, in a script that never imports hf_tracking."""
    command = [sys.executable, str(ROOT / "tests" / "support" / "report_to_script.py")]
    command += ["--output_dir", str(tmp_path / "out"), "--report_to", "hf_tracking"]
    command += ["--max_steps", "4", "--logging_steps", "2", "--per_device_train_batch_size", "4"]
    command += ["--use_cpu", "--save_strategy", "no", "--disable_tqdm", "true"]
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "HF_TRACKING_BACKENDS": "tensorboard",
    }
    result = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-5000:]
    (path,) = (tmp_path / "experiments").glob("*_summary.json")
    summary = strict_json(path)
    assert [report["name"] for report in summary["backends"]] == ["local", "tensorboard"]
    rows = [row for row in metrics_rows(summary["run_dir"]) if row["event"] == "train"]
    assert [row["time/gradient_steps"] for row in rows] == [2, 4]
    points, _ = read_scalars(Path(summary["run_dir"]) / "tensorboard")
    assert [step for step, _ in points["train/loss"]] == [2, 4]
