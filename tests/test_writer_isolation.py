"""The local store is the source of truth: no other backend can stop, delay or change its writes,
and every backend's trouble is counted in the summary and said on stderr."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from tests.support.faults import BlockingBackend, ExitingOnLog, MutatingBackend
from tests.support.harness import tally_report
from tests.support.runs import metrics_rows
from tests.support.stores import config

RECORDS = 200


def reports(summary_path: Path) -> dict[str, dict]:
    summary = json.loads(summary_path.read_text())
    return {report["name"]: report for report in summary["backends"]}


def log(tracker: ExperimentTracker, records: int = RECORDS) -> None:
    """Ten records at a time, the writer taking each ten as a batch of its own."""
    for step in range(records):
        tracker.log_train_step(loss=3.0 - step / records, tokens=8)
        if step % 10 == 9:
            time.sleep(0.03)


def train_steps(tracker: ExperimentTracker) -> list[int]:
    return [
        r["time/gradient_steps"] for r in metrics_rows(tracker.run_dir) if r["event"] == "train"
    ]


@pytest.mark.parametrize("remote", [False, True], ids=["writer_thread", "own_thread"])
def test_a_backend_raising_system_exit_costs_the_local_store_nothing(tmp_path, caplog, remote):
    exiting = ExitingOnLog(remote=remote, fail_on=50)
    tracker = ExperimentTracker(
        config(tmp_path, backend_finish_timeout=5), backends=[LocalRunStore(), exiting]
    )
    log(tracker)
    by_name = reports(tracker.finish(wait=True))
    thread = "on its own thread" if remote else "on the writer thread"
    local = tally_report(
        f"SystemExit in a backend {thread}: local store",
        RECORDS,
        len(train_steps(tracker)),
        by_name["local"],
    )
    failed = by_name["exiting"]
    tally_report(
        f"SystemExit in a backend {thread}: that backend",
        RECORDS,
        failed["records_written"],
        failed,
    )
    assert local.records_lost_silently == 0
    assert train_steps(tracker) == list(range(1, RECORDS + 1))
    assert by_name["local"]["records_written"] == RECORDS
    assert failed["status"] == "failed" and failed["error"] == "log: SystemExit: 3"
    assert failed["records_written"] == 49
    assert failed["records_written"] + failed["records_lost"] == RECORDS
    assert "backend 'exiting' failed in log (SystemExit: 3)" in caplog.text


def test_a_blocked_backend_neither_delays_nor_drops_the_local_stores_writes(tmp_path, caplog):
    blocking = BlockingBackend(block_on=50)
    tracker = ExperimentTracker(
        config(tmp_path, writer_block_timeout=0.2, backend_finish_timeout=0.5),
        backends=[LocalRunStore(), blocking],
    )
    try:
        log(tracker)
        started = time.monotonic()
        by_name = reports(tracker.finish(wait=True))
        assert time.monotonic() - started < 5
    finally:
        blocking.release.set()
    local = by_name["local"]
    tally_report(
        "a backend blocked beside the local store: local store",
        RECORDS,
        len(train_steps(tracker)),
        local,
    )
    stuck = by_name["blocking"]
    tally = tally_report(
        "a backend blocked beside the local store: that backend",
        RECORDS,
        stuck["records_written"],
        stuck,
    )
    assert tally.records_lost_silently == 0
    assert train_steps(tracker) == list(range(1, RECORDS + 1))
    assert (local["records_written"], local["records_lost"]) == (RECORDS, 0)
    assert local["records_dropped_writer_stalled"] == 0
    assert stuck["status"] == "did not finish within 0.5 s"
    assert stuck["records_written"] == 49
    assert stuck["records_written"] + stuck["records_lost"] + stuck["records_dropped"] == RECORDS
    assert "151 records it had not written are counted lost" in caplog.text


def test_each_backend_gets_the_record_as_built(tmp_path):
    pytest.importorskip("tensorboardX")
    pytest.importorskip("tensorboard")
    from hf_tracking.backends.tensorboard import TensorBoardBackend
    from tests.support.backend_readers import as_float32, read_scalars
    from tests.support.backend_runs import expected_points

    tracker = ExperimentTracker(
        config(tmp_path), backends=[LocalRunStore(), MutatingBackend(), TensorBoardBackend()]
    )
    log(tracker, 60)
    by_name = reports(tracker.finish(wait=True))
    assert by_name["mutating"]["records_written"] == 60
    rows = metrics_rows(tracker.run_dir)
    assert [r["train/loss"] for r in rows] == [3.0 - step / 60 for step in range(60)]
    read, _ = read_scalars(Path(tracker.run_dir) / "tensorboard")
    expected = as_float32(expected_points(tracker.run_dir))
    as_built = sum(point in read.get("train/loss", []) for point in expected["train/loss"])
    tally_report(
        "a backend that changes its records: TensorBoard beside it",
        60,
        as_built,
        by_name["tensorboard"],
    )
    assert read == expected


def test_tensorboard_on_a_full_disk_reports_its_error_and_counts(tmp_path, monkeypatch):
    """The disk fills after a few batches: the error and the counts are TensorBoard's own, and
    finish() does not wait out the finish timeout."""
    pytest.importorskip("tensorboardX")
    pytest.importorskip("tensorboard")
    import errno

    from hf_tracking.backends import tensorboard_events
    from hf_tracking.backends.tensorboard import TensorBoardBackend
    from tests.support.backend_readers import read_scalars

    real_write_all, writes = tensorboard_events.write_all, []

    def filling_disk(fd: int, data: bytes) -> None:
        writes.append(len(data))
        if len(writes) > 4:  # the file's header and three batches fit
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_all(fd, data)

    monkeypatch.setattr(tensorboard_events, "write_all", filling_disk)
    tracker = ExperimentTracker(
        config(tmp_path, backend_finish_timeout=60),
        backends=[LocalRunStore(), TensorBoardBackend()],
    )
    for step in range(60):
        tracker.log_train_step(loss=1.0, tokens=8)
        if step % 10 == 9:
            tracker.flush()
    started = time.monotonic()
    by_name = reports(tracker.finish(wait=True))
    assert time.monotonic() - started < 10
    board = by_name["tensorboard"]
    assert board["status"] == "failed"
    assert board["error"] == "log: OSError: [Errno 28] No space left on device"
    read, _ = read_scalars(Path(tracker.run_dir) / "tensorboard")
    tally = tally_report("TensorBoard on a full disk", 60, len(read["train/loss"]), board)
    assert tally.records_lost_silently == 0
    assert 0 < board["records_written"] == len(read["train/loss"]) < 60
    assert board["records_written"] + board["records_lost"] == 60
    assert by_name["local"]["records_written"] == 60
