"""The tests' one small-config factory and one fake clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hf_tracking import ExperimentConfig

# A GPT-2 shape small enough for every test (the sizes of tests/support/tiny.py's model).
SMALL_MODEL = {"vocab_size": 64, "d_model": 32, "num_layers": 2, "num_heads": 2, "seq_length": 16}


def small_config(tmp_path: Path, **overrides: Any) -> ExperimentConfig:
    """A config of the small model writing under ``tmp_path/experiments``, logging every step."""
    fields = {**SMALL_MODEL, "output_dir": str(tmp_path / "experiments"), "log_every_steps": 1}
    fields.update(overrides)
    return ExperimentConfig(**fields)


class FakeClock:
    """A clock that stands still until a test moves it: ``clock.now += 1.5``."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
