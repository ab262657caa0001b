"""Tallies and checks of the fault-injection harness: what each kind of fault cost."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Trials per scenario: the default keeps the harness near a minute on two cores.
TRIALS_SCALE = max(1, int(os.environ.get("HF_TRACKING_FAULT_TRIALS", "1")))


@dataclasses.dataclass
class Tally:
    scenario: str
    trials: int = 0
    records_logged: int = 0
    records_in_file: int = 0
    records_reported_lost: int = 0
    records_lost_silently: int = 0
    torn_lines: int = 0
    torn_tails: int = 0
    not_exited_in_bound: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)

    def add(self, logged: int, in_file: int, reported_lost: int, torn: int = 0, tail: int = 0):
        """One trial: what was logged, is in the file and was reported lost; the rest was lost
        silently. (A batch in flight when the run gave up on a backend is reported lost and may
        still reach the file: then the trial lost nothing silently.)"""
        self.trials += 1
        self.records_logged += logged
        self.records_in_file += in_file
        self.records_reported_lost += reported_lost
        self.records_lost_silently += max(0, logged - in_file - reported_lost)
        self.torn_lines += torn
        self.torn_tails += tail

    def line(self) -> str:
        fields = dataclasses.asdict(self)
        fields["notes"] = sorted(set(self.notes))
        return "fault harness " + json.dumps(fields)

    def report(self) -> None:
        """Print the figures (``pytest -s`` shows them) and append them to
        ``$HF_TRACKING_FAULT_REPORT`` when set."""
        print(self.line(), flush=True)
        target = os.environ.get("HF_TRACKING_FAULT_REPORT")
        if target:
            with open(target, "a", encoding="utf-8") as stream:
                stream.write(self.line() + "\n")


def scan_jsonl(path: Path) -> tuple[list[dict], int, int]:
    """(whole rows, torn lines before the end, 1 if the last line is torn else 0)."""
    if not path.exists():
        return [], 0, 0
    lines = path.read_bytes().split(b"\n")
    rows, torn = [], 0
    for line in lines[:-1]:
        try:
            rows.append(json.loads(line))
        except ValueError:
            torn += 1
    return rows, torn, int(bool(lines[-1]))


def child(mode: str, output_dir: Path, records: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "support" / "fault_child.py"),
            mode,
            str(output_dir),
            str(records),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_bounded(process: subprocess.Popen, bound: float, tally: Tally) -> str:
    """Wait ``bound`` seconds for the process; past it count it and kill it. Returns stderr."""
    try:
        _, stderr = process.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        tally.not_exited_in_bound += 1
        process.kill()
        _, stderr = process.communicate()
    return stderr or ""


def read_summary(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_line(process: subprocess.Popen, timeout: float) -> str | None:
    """The next stdout line of ``process``, or None when none comes within ``timeout``."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return None
    return process.stdout.readline().strip()


def tally_report(scenario: str, logged: int, in_file: int, report: dict) -> Tally:
    """One trial of a backend (or the local store) as its summary entry reports it: what it
    lost, dropped or had dropped by a stalled writer counts as reported lost. Printed."""
    tally = Tally(scenario)
    reported = report["records_lost"] + report["records_dropped"]
    tally.add(logged, in_file, reported + report["records_dropped_writer_stalled"])
    tally.report()
    return tally
