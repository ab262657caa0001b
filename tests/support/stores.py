"""Small helpers for tests of the local run store: a tiny config, a RunInfo, line counts."""

from __future__ import annotations

import json
from pathlib import Path

from hf_tracking import ExperimentConfig
from hf_tracking.backends.base import RunInfo

SMALL = {"vocab_size": 64, "d_model": 32, "num_layers": 2, "num_heads": 2, "seq_length": 16}


def config(output_dir, **overrides) -> ExperimentConfig:
    settings = {
        **SMALL,
        "output_dir": str(output_dir),
        "experiment_name": "run",
        "log_every_steps": 1,
        "wandb_mode": "disabled",
        "track_memory": False,
        **overrides,
    }
    return ExperimentConfig(**settings)


def run_info(run_dir: Path) -> RunInfo:
    return RunInfo(
        name="run",
        run_dir=str(run_dir),
        output_dir=str(run_dir.parent),
        project="p",
        entity=None,
        tags=[],
        notes="",
        config={},
    )


def file_lines(path: Path) -> tuple[int, int]:
    """(whole JSON lines, lines that are not JSON) of a JSONL file; a torn tail counts as bad."""
    whole = bad = 0
    for line in path.read_bytes().split(b"\n"):
        if not line:
            continue
        try:
            json.loads(line)
            whole += 1
        except ValueError:
            bad += 1
    return whole, bad
