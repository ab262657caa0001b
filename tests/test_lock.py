"""One writer per run directory: two real processes, a kill -9, two stores in one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from hf_tracking.backends.lock import RunDirLocked
from tests.support.harness import tally_report
from tests.support.runs import metrics_rows
from tests.support.stores import config, run_info

ROOT = Path(__file__).resolve().parents[1]


def first_session(tmp_path: Path, steps: int = 3) -> Path:
    tracker = ExperimentTracker(
        config(tmp_path, experiment_name="shared"), backends=[LocalRunStore()]
    )
    for _ in range(steps):
        tracker.log_train_step(loss=0.5, tokens=1)
    tracker.finish()
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(tracker.state_dict()))
    return state_path


def writer(tmp_path: Path, state_path: Path, rows: int, loss: float, hold: bool):
    command = [
        sys.executable,
        str(ROOT / "tests" / "support" / "resume_writer.py"),
        str(tmp_path),
        str(state_path),
        str(rows),
        str(loss),
    ]
    return subprocess.Popen(
        command + (["--hold"] if hold else []),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def read_rows(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if '"event": "resume"' not in line]


def local_report(summary_path: Path) -> dict:
    summary = json.loads(summary_path.read_text())
    return next(report for report in summary["backends"] if report["name"] == "local")


@pytest.mark.slow
def test_a_second_process_resuming_a_held_run_goes_on_in_a_run_of_its_own(tmp_path):
    """Two processes resume one run at once: the holder keeps the run; the second goes on in a
    sibling run (the run's rows up to the resume, then its own), says so, loses nothing, and
    finishing last writes its own summary, never the holder's."""
    state_path = first_session(tmp_path)
    holder = writer(tmp_path, state_path, 3000, 1.0, hold=True)
    assert holder.stdout.readline().strip() == "ready"
    second = writer(tmp_path, state_path, 3000, 2.0, hold=True)
    assert second.stdout.readline().strip() == "ready"
    # The holder finishes first, the second last.
    (kept_out, _), (forked_out, forked_err) = (
        process.communicate("go\n", timeout=120) for process in (holder, second)
    )
    kept = json.loads(kept_out.splitlines()[-1])
    forked = json.loads(forked_out.splitlines()[-1])
    sibling = tmp_path / f"shared.conflict-{second.pid}"
    assert "goes on in a run of its own" in forked_err
    assert (kept["records_written"], kept["records_lost"], kept["lock"]) == (3000, 0, "released")
    assert (forked["records_written"], forked["records_lost"], forked["error"]) == (3000, 0, None)
    assert (forked["metrics"], forked["rows_copied_on_fork"]) == (str(sibling / "metrics.jsonl"), 3)
    shared, own = read_rows(tmp_path / "shared"), read_rows(sibling)
    for rows, loss in ((shared, 1.0), (own, 2.0)):
        assert [row["time/gradient_steps"] for row in rows] == list(range(1, 3004))
        assert {row["train/loss"] for row in rows[:3]} == {0.5}  # the first session's
        assert {row["train/loss"] for row in rows[3:]} == {loss}
    # Each summary is its own writer's.
    assert local_report(tmp_path / "shared_summary.json")["records_written"] == 3000
    assert local_report(tmp_path / "shared_summary.json")["metrics"].endswith(
        "shared/metrics.jsonl"
    )
    own_summary = json.loads((tmp_path / f"{sibling.name}_summary.json").read_text())
    assert own_summary["run_dir"] == str(sibling) and own_summary["status"] == "finished"
    assert own_summary["totals"]["tokens_seen"] == 3003


@pytest.mark.slow
def test_the_lock_goes_with_the_process(tmp_path):
    """kill -9 of the writer frees the run for the next resume; a finished one too."""
    state_path = first_session(tmp_path)
    holder = writer(tmp_path, state_path, 10, 1.0, hold=True)
    assert holder.stdout.readline().strip() == "ready"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    for loss in (2.0, 3.0):  # after a kill, then after a finish
        resumed = writer(tmp_path, state_path, 10, loss, hold=False)
        out, _ = resumed.communicate(timeout=120)
        report = json.loads(out.splitlines()[-1])
        assert (report["records_written"], report["error"]) == (10, None)


def test_a_second_store_in_the_same_process_is_refused(tmp_path):
    run = run_info(tmp_path / "run")
    first, second = LocalRunStore(), LocalRunStore()
    first.start(run)
    with pytest.raises(RunDirLocked, match="another tracker of this process"):
        second.start(run)
    first.finish("finished", 0)
    second.start(run)
    second.finish("finished", 0)


def test_a_child_forked_during_the_run_does_not_hold_it(tmp_path):
    """A DataLoader worker forked while the run writes, still alive after the run finished:
    a resume of the run gets its local store."""
    tracker = ExperimentTracker(
        config(tmp_path, experiment_name="shared"), backends=[LocalRunStore()]
    )
    tracker.log_train_step(loss=0.5, tokens=1)
    assert tracker.flush()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the worker: waits until the test is done with it
        os.close(write)
        os.read(read, 1)
        os._exit(0)
    os.close(read)
    try:
        tracker.log_train_step(loss=0.5, tokens=1)
        tracker.finish()
        resumed = ExperimentTracker(
            config(tmp_path, experiment_name="shared"), backends=[LocalRunStore()]
        )
        resumed.load_state_dict(tracker.state_dict())
        for _ in range(10):
            resumed.log_train_step(loss=0.25, tokens=1)
        (local,) = json.loads(resumed.finish().read_text())["backends"]
    finally:
        os.close(write)
        os.waitpid(child, 0)
    assert resumed.run_dir == tracker.run_dir  # the run itself, not a sibling run of its own
    in_file = [row for row in metrics_rows(resumed.run_dir) if row.get("train/loss") == 0.25]
    tally = tally_report("a child forked during the run, then a resume", 10, len(in_file), local)
    assert tally.records_lost_silently == 0
    assert (local["error"], local["records_written"], local["records_lost"]) == (None, 10, 0)
