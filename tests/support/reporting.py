"""Runs written by a real ExperimentTracker on a fake clock, and checks that a PNG shows a plot."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from hf_tracking import ExperimentTracker
from hf_tracking.backends.local import LocalRunStore


def run_config(
    output_dir: str | Path, name: str, learning_rate: float, steps: int, **fields: object
) -> dict[str, object]:
    """The config of a small local run logging every 5 steps (W&B off), with ``fields`` added."""
    return {
        "experiment_name": name,
        "output_dir": str(output_dir),
        "wandb_mode": "disabled",
        "learning_rate": learning_rate,
        "num_iterations": steps,
        "log_every_steps": 5,
        "vocab_size": 256,
        "d_model": 32,
        "num_layers": 2,
        "num_heads": 2,
        "seq_length": 16,
        **fields,
    }


def make_run(
    output_dir: str | Path,
    name: str,
    learning_rate: float = 1e-3,
    steps: int = 40,
    track_memory: bool = True,
) -> Path:
    """A finished run with train, val, checkpoint and custom records; returns the summary path."""
    config = run_config(output_dir, name, learning_rate, steps, track_memory=track_memory)
    clock = itertools.count(0.0, 0.25).__next__
    tracker = ExperimentTracker(config, backends=[LocalRunStore()], clock=clock)
    for step in range(steps):
        loss = 1.0 + 4.0 * math.exp(-step * learning_rate / 1e-2)
        schedule = learning_rate * 0.5 * (1 + math.cos(math.pi * step / steps))
        tracker.log_train_step(
            loss, schedule, grad_norm=1.0 / (1 + step), tokens=64, iteration=step
        )
        if (step + 1) % 10 == 0:
            tracker.log_validation(loss + 0.1, eval_seconds=0.5)
        if (step + 1) % 20 == 0:
            tracker.log_checkpoint(Path(output_dir) / f"checkpoint-{step + 1}", seconds=0.25)
    tracker.log_custom_metric("accuracy", 0.5)
    summary = tracker.finish()
    assert summary is not None
    return summary


def assert_plot_image(path: str | Path, min_colors: int = 8) -> None:
    """A valid PNG of a drawn figure: readable, a sensible size, more than a few colours."""
    from PIL import Image

    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width >= 300 and height >= 150, image.size
        colors = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colors is not None and len(colors) >= min_colors, f"{path} looks blank"
    largest = max(count for count, _ in colors)
    assert largest < 0.98 * width * height, f"{path} is nearly a single colour"
