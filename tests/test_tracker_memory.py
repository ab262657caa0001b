"""A tracker's memory stays bounded however long the run: its history and the process's RSS."""

from __future__ import annotations

import resource

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from tests.support.runs import metrics_rows
from tests.test_tracker import seed_config


def test_history_is_bounded(tmp_path):
    config = seed_config(
        tmp_path,
        wandb_mode="disabled",
        log_every_steps=1,
        max_history=50,
        gradient_accumulation_steps=1,
    )
    tracker = ExperimentTracker(config, backends=[LocalRunStore()])
    for iteration in range(5000):
        tracker.log_train_step(loss=1.0, tokens=1, iteration=iteration)
    assert len(tracker.history) < 50
    assert len(tracker.step_seconds) < 50
    assert tracker.history.rows()[0]["time/gradient_steps"] == 1
    tracker.finish()
    assert len(metrics_rows(tracker.run_dir)) == 5000


def test_memory_stays_flat_over_many_records(tmp_path):
    config = seed_config(
        tmp_path,
        wandb_mode="disabled",
        log_every_steps=1,
        gradient_accumulation_steps=1,
        track_memory=False,
        max_history=1000,
    )
    tracker = ExperimentTracker(config, backends=[LocalRunStore()])
    for iteration in range(20_000):
        tracker.log_train_step(loss=1.0, tokens=1, iteration=iteration)
    tracker.flush()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for iteration in range(20_000, 60_000):
        tracker.log_train_step(loss=1.0, tokens=1, iteration=iteration)
    tracker.finish()
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert growth_mb < 50
