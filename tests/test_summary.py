"""The summary is built from an immutable snapshot, on the writer thread."""

from __future__ import annotations

import dataclasses
import math
import tempfile
import threading
from pathlib import Path

import pytest

import hf_tracking.session
from hf_tracking import ExperimentTracker, build_summary
from hf_tracking.backends import LocalRunStore
from tests.support.configs import FakeClock, small_config
from tests.support.runs import strict_json


def tracker_with_steps(tmp_path, steps: int = 4) -> ExperimentTracker:
    clock = FakeClock(10.0)
    tracker = ExperimentTracker(
        small_config(tmp_path, num_iterations=100), backends=[LocalRunStore()], clock=clock
    )
    for _ in range(steps):
        clock.now += 0.5
        tracker.log_train_step(loss=2.0, tokens=10)
    return tracker


def test_a_snapshot_is_a_frozen_copy(tmp_path):
    tracker = tracker_with_steps(tmp_path)
    snapshot = tracker.snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.gradient_steps = 0
    tracker.log_train_step(loss=1.0, tokens=10)
    tracker.log_validation(1.5)
    summary = build_summary(snapshot)
    assert summary["totals"]["gradient_steps"] == 4
    assert summary["totals"]["tokens_seen"] == 40
    assert summary["totals"]["evaluations"] == 0
    assert summary["best"] == {}
    tracker.finish()


def test_the_summary_of_a_snapshot(tmp_path):
    tracker = tracker_with_steps(tmp_path)
    tracker.log_validation(1.25, eval_seconds=1.0)
    summary = build_summary(tracker.snapshot())
    assert summary["status"] == "running"
    assert summary["totals"]["planned_steps"] == 100
    assert summary["time_ledger_hours"]["eval"] == pytest.approx(1.0 / 3600)
    assert summary["best"]["val"] == {"loss": 1.25, "perplexity": math.exp(1.25), "step": 4}
    assert summary["final"]["train/loss"] == 2.0
    assert "wandb" not in summary
    assert summary["backends"][0]["name"] == "local"
    tracker.finish()


def test_checkpoint_summaries_are_built_on_the_writer_thread(tmp_path, monkeypatch):
    threads = []
    real = hf_tracking.session.build_summary

    def observed(snapshot):
        threads.append(threading.current_thread().name)
        return real(snapshot)

    monkeypatch.setattr(hf_tracking.session, "build_summary", observed)
    tracker = tracker_with_steps(tmp_path)
    tracker.log_checkpoint(tmp_path / "checkpoint-4")
    tracker.flush()
    assert threads == ["hf_tracking-writer"]
    written = strict_json(tracker.summary_path)
    # A kill mid-write would leave its temporary file in the run directory, never beside it.
    with monkeypatch.context() as patch:
        made_in = []
        mkstemp = tempfile.mkstemp
        patch.setattr(tempfile, "mkstemp", lambda **kw: made_in.append(kw["dir"]) or mkstemp(**kw))
        tracker.log_checkpoint(tmp_path / "checkpoint-5")
        tracker.flush()
    assert [Path(directory) for directory in made_in] == [tracker.run_dir]
    assert written["totals"]["checkpoints"] == 1
    assert written["status"] == "running"
    tracker.finish()
    assert strict_json(tracker.summary_path)["status"] == "finished"


def test_a_summary_written_soon_after_a_checkpoint_holds_its_measured_size(tmp_path, monkeypatch):
    """The snapshot is taken on the training thread before the writer thread measures the
    checkpoint; the summary built after the measurement still shows its size."""
    import hf_tracking.run_events

    measured = threading.Event()
    real_size = hf_tracking.run_events.path_size

    def slow_size(path):
        assert not measured.wait(0.3)  # the training thread has taken its snapshot by now
        measured.set()
        return real_size(path)

    monkeypatch.setattr(hf_tracking.run_events, "path_size", slow_size)
    checkpoint = tmp_path / "checkpoint-4"
    checkpoint.mkdir()
    (checkpoint / "weights.bin").write_bytes(b"x" * 1234)
    tracker = tracker_with_steps(tmp_path)
    tracker.log_checkpoint(checkpoint)
    tracker.flush()
    (entry,) = strict_json(tracker.summary_path)["checkpoints"]
    assert entry["size_bytes"] == 1234
    tracker.finish()
