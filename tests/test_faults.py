"""Fault-injection harness: signals during ``finish()``, stores whose writes block or fail with
ENOSPC, concurrent writers of one run and ``kill -9`` at random moments, in bounded loops.

Each scenario prints its figures (run with ``-s``): trials, records logged, records in the file,
records reported lost, records lost silently (neither written nor reported), torn lines (before
the end of a file), torn last lines, and processes that did not exit within their bound.
``HF_TRACKING_FAULT_TRIALS=N`` runs N times the default trials; ``HF_TRACKING_FAULT_REPORT=FILE``
appends the figures to FILE as JSON lines.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading

import pytest

import hf_tracking.backends.local as local_module
from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from tests.support.faults import BlockingLocalStore
from tests.support.harness import (
    ROOT,
    TRIALS_SCALE,
    Tally,
    child,
    read_line,
    read_summary,
    scan_jsonl,
    wait_bounded,
)
from tests.support.stores import config

EXIT_BOUND = 30.0


def local_report(summary: dict | None) -> dict:
    if summary is None:
        return {}
    return next((r for r in summary.get("backends", []) if r["name"] == "local"), {})


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_during_finish(tmp_path, signum):
    tally = Tally(f"{signal.Signals(signum).name} during finish()")
    rng = random.Random(int(signum))
    records = 20000
    statuses = []
    for trial in range(2 * TRIALS_SCALE):
        output = tmp_path / f"trial{trial}"
        process = child("finish", output, records)
        if read_line(process, EXIT_BOUND) != "finishing":
            tally.not_exited_in_bound += 1
            process.kill()
            continue
        threading.Event().wait(rng.uniform(0.0, 0.05))
        if process.poll() is None:
            process.send_signal(signum)
        wait_bounded(process, EXIT_BOUND, tally)
        rows, torn, tail = scan_jsonl(output / "fault" / "metrics.jsonl")
        summary = read_summary(output / "fault_summary.json")
        local = local_report(summary)
        # A drain past backend_finish_timeout leaves the rest counted as dropped by the writer.
        reported = local.get("records_lost", 0) + local.get("records_dropped_writer_stalled", 0)
        tally.add(records, len(rows), reported, torn, tail)
        statuses.append(summary["status"] if summary else "no summary")
        tally.notes.append(f"status {statuses[-1]}, exit {process.returncode}")
    tally.report()
    assert tally.not_exited_in_bound == tally.torn_lines == tally.records_lost_silently == 0
    assert set(statuses) <= {"interrupted"}


@pytest.mark.slow
def test_sigterm_with_a_stalled_writer(tmp_path):
    """A local store whose writes block (a hung filesystem): training goes past the writer's
    high-water mark and spill, and SIGTERM still ends the process within its bound."""
    tally = Tally("SIGTERM with a stalled writer")
    for trial in range(2 * TRIALS_SCALE):
        output = tmp_path / f"trial{trial}"
        process = child("stall", output, 35000)
        ready = read_line(process, EXIT_BOUND)
        if ready != "ready":
            tally.not_exited_in_bound += 1  # training itself blocked on the writer
            process.kill()
            process.communicate()
            continue
        process.send_signal(signal.SIGTERM)
        wait_bounded(process, EXIT_BOUND, tally)
        summary = read_summary(output / "fault_summary.json")
        local = local_report(summary)
        logged = summary["totals"]["gradient_steps"] if summary else 0
        rows, torn, tail = scan_jsonl(output / "fault" / "metrics.jsonl")
        reported = local.get("records_lost", 0) + local.get("records_dropped_writer_stalled", 0)
        tally.add(logged, len(rows), reported, torn, tail)
        tally.notes.append(f"exit {process.returncode}")
        assert process.returncode == -signal.SIGTERM
        assert summary is not None and summary["status"] == "interrupted"
    tally.report()
    assert tally.not_exited_in_bound == tally.records_lost_silently == tally.torn_lines == 0


def test_enospc_at_random_writes(tmp_path, monkeypatch):
    """Writes that fail with ENOSPC after a random part of the batch reached the disk."""
    tally = Tally("ENOSPC at random writes")
    rng = random.Random(28)
    real_write_all = local_module.write_all

    def sometimes_full(fd, data):
        if rng.random() < 0.3:
            os.write(fd, data[: rng.randrange(len(data))])
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_all(fd, data)

    monkeypatch.setattr(local_module, "write_all", sometimes_full)
    for trial in range(5 * TRIALS_SCALE):
        records = rng.randrange(100, 400)
        tracker = ExperimentTracker(config(tmp_path / f"trial{trial}"), backends=[LocalRunStore()])
        for _ in range(records):
            tracker.log_train_step(loss=1.0, tokens=1)
            if rng.random() < 0.05:
                tracker.flush()
        local = local_report(json.loads(tracker.finish().read_text()))
        rows, torn, tail = scan_jsonl(tracker.run_dir / "metrics.jsonl")
        tally.add(records, len(rows), local["records_lost"], torn, tail)
        assert len(rows) == local["records_written"]
    tally.report()
    assert tally.records_lost_silently == tally.torn_lines == tally.torn_tails == 0


def test_writes_that_block_at_random_points(tmp_path, monkeypatch):
    """The training thread never waits past ``writer_block_timeout`` (plus the drain bound at
    finish), wherever the store starts to block."""
    import hf_tracking.dispatch

    monkeypatch.setattr(hf_tracking.dispatch, "HIGH_WATER", 200)
    monkeypatch.setattr(hf_tracking.dispatch, "SPILL", 300)
    tally = Tally("writes that block at random points")
    rng = random.Random(3)
    for trial in range(4 * TRIALS_SCALE):
        records = rng.randrange(300, 2000)
        store = BlockingLocalStore(block_on=rng.randrange(1, 6))
        tracker = ExperimentTracker(
            config(
                tmp_path / f"trial{trial}", writer_block_timeout=0.1, backend_finish_timeout=0.3
            ),
            backends=[store],
        )
        done: dict = {}

        def train(tracker=tracker, records=records, done=done) -> None:
            for _ in range(records):
                tracker.log_train_step(loss=1.0, tokens=1)
                if rng.random() < 0.01:
                    tracker.flush(timeout=0.05)
            done["summary"] = tracker.finish()

        thread = threading.Thread(target=train, daemon=True)
        thread.start()
        thread.join(EXIT_BOUND)
        store.release.set()
        if thread.is_alive():
            tally.not_exited_in_bound += 1
            tally.add(records, 0, 0)
            continue
        local = local_report(json.loads(done["summary"].read_text()))
        _, torn, _ = scan_jsonl(tracker.run_dir / "metrics.jsonl")
        reported = local["records_lost"] + local["records_dropped_writer_stalled"]
        tally.add(records, local["records_written"], reported, torn)
    tally.report()
    assert tally.not_exited_in_bound == tally.records_lost_silently == tally.torn_lines == 0


@pytest.mark.slow
def test_concurrent_resumes_of_one_run(tmp_path):
    """Three processes resume one run at once: one writer per run directory; each other goes on
    in a sibling run of its own (the run's rows up to the resume, then its own) or, starting
    after the holder finished, cuts the rows past the resume and says so. Nothing is lost."""
    tally = Tally("concurrent resumes of one run")
    writers, rows_each = 3, 1000
    for trial in range(2 * TRIALS_SCALE):
        output = tmp_path / f"trial{trial}"
        first = ExperimentTracker(
            config(output, experiment_name="shared"), backends=[LocalRunStore()]
        )
        for _ in range(3):
            first.log_train_step(loss=0.5, tokens=1)
        first.finish()
        state = output / "state.json"
        state.write_text(json.dumps(first.state_dict()))
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "tests" / "support" / "resume_writer.py"),
                    str(output),
                    str(state),
                    str(rows_each),
                    str(float(index + 1)),
                ],
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            for index in range(writers)
        ]
        reports = []
        for process in processes:
            try:
                out, _ = process.communicate(timeout=EXIT_BOUND)
                reports.append(json.loads(out.splitlines()[-1]))
            except subprocess.TimeoutExpired:
                tally.not_exited_in_bound += 1
                process.kill()
                process.communicate()
        written = sum(report["records_written"] for report in reports)
        lost = sum(report["records_lost"] for report in reports)
        cut = sum(report["rows_cut_on_resume"] or 0 for report in reports)
        in_files, torn, tail = 0, 0, 0
        run_dirs = sorted(path for path in output.glob("shared*") if path.is_dir())
        for run_dir in run_dirs:  # the run and the siblings it forked into
            rows, torn_here, tail_here = scan_jsonl(run_dir / "metrics.jsonl")
            rows = [row for row in rows if row.get("event") != "resume"]  # a session's mark
            torn, tail, in_files = torn + torn_here, tail + tail_here, in_files + len(rows) - 3
            assert [row["time/gradient_steps"] for row in rows] == list(range(1, rows_each + 4))
            assert len({row["train/loss"] for row in rows[3:]}) == 1  # one writer's rows, whole
        tally.add(writers * rows_each, in_files, lost + cut, torn, tail)
        tally.notes.append(f"{len(run_dirs) - 1} of {writers} in a run of their own")
        assert lost == 0 and all(report["error"] is None for report in reports)
        assert written - cut == in_files == rows_each * len(run_dirs)
    tally.report()
    assert tally.not_exited_in_bound == tally.records_lost_silently == tally.torn_lines == 0


@pytest.mark.slow
def test_kill_9_at_random_moments(tmp_path):
    """No torn line before the end of the file, no gap in the steps, a summary that parses."""
    tally = Tally("kill -9 at random moments")
    rng = random.Random(9)
    for trial in range(4 * TRIALS_SCALE):
        output = tmp_path / f"trial{trial}"
        process = child("loop", output, 0)
        if read_line(process, EXIT_BOUND) != "ready":
            tally.not_exited_in_bound += 1
            process.kill()
            process.communicate()
            continue
        threading.Event().wait(rng.uniform(0.0, 0.5))
        process.kill()
        wait_bounded(process, EXIT_BOUND, tally)
        rows, torn, tail = scan_jsonl(output / "fault" / "metrics.jsonl")
        steps = [row["time/gradient_steps"] for row in rows if row["event"] == "train"]
        logged = max(steps, default=0)
        tally.add(logged, len(set(steps)), 0, torn, tail)
        summary_path = output / "fault_summary.json"
        if summary_path.exists():
            assert read_summary(summary_path)["status"] == "running"
        # A kill between a temporary file's creation and its rename leaves it (hidden, never
        # read); the run store removes its own at the next start.
        stale = len(list(output.rglob(".*.tmp")))
        tally.notes.append(f"stale temporary files: {stale}")
    tally.report()
    assert tally.not_exited_in_bound == tally.records_lost_silently == tally.torn_lines == 0
