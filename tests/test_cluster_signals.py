"""The signals a cluster sends before it ends a job (SIGHUP when the ssh session ends, SIGUSR1
from SLURM's ``--signal``, SIGALRM) end a run like SIGTERM: every row written, the summary
"interrupted", and the process still ends by the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.harness import ROOT, child, read_line, tally_report
from tests.support.runs import metrics_rows, strict_json

SIGNALS = [signal.SIGHUP, signal.SIGUSR1, signal.SIGALRM]


@pytest.mark.slow
def test_a_hand_written_loop_ends_interrupted_on_each_cluster_signal(tmp_path):
    processes = {signum: child("loop", tmp_path / signum.name, 0) for signum in SIGNALS}
    for signum, process in processes.items():
        assert read_line(process, 60) == "ready"
        process.send_signal(signum)
    for signum, process in processes.items():
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == -signum, stderr[-2000:]
        summary = strict_json(tmp_path / signum.name / "fault_summary.json")
        assert (summary["status"], summary["error"]) == ("interrupted", signum.name)
        rows = metrics_rows(tmp_path / signum.name / "fault")
        train = [row for row in rows if row["event"] == "train"]
        assert summary["totals"]["gradient_steps"] == len(train) >= 20
        (local,) = summary["backends"]
        logged = summary["totals"]["gradient_steps"]
        tally = tally_report(f"{signum.name} in a hand-written loop", logged, len(train), local)
        assert tally.records_lost_silently == 0
        assert (local["records_written"], local["records_lost"]) == (len(rows), 0)


@pytest.mark.slow
def test_a_trainer_run_ends_interrupted_on_sighup(tmp_path):
    process = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests/support/crash_loop.py"),
            "runs",
            "trainer-signal",
            "SIGHUP",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert process.returncode == -signal.SIGHUP, process.stderr[-2000:]
    (summary_path,) = (tmp_path / "experiments").glob("*_summary.json")
    summary = strict_json(summary_path)
    assert (summary["status"], summary["error"]) == ("interrupted", "SIGHUP")
    assert summary["totals"]["gradient_steps"] == 5
    train = [row for row in metrics_rows(Path(summary["run_dir"])) if row["event"] == "train"]
    assert [row["time/gradient_steps"] for row in train] == [1, 2, 3, 4]


def test_a_handler_of_the_programs_own_is_left_in_place():
    """A program that checkpoints on SIGUSR1 (or runs under nohup) keeps its handler."""
    command = (
        "import signal, hf_tracking.lifecycle as l\n"
        "own = lambda *a: None\n"
        "signal.signal(signal.SIGUSR1, own)\n"
        "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
        "l._install_signal_handlers()\n"
        "assert signal.getsignal(signal.SIGUSR1) is own\n"
        "assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN\n"
        "assert signal.getsignal(signal.SIGALRM) is l._on_terminating_signal\n"
    )
    subprocess.run(
        [sys.executable, "-c", command], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
