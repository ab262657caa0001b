"""The writer thread against a stalled local store: training never waits past its bound."""

from __future__ import annotations

import json
import threading
import time

import pytest

import hf_tracking.dispatch
from hf_tracking import ExperimentConfig, ExperimentTracker
from hf_tracking.backends.base import Backend
from hf_tracking.backends.local import LocalRunStore
from hf_tracking.catalog import STEP_KEY
from tests.support.faults import BlockingLocalStore

SMALL = {"vocab_size": 64, "d_model": 32, "num_layers": 2, "num_heads": 2, "seq_length": 16}


@pytest.fixture
def small_queue(monkeypatch):
    monkeypatch.setattr(hf_tracking.dispatch, "HIGH_WATER", 100)
    monkeypatch.setattr(hf_tracking.dispatch, "SPILL", 200)


def stalled_run(tmp_path, records: int):
    config = ExperimentConfig(
        **SMALL,
        output_dir=str(tmp_path),
        log_every_steps=1,
        wandb_mode="disabled",
        track_memory=False,
        writer_block_timeout=0.2,
        backend_finish_timeout=0.5,
    )
    store = BlockingLocalStore(block_on=1)
    tracker = ExperimentTracker(config, backends=[store])
    outcome: dict = {}

    def train() -> None:
        for _ in range(records):
            tracker.log_train_step(loss=1.0, tokens=1)
        outcome["waiting_builds"] = len(tracker.jobs.waiting)
        outcome["summary"] = tracker.finish(wait=True)

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    thread.join(30)
    store.release.set()
    assert not thread.is_alive(), "training blocked on a stalled writer"
    return store, outcome


def test_a_stalled_writer_costs_one_bounded_wait_then_drops_and_counts(tmp_path, small_queue):
    records = 2000
    store, outcome = stalled_run(tmp_path, records)
    assert store.blocked.is_set()
    summary = json.loads(outcome["summary"].read_text())
    (local,) = summary["backends"]
    # Everything logged is accounted for: written, lost in the write that never returned, or
    # dropped by the stalled writer (held in the spill first, then refused).
    assert local["records_written"] == 0
    assert local["records_dropped_writer_stalled"] > records - 300 - 1000
    assert (
        local["records_written"] + local["records_lost"] + local["records_dropped_writer_stalled"]
        == records
    )
    assert local["status"].startswith("writer stalled")
    assert summary["status"] == "finished"


def test_a_stalled_writer_leaves_a_bounded_number_of_rows_to_build(tmp_path, small_queue):
    """The training thread builds the waiting rows itself past BUILD_AHEAD: with the writer
    stuck, the builds held stay bounded, and rows the writer will never take are still built."""
    from hf_tracking.engine.jobs import BUILD_AHEAD

    store, outcome = stalled_run(tmp_path, 2000)
    tracker_jobs_left = outcome["waiting_builds"]
    assert tracker_jobs_left <= BUILD_AHEAD
    assert store.blocked.is_set()


def test_finish_with_a_stalled_writer_is_bounded(tmp_path, small_queue):
    _, outcome = stalled_run(tmp_path, 50)  # below the high-water mark: no wait at all
    summary = json.loads(outcome["summary"].read_text())
    (local,) = summary["backends"]
    assert local["records_lost"] + local["records_dropped_writer_stalled"] == 50
    assert local["status"] == "writer stalled: not finished within 0.5 s"


def test_a_slow_writer_still_gets_every_record(tmp_path, small_queue):
    """Back-pressure, not dropping, while the writer moves: nothing is lost."""

    class SlowStore(BlockingLocalStore):
        def log_batch(self, records):
            time.sleep(0.01)
            super(BlockingLocalStore, self).log_batch(records)

    config = ExperimentConfig(
        **SMALL,
        output_dir=str(tmp_path),
        log_every_steps=1,
        wandb_mode="disabled",
        track_memory=False,
        writer_block_timeout=5,
    )
    tracker = ExperimentTracker(config, backends=[SlowStore()])
    for _ in range(3000):
        tracker.log_train_step(loss=1.0, tokens=1)
    (local,) = json.loads(tracker.finish(wait=True).read_text())["backends"]
    assert (local["records_written"], local["records_dropped_writer_stalled"]) == (3000, 0)


class BatchRecorder(Backend):
    """A remote backend that keeps the training steps of each batch it gets, one batch a minute
    at most."""

    name = "batch_recorder"
    batch_seconds = 60.0

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def log_batch(self, records):
        steps = [record.values[STEP_KEY] for record in records if record.kind == "train"]
        if steps:
            self.batches.append(steps)


def test_a_backend_batching_by_time_gets_held_records_at_a_flush_and_at_the_end(tmp_path):
    config = ExperimentConfig(
        **SMALL, output_dir=str(tmp_path), log_every_steps=1, wandb_mode="disabled"
    )
    recorder = BatchRecorder()
    tracker = ExperimentTracker(config, backends=[LocalRunStore(), recorder])
    tracker.log_train_step(loss=1.0, tokens=1)
    assert tracker.flush()
    for _ in range(5):
        tracker.log_train_step(loss=1.0, tokens=1)
    time.sleep(0.3)  # the writer has handed them on: held, since the first batch is recent
    assert recorder.batches == [[1]]
    assert tracker.flush()
    assert recorder.batches == [[1], [2, 3, 4, 5, 6]]
    for _ in range(3):
        tracker.log_train_step(loss=1.0, tokens=1)
    tracker.finish(wait=True)
    assert recorder.batches == [[1], [2, 3, 4, 5, 6], [7, 8, 9]]
