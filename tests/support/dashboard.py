"""Real runs for the dashboard tests, written by ExperimentTracker with the local store only."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import hf_tracking
from hf_tracking.backends.local import LocalRunStore


def run_config(output_dir: Path, name: str, **fields: Any) -> hf_tracking.ExperimentConfig:
    settings = {
        "experiment_name": name,
        "output_dir": str(output_dir),
        "wandb_mode": "disabled",
        "vocab_size": 64,
        "d_model": 32,
        "num_layers": 2,
        "num_heads": 2,
        "seq_length": 16,
        "batch_size": 4,
        "num_iterations": 1000,
        "log_every_steps": 1,
        "track_memory": False,
        **fields,
    }
    return hf_tracking.ExperimentConfig(**settings)


def loss_at(step: int, scale: float = 1.0) -> float:
    return scale * (2.0 + 3.0 * math.exp(-step / 40)) + 0.05 * math.sin(step)


def train(tracker: Any, first: int, last: int, scale: float = 1.0, every_val: int = 10) -> None:
    """Steps ``first``..``last - 1`` of a made-up loss curve, with a validation and a checkpoint
    every ``every_val`` steps."""
    for step in range(first, last):
        tracker.log_train_step(
            loss=loss_at(step, scale), learning_rate=1e-3, grad_norm=1.0, tokens=64, iteration=step
        )
        if step % every_val == every_val - 1:
            with tracker.validation():
                tracker.log_validation(val_loss=loss_at(step, scale) + 0.1, num_batches=1)
            tracker.log_checkpoint(f"{tracker.config.output_dir}/ck-{step}", is_best=True)


def finished_run(
    output_dir: Path,
    name: str,
    steps: int = 60,
    resume_at: int | None = None,
    scale: float = 1.0,
    **fields: Any,
) -> Path:
    """A finished run; with ``resume_at`` it is stopped there and resumed from its state."""
    config = run_config(output_dir, name, num_iterations=steps, **fields)
    tracker = hf_tracking.ExperimentTracker(config, backends=[LocalRunStore()])
    stop = steps if resume_at is None else resume_at
    train(tracker, 0, stop, scale=scale)
    state = tracker.state_dict()
    tracker.finish(wait=True)
    if resume_at is not None:
        tracker = hf_tracking.ExperimentTracker(config, backends=[LocalRunStore()])
        tracker.load_state_dict(state)
        train(tracker, resume_at, steps, scale=scale)
        tracker.finish(wait=True)
    return output_dir / name


class LiveRun:
    """A run still training on a background thread: a step every ``interval`` seconds until
    :meth:`stop` (or ``max_steps``), so its ``metrics.jsonl`` grows while a test reads it."""

    def __init__(self, output_dir: Path, name: str, interval: float = 0.05, max_steps: int = 5000):
        self.config = run_config(output_dir, name, num_iterations=max_steps, tags=["live"])
        self.tracker = hf_tracking.ExperimentTracker(self.config, backends=[LocalRunStore()])
        self.interval = interval
        self.max_steps = max_steps
        self.steps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while self.steps < self.max_steps and not self._stop.is_set():
            train(self.tracker, self.steps, self.steps + 1, scale=1.2)
            self.steps += 1
            time.sleep(self.interval)

    def start(self, first_steps: int = 20) -> LiveRun:
        train(self.tracker, 0, first_steps, scale=1.2)
        self.steps = first_steps
        self.tracker.flush()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.tracker.finish(wait=True)


def seed_run(
    output_dir: Path,
    name: str,
    seed: int,
    steps: int = 40,
    nan_at: int | None = None,
    **fields: Any,
) -> Path:
    """A finished run of one config with ``seed`` in its config (as a Trainer's would be), its
    loss scaled a little by the seed; with ``nan_at``, a non-finite loss there (a health alert)."""
    config = run_config(output_dir, name, num_iterations=steps, **fields)
    tracker = hf_tracking.ExperimentTracker(
        config, backends=[LocalRunStore()], extra_config={"seed": seed}
    )
    scale = 1.0 + 0.04 * seed
    first = 0
    if nan_at is not None:
        train(tracker, 0, nan_at, scale=scale)
        tracker.log_train_step(
            loss=float("nan"), learning_rate=1e-3, grad_norm=1.0, tokens=64, iteration=nan_at
        )
        first = nan_at + 1
    train(tracker, first, steps, scale=scale)
    tracker.finish(wait=True)
    return output_dir / name
