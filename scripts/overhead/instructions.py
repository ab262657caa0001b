"""Instructions a call costs on the calling thread, counted by valgrind (``--instructions`` of
``scripts/benchmark_hot_path.py``): a figure that other processes on a shared machine do not
move, where a wall-clock p50 of a 1 µs call moves by ±50%.

Each operation runs in a fresh interpreter under ``valgrind --tool=callgrind
--separate-threads=yes``, once with ``small`` calls and once with ``large``; the difference of
the main thread's totals over ``large - small`` is the cost of one call, start-up and imports
cancelled out. The writer thread's difference is reported too (the work a record costs off the
training thread). Local store only, W&B off, memory tracking off.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from overhead.common import tracker_config, tree_environment

OPERATIONS = {
    "log_train_step, no record": "quiet",
    "log_train_step with iteration=, no record": "quiet_iteration",
    "log_train_step, a record each call": "record",
    "log_train_values (the callback's on_log)": "values",
    "step_begin + step_end": "steps",
}


def run_operation(operation: str, calls: int) -> None:
    """The child: ``calls`` calls of one operation on a fresh tracker."""
    import logging

    from hf_tracking import ExperimentTracker
    from hf_tracking.backends import LocalRunStore

    logging.getLogger("hf_tracking").setLevel(logging.ERROR)
    quiet = operation in ("quiet", "quiet_iteration", "steps")
    config = tracker_config(
        Path(tempfile.mkdtemp()),
        log_every_steps=10**8 if quiet else 1,
        num_iterations=10**9,
        wandb_mode="disabled",
    )
    tracker = ExperimentTracker(config, backends=[LocalRunStore()])
    tracker.start()
    tracker.log_train_step(loss=1.0, tokens=8)
    log = tracker.log_train_step
    if operation == "quiet_iteration":
        for iteration in range(1, calls + 1):
            log(loss=2.0, learning_rate=3e-4, grad_norm=1.0, tokens=512, iteration=iteration)
    elif operation in ("quiet", "record"):
        for _ in range(calls):
            log(loss=2.0, learning_rate=3e-4, grad_norm=1.0, tokens=512)
    elif operation == "values":
        for _ in range(calls):
            tracker.hooks.log_train_values(
                loss=2.0, learning_rate=3e-4, grad_norm=1.0, extra={"train/epoch": 0.1}
            )
    else:
        for step in range(calls):
            tracker.step_begin()
            tracker.step_end(step + 2)
    tracker.finish()
    os._exit(0)  # the interpreter's teardown is not part of any call


def _thread_totals(directory: Path) -> dict[int, int]:
    totals = {}
    for path in directory.glob("out.*-*"):
        thread = int(path.name.rsplit("-", 1)[1])
        match = re.search(r"^summary: (\d+)", path.read_text(errors="replace"), re.MULTILINE)
        if match:
            totals[thread] = int(match.group(1))
    return totals


def _counted(tree: Path, operation: str, calls: int, script: Path) -> dict[int, int]:
    with tempfile.TemporaryDirectory() as directory:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--separate-threads=yes",
            f"--callgrind-out-file={directory}/out.%p",
            sys.executable,
            str(script),
            "--instructions-child",
            operation,
            "--calls",
            str(calls),
        ]
        environment = tree_environment(tree, PYTHONHASHSEED="0")
        subprocess.run(command, env=environment, check=True, capture_output=True, cwd=tree)
        return _thread_totals(Path(directory))


def per_call(tree: Path, operation: str, script: Path, small: int, large: int) -> dict[str, Any]:
    before, after = (_counted(tree, operation, calls, script) for calls in (small, large))
    return {
        "training_thread": round((after[1] - before[1]) / (large - small)),
        "writer_thread": round((after.get(2, 0) - before.get(2, 0)) / (large - small)),
    }


def available() -> bool:
    return shutil.which("valgrind") is not None
