"""Offline W&B runs written from the local run store after training, not during it.

Nobody sees an offline W&B run before ``wandb sync``, so when nothing in the training process
needs W&B (see :func:`deferrable`) the W&B process does not run while training competes for the
CPU. At start :class:`DeferredWandb` writes ``wandb_run.json`` into the run directory: the
``wandb.init`` arguments and the axes, the message the W&B process would have been sent; the
local store's ``metrics.jsonl`` holds the rows; at finish the file gets the run's exit code.

``hf-tracking sync RUN`` (:func:`sync_run`) writes the offline run then and uploads it:
:func:`write_offline_run` starts the W&B process, sends it the same start message and the same
rows, thinned the same way (:mod:`.wandb_rows`), the final figures as the run summary, and
finishes the run with the exit code the training process gave, or 1 when it never finished (a
``kill -9``, a lost machine). Both files exist from the first record on, so a run killed at any
point can still be written. A resumed run keeps its W&B id: the local store holds one history
(the rows past the checkpoint are cut on resume), written as one offline run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hf_tracking.backends import wandb_env, wandb_segments
from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.flat import numeric_values
from hf_tracking.backends.local import METRICS_FILE, SUMMARY_SUFFIX
from hf_tracking.backends.wandb_attach import wanted
from hf_tracking.backends.wandb_pipe import ChildPipe
from hf_tracking.backends.wandb_rows import RowThinner, alert_message, start_message
from hf_tracking.catalog import STEP_KEY
from hf_tracking.jsonio import atomic_write_json, iter_jsonl, read_json

logger = logging.getLogger("hf_tracking")
SPEC_FILE = "wandb_run.json"
OFFLINE_CHOICES = ("deferred", "live")
BATCH_ROWS = 500
# How long the W&B process may take to exit after its run is finished (or abandoned).
EXIT_WAIT_SECONDS = 120.0


def deferrable(mode: str, policy: str, attach: str) -> bool:
    """Whether an offline run can wait until after training: ``wandb_offline: deferred`` and
    nothing that needs W&B in the training process (``wandb.run`` for a script that imported
    wandb or with ``wandb_attach: always``, ``WANDB_WATCH``, ``WANDB_LOG_MODEL``)."""
    if mode != "offline" or policy != "deferred":
        return False
    return not wanted(attach, bool(wandb_env.watch())) and wandb_env.log_model() is None


class DeferredWandb(Backend):
    """The W&B backend of a deferred offline run: a local backend that writes the run's spec at
    start and its exit code at finish. Its resume state is the W&B one (``run_id``, ``mode``,
    ``previous_ids``) marked ``deferred``, so either kind of W&B backend can resume the other."""

    name = "wandb"
    remote = False

    def __init__(self, diagnostics_seconds: float = 15.0) -> None:
        env_id, self.env_resume = wandb_env.run_id_from_env()
        self.run_id = env_id or wandb_env.new_run_id()
        self.diagnostics_seconds = diagnostics_seconds
        self.previous_ids: list[str] = []
        self.directory: str | None = None
        self.spec_path: Path | None = None
        self._continues_live = False
        self._spec: dict[str, Any] = {}

    def state_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": "offline",
            "previous_ids": list(self.previous_ids),
            "deferred": True,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        saved_id = state.get("run_id")
        self.previous_ids = [str(run_id) for run_id in state.get("previous_ids") or []]
        if not saved_id:
            return
        if state.get("deferred"):
            self.run_id = str(saved_id)  # the whole history is written as one run
            return
        self.previous_ids.append(str(saved_id))  # that run was written during training
        self._continues_live = True

    def start(self, run: RunInfo) -> None:
        if not wandb_env.wandb_installed():  # said now, not when the run is synced
            raise ImportError("wandb is not installed; pip install wandb")
        self.directory = os.environ.get("WANDB_DIR") or run.output_dir
        if run.forked_from is not None and not self._continues_live:
            # The run written by another process keeps the id; this one's history is its own.
            self.previous_ids.append(self.run_id)
            self.run_id = wandb_env.new_run_id()
        spec = start_message(run, self.run_id, self.env_resume, self.directory, "offline")
        spec.update(diagnostics_seconds=self.diagnostics_seconds, previous_ids=self.previous_ids)
        if self._continues_live and run.resumed_from_step is not None:
            found = [
                wandb_segments.segment_dir(self.directory, run_id) for run_id in self.previous_ids
            ]
            end = wandb_segments.segment_end(found[-1] if found else None)
            spec["previous_dirs"] = [str(path) for path in found if path is not None]
            spec["skip_through"] = end if end is not None and end > run.resumed_from_step else None
        self.spec_path = Path(run.run_dir) / SPEC_FILE
        self._spec = spec
        atomic_write_json(self.spec_path, spec)

    def log_batch(self, records: list[Record]) -> None:
        """The local store writes the rows; they are read back when the run is written."""

    def finish(self, status: str, exit_code: int) -> None:
        if self.spec_path is not None:
            atomic_write_json(self.spec_path, {**self._spec, "exit_code": exit_code})

    def info(self) -> dict[str, Any]:
        run_dir = self.spec_path.parent if self.spec_path else None
        return {
            "mode": "offline",
            "run_id": self.run_id,
            "dir": self.directory,
            "written": "after training, by hf-tracking sync",
            "sync_command": f"hf-tracking sync {run_dir}" if run_dir else None,
            "wandb_run_attached": False,
        }

    def summary_section(self) -> dict[str, Any]:
        return {
            "mode": "offline",
            "run_id": self.run_id,
            "previous_run_ids": list(self.previous_ids),
            "path": None,
            "sync_command": self.info()["sync_command"],
        }


def write_offline_run(run_dir: str | os.PathLike) -> str:
    """Write the offline W&B run of a deferred run from its local store; returns the offline
    run's directory. A run written already and unchanged since is not written again."""
    run_dir = Path(run_dir)
    spec_path, metrics = run_dir / SPEC_FILE, run_dir / METRICS_FILE
    spec = read_json(spec_path)
    size = metrics.stat().st_size
    written = spec.get("written")
    if written and spec.get("written_size") == size and Path(written).is_dir():
        return str(written)
    pipe = ChildPipe()
    pipe.open()
    try:
        pipe.send({key: spec[key] for key in ("start", "step_metric", "axes", "groups")})
        reply = pipe.receive()
        if "error" in reply:
            raise RuntimeError(f"the W&B process failed: {reply['error']}")
        pipe.start_reader()
        _send_rows(pipe, metrics, spec)
        pipe.send({"finish": spec.get("exit_code", 1)})
        pipe.finished.wait()
    finally:
        _close(pipe, EXIT_WAIT_SECONDS)
    if pipe.failure is not None:
        raise RuntimeError(pipe.failure)
    atomic_write_json(spec_path, {**spec, "written": reply["sync_dir"], "written_size": size})
    return str(reply["sync_dir"])


def _send_rows(pipe: ChildPipe, metrics: Path, spec: Mapping[str, Any]) -> None:
    """The rows of ``metrics.jsonl`` as the live backend sends them, in batches."""
    thinner = RowThinner(float(spec.get("diagnostics_seconds", 15.0)))
    skip_through = spec.get("skip_through")
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for row in iter_jsonl(metrics):
        kind = row.pop("event", "train")
        if kind == "resume":
            continue
        if kind == "final":
            summary.update({key: value for key, value in row.items() if value is not None})
            continue
        if skip_through is not None and (row.get(STEP_KEY) or 0) <= skip_through:
            continue  # held by the run written during training before the resume
        if kind == "alert":  # a W&B alert too, after the rows before it; its row keeps the numbers
            pipe.send({"log": rows, "summary": {}, "extra": 0})
            pipe.send({"alert": alert_message(row)})
            rows, row = [], numeric_values(row)
        rows.extend(thinner.rows(kind, row))
        if len(rows) >= BATCH_ROWS:
            pipe.send({"log": rows, "summary": {}, "extra": 0})
            rows = []
    rows.extend(thinner.last())
    pipe.send({"log": rows, "summary": summary, "extra": 0})


def _close(pipe: ChildPipe, timeout: float) -> None:
    """Close the W&B process's input (without a finish it ends the run with exit code 1) and
    wait for it to exit; past ``timeout`` it is killed."""
    process = pipe.process
    assert process is not None and process.stdin is not None
    with contextlib.suppress(OSError):
        process.stdin.close()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        pipe.kill()


def run_directory(run: str | os.PathLike) -> Path:
    """The run directory of ``RUN`` (a run directory or its ``*_summary.json``)."""
    path = Path(run)
    if path.name.endswith(SUMMARY_SUFFIX) and path.is_file():
        return path.with_name(path.name[: -len(SUMMARY_SUFFIX)])
    return path


def sync_run(run: str | os.PathLike, upload: bool = True) -> int:
    """``hf-tracking sync RUN``: write a deferred run's offline W&B run, then ``wandb sync`` it
    (with the runs of earlier segments); a run written during training is synced as it is."""
    run_dir = run_directory(run)
    spec_path = run_dir / SPEC_FILE
    if spec_path.is_file():
        spec = read_json(spec_path)
        directories = [*spec.get("previous_dirs", []), write_offline_run(run_dir)]
        print(f"offline W&B run: {directories[-1]}")
        arguments = directories
        if len(directories) > 1:
            arguments = ["--id", spec["previous_ids"][0], *directories]
    else:
        summary = read_json(run_dir.with_name(run_dir.name + SUMMARY_SUFFIX))
        command = (summary.get("wandb") or {}).get("sync_command")
        if not command:
            print(f"error: {run_dir} has no W&B run", file=sys.stderr)
            return 1
        arguments = shlex.split(command)[2:]  # after "wandb sync"
    if not upload:
        print("upload with: " + shlex.join(["wandb", "sync", *arguments]))
        return 0
    return subprocess.call([sys.executable, "-m", "wandb", "sync", *arguments])
