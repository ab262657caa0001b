"""The local run store: repaired after a failed write, counts that equal the file, a resume on
a full disk (one writer per run directory: tests/test_lock.py)."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import hf_tracking.backends.local as local_module
from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore, WandbBackend
from hf_tracking.backends.base import Record
from tests.support.stores import config, file_lines, run_info


def local_report(summary_path: Path) -> dict:
    summary = json.loads(summary_path.read_text())
    return next(report for report in summary["backends"] if report["name"] == "local")


def test_a_failed_write_is_cut_back_to_the_last_whole_line(tmp_path, monkeypatch, caplog):
    real_write_all = local_module.write_all
    calls = {"n": 0}

    def disk_full_now_and_then(fd, data):
        calls["n"] += 1
        if calls["n"] % 3 == 2:  # half the batch reaches the disk, then ENOSPC
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_all(fd, data)

    monkeypatch.setattr(local_module, "write_all", disk_full_now_and_then)
    tracker = ExperimentTracker(config(tmp_path), backends=[LocalRunStore()])
    with caplog.at_level(logging.WARNING, logger="hf_tracking"):
        for step in range(300):
            tracker.log_train_step(loss=1.0, tokens=1)
            if step % 20 == 19:
                tracker.flush()  # one batch per 20 records
        summary_path = tracker.finish()
    report = local_report(summary_path)
    whole, bad = file_lines(tracker.run_dir / "metrics.jsonl")
    assert bad == 0
    assert whole == report["records_written"]
    assert report["records_written"] + report["records_lost"] == 300
    assert report["records_lost"] > 0 and report["repairs"] > 0
    assert "No space left on device" in report["error"]
    (warning,) = [m for m in caplog.messages if "failed in log" in m]
    assert "counted as lost" in warning and "keeps every record" not in warning


def test_a_torn_tail_left_by_a_crash_is_cut_before_the_resumed_rows(tmp_path):
    first = ExperimentTracker(config(tmp_path), backends=[LocalRunStore()])
    for _ in range(5):
        first.log_train_step(loss=1.0, tokens=1)
    first.finish()
    state = first.state_dict()
    metrics = tmp_path / "run" / "metrics.jsonl"
    with open(metrics, "a") as stream:
        stream.write('{"event": "train", "time/gradient_st')  # kill -9 mid-line
    store = LocalRunStore()
    run = run_info(tmp_path / "run")
    store.start(run)  # not a resume: nothing cut, the tail is repaired all the same
    store.log_batch([Record("train", {"time/gradient_steps": 6})])
    store.finish("finished", 0)
    assert file_lines(metrics) == (6, 0)
    assert state["gradient_steps"] == 5


@contextlib.contextmanager
def small_filesystem(path: Path, size: str):
    """A tmpfs of ``size`` at ``path`` (root only), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    path.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> None:
    """Take what room the disk has left, so nothing more can be written there."""
    with open(disk / "filler", "wb", buffering=0) as filler:
        try:
            while filler.write(b"\0" * 512):
                pass
        except OSError:
            pass


def run_on_small_disk(
    disk: Path, records: int, remount_at: int | None, wandb: bool, full_at_finish: bool = False
):
    backends = [LocalRunStore(), WandbBackend()] if wandb else [LocalRunStore()]
    tracker = ExperimentTracker(
        config(disk / "experiments", wandb_mode="offline" if wandb else "disabled"),
        backends=backends,
    )
    for step in range(records):
        tracker.log_train_step(loss=1.0, learning_rate=1e-3, grad_norm=1.0, tokens=10)
        if step % 100 == 99:
            tracker.flush()
        if step == remount_at:
            subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)
    if full_at_finish:
        tracker.flush()
        fill(disk)
    return tracker, tracker.finish(wait=True)


@pytest.mark.slow
def test_disk_full_then_space_again(tmp_path, monkeypatch, capfd, caplog):
    with small_filesystem(tmp_path / "disk", "300k") as disk:
        monkeypatch.setenv("WANDB_DIR", str(disk))
        tracker, summary_path = run_on_small_disk(disk, 5000, remount_at=2500, wandb=True)
        report = local_report(summary_path)
        whole, bad = file_lines(tracker.run_dir / "metrics.jsonl")
        assert (whole, bad) == (report["records_written"], 0)
        assert report["records_written"] + report["records_lost"] == 5000
        assert report["records_lost"] > 0 and report["records_written"] > 2500
        steps = [
            json.loads(line)["time/gradient_steps"]
            for line in (tracker.run_dir / "metrics.jsonl").read_text().splitlines()
        ]
        assert steps == sorted(steps) and steps[-1] == 5000
        summary = json.loads(summary_path.read_text())
        (wandb,) = [report for report in summary["backends"] if report["name"] == "wandb"]
        assert wandb["records_lost"] + wandb["records_written"] + wandb["records_dropped"] == 5000
    assert "Traceback" not in capfd.readouterr().err  # nor from the W&B process
    warnings = "\n".join(caplog.messages)
    assert warnings.count("backend 'local' failed") == 1
    assert "keeps every record" not in warnings
    assert warnings.count("backend 'wandb' failed") <= 1  # W&B's files are on the full disk too


def test_a_disk_that_stays_full_says_why_there_is_no_summary_once(tmp_path, capfd):
    with small_filesystem(tmp_path / "disk", "300k") as disk:
        tracker, summary_path = run_on_small_disk(
            disk, 2000, remount_at=None, wandb=False, full_at_finish=True
        )
        assert summary_path is None
        tracker.finish()  # a second finish says nothing more
        whole, bad = file_lines(tracker.run_dir / "metrics.jsonl")
        assert bad == 0 and whole > 0
    err = capfd.readouterr().err
    assert err.count("could not write the summary") == 1
    assert "No space left on device" in err


def test_a_resume_on_a_full_disk_cuts_in_place_and_keeps_the_session(tmp_path, monkeypatch):
    first = ExperimentTracker(config(tmp_path), backends=[LocalRunStore()])
    for step in range(10):
        first.log_train_step(loss=1.0, tokens=1)
        if step == 4:
            state = first.state_dict()  # the checkpoint the run resumes from
    first.finish()

    def no_space(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_module, "atomic_write_text", no_space)
    resumed = ExperimentTracker(config(tmp_path), backends=[LocalRunStore()])
    resumed.load_state_dict(state)
    for _ in range(3):
        resumed.log_train_step(loss=2.0, tokens=1)
    resumed.flush()  # the store has started (on the writer thread)
    monkeypatch.undo()
    report = local_report(resumed.finish())
    assert (report["records_written"], report["rows_cut_on_resume"]) == (3, 5)
    assert "No space left on device" in report["config_error"]
    rows = [
        json.loads(line)
        for line in (tmp_path / "run" / "metrics.jsonl").read_text().split("\n")
        if line and '"event": "resume"' not in line
    ]
    assert [row["time/gradient_steps"] for row in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [row["train/loss"] for row in rows[5:]] == [2.0, 2.0, 2.0]


def test_temporary_files_left_by_a_kill_are_removed_at_start(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stale = [
        run_dir / ".metrics.jsonl.x1.tmp",
        run_dir / ".config.yaml.x2.tmp",
        run_dir / ".run_summary.json.x3.tmp",  # the summary's temporary file is made here too
    ]
    for path in stale:
        path.write_text("half")
    store = LocalRunStore()
    store.start(run_info(run_dir))
    store.finish("finished", 0)
    assert not any(path.exists() for path in stale)
