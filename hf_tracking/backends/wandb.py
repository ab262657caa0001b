"""Weights & Biases mirror of the local run store.

W&B runs in a child process (:mod:`hf_tracking.backends.wandb_process`) fed over a pipe: its
start-up (about a second of import and service start) and its work per row would otherwise hold
the training process's GIL. The worker thread encodes one compact JSON line per batch and writes
it; a reader thread sleeps on the child's answers (an acknowledgement a second at most). Training
rows are thinned on a time cadence (:mod:`.wandb_rows`); ``wandb.run`` in the training process is
attached to the child's run (:mod:`.wandb_attach`); ``WANDB_*`` variables are read as
``WandbCallback`` reads them (:mod:`.wandb_env`).

Rows are logged without ``step=``, so W&B never drops them, and the axes are declared:
``train/*``, ``val/*``, ``throughput/*``, ``memory/*``, ``progress/*``, ``tokens/*``,
``efficiency/*``, ``checkpoint/*`` and ``custom/*`` are plotted against ``time/gradient_steps`` by
default; ``time/wallclock_hours``, ``time/tokens_seen`` and the time ledger are declared too, so
the x-axis can be switched in the UI. The final figures go to the W&B run summary.

Counts: ``records_written`` is what the child acknowledged having logged; what it never logged is
``records_lost``. The child's first error is reported with its own text at the next batch, once.

Mode "auto" is online when an API key is found and ``WANDB_MODE`` does not say otherwise, else
offline. Offline runs cannot be resumed by wandb, so a resumed offline run is a new offline run
with the same name that leaves out the steps the previous one holds (:mod:`.wandb_segments`);
both ids go to the summary.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Mapping
from typing import Any

from hf_tracking.backends import wandb_env, wandb_segments
from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.flat import numeric_values
from hf_tracking.backends.wandb_artifacts import (
    artifact_spec,
    checkpoint_artifact,
    save_final_model,
)
from hf_tracking.backends.wandb_attach import Attachment, wanted
from hf_tracking.backends.wandb_deferred import DeferredWandb, deferrable
from hf_tracking.backends.wandb_pipe import ChildPipe
from hf_tracking.backends.wandb_rows import RowThinner, alert_message, start_message
from hf_tracking.catalog import STEP_KEY

logger = logging.getLogger("hf_tracking")
resolve_mode = wandb_env.resolve_mode
new_run_id = wandb_env.new_run_id
# How long the first step waits for wandb.run when the script imported wandb.
RUN_WAIT_SECONDS = 30.0


class WandbBackend(Backend):
    """The W&B mirror. Its resume state is the run id, the mode it ran in and earlier ids: an
    online run resumed online continues the same W&B run; any other resume starts a new run (W&B
    cannot resume offline runs) and keeps the earlier ids in the summary."""

    name = "wandb"
    remote = True
    # The child wakes, reads and logs once a batch: rows reach it once a second, in one message.
    batch_seconds = 1.0

    @classmethod
    def from_config(cls, config: Any) -> Backend | None:
        """None when W&B is disabled; an offline run that nothing in the training process needs
        (see :func:`.wandb_deferred.deferrable`) is written after training instead."""
        mode = resolve_mode(config.wandb_mode)
        if mode == "disabled":
            return None
        if deferrable(mode, config.wandb_offline, config.wandb_attach):
            return DeferredWandb(config.wandb_diagnostics_seconds)
        return cls(mode, config.wandb_diagnostics_seconds, config.wandb_attach)

    def __init__(
        self, mode: str = "auto", diagnostics_seconds: float = 15.0, attach: str = "auto"
    ) -> None:
        self.pipe = ChildPipe()
        # Set once start() has returned (the run started and attached, or failed).
        self.ready = threading.Event()
        self.mode = resolve_mode(mode)
        env_id, self.env_resume = wandb_env.run_id_from_env()
        self.run_id = env_id or new_run_id()
        self.resume = False
        self.previous_ids: list[str] = []
        self.directory: str | None = None
        self.path: str | None = None
        self.sync_dir: str | None = None
        self.attach_policy = attach
        self.attachment = Attachment()
        self.thinner = RowThinner(diagnostics_seconds)
        self.log_model = wandb_env.log_model()
        self.watch = wandb_env.watch()
        self._service: dict[str, Any] = {}
        self._model: Any = None
        self._epoch: float | None = None
        self.previous_dirs: list[str] = []
        self.skip_through: int | None = None
        self.rows_skipped = 0

    @property
    def process(self) -> Any:
        return self.pipe.process

    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "mode": self.mode, "previous_ids": list(self.previous_ids)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        saved_id = state.get("run_id")
        self.previous_ids = [str(run_id) for run_id in state.get("previous_ids") or []]
        if not saved_id:
            return
        if self.mode == "online" == state.get("mode"):
            self.run_id, self.resume = str(saved_id), True
            return
        self.previous_ids.append(str(saved_id))
        logger.warning(
            "hf_tracking: W&B cannot resume the %s run %s in %s mode; the resumed part goes to a "
            "new run (both ids are in the summary)",
            state.get("mode"),
            saved_id,
            self.mode,
        )

    # ------------------------------------------------------------------ start
    def start(self, run: RunInfo) -> None:
        try:
            self._start(run)
        finally:
            self.ready.set()

    def _start(self, run: RunInfo) -> None:
        if self.mode == "disabled":
            return
        if not wandb_env.wandb_installed():
            raise ImportError("wandb is not installed; pip install wandb")
        self.directory = os.environ.get("WANDB_DIR") or run.output_dir
        os.makedirs(self.directory, exist_ok=True)
        self._model = run.model
        self._continue_segments(run)
        self.pipe.open()
        resume = "allow" if self.resume else self.env_resume
        self.pipe.send(start_message(run, self.run_id, resume, self.directory, self.mode))
        reply = self.pipe.receive()
        if "error" in reply:
            self.kill()
            raise RuntimeError(reply["error"])
        self.path = reply.get("path")
        self.sync_dir = reply.get("sync_dir")
        self._service = reply
        self.pipe.start_reader()
        self._maybe_attach()

    def before_training(self) -> None:
        """When the user's code will find ``wandb.run`` (see :func:`.wandb_attach.wanted`), wait
        until the run is started and attached, at most ``RUN_WAIT_SECONDS``."""
        if not wanted(self.attach_policy, bool(self.watch)) or self.ready.wait(RUN_WAIT_SECONDS):
            return
        logger.warning(
            "hf_tracking: W&B did not start within %g s; training goes on and wandb.run is "
            "attached once it has",
            RUN_WAIT_SECONDS,
        )

    def _continue_segments(self, run: RunInfo) -> None:
        """A resumed offline run: skip the steps the previous offline segment already holds."""
        if self.mode != "offline" or run.resumed_from_step is None:
            return
        assert self.directory is not None
        found = [wandb_segments.segment_dir(self.directory, run_id) for run_id in self.previous_ids]
        self.previous_dirs = [str(path) for path in found if path is not None]
        end = wandb_segments.segment_end(found[-1] if found else None)
        if end is not None and end > run.resumed_from_step:
            self.skip_through = end

    def _maybe_attach(self) -> None:
        if self.attachment.run is not None or not wanted(self.attach_policy, bool(self.watch)):
            return
        attached = self.attachment.attach(
            self._service.get("service"), self._service.get("attach_id")
        )
        if attached and self.watch:
            # WandbCallback's frequency: every 100 steps at the least.
            self.attachment.watch(self._model, self.watch, 100)

    # ------------------------------------------------------------------ rows
    def log_batch(self, records: list[Record]) -> None:
        """One message, one pipe write for the batch: rows in order, the final figures last."""
        if self.pipe.failure is not None:
            raise RuntimeError(self.pipe.failure)
        if self.attachment.run is None and self.attach_policy == "auto":
            self._maybe_attach()
        rows, summary, finals, artifacts, alerts = [], {}, 0, [], []
        for record in records:
            if record.kind == "alert":  # a W&B alert too; its row keeps the numbers
                alerts.append(alert_message(record.values))
                record = Record("alert", numeric_values(record.values))
            if record.kind == "final":
                summary.update({k: v for k, v in record.values.items() if v is not None})
                finals += 1
                continue
            if (
                self.skip_through is not None
                and (record.values.get(STEP_KEY) or 0) <= self.skip_through
            ):
                self.rows_skipped += 1  # held by the previous offline segment
                finals += 1
                continue
            rows.extend(self.thinner.rows(record.kind, record.values))
            epoch = record.values.get("train/epoch")
            self._epoch = epoch if isinstance(epoch, (int, float)) else self._epoch
            if record.kind == "checkpoint" and self.log_model == "checkpoint" and record.path:
                artifacts.append(checkpoint_artifact(self.run_id, record, self._epoch))
        self.pipe.send({"log": rows, "summary": summary, "extra": finals})
        for artifact in artifacts:
            self.pipe.send({"artifact": artifact})
        for alert in alerts:
            self.pipe.send({"alert": alert})

    def acknowledged(self) -> int:
        return self.pipe.acknowledged

    def health(self) -> str | None:
        return self.pipe.health()

    # ------------------------------------------------------------------ finish
    def finish(self, status: str, exit_code: int) -> None:
        if self.pipe.process is None:
            return
        self.attachment.detach()
        if self.pipe.failure is None:
            last = self.thinner.last()
            if last:
                self.pipe.send({"log": last, "summary": {}, "extra": 0})
            final_model = save_final_model(self._model) if self.log_model else None
            if final_model:
                metadata = {"final_model": True}
                artifact = artifact_spec(self.run_id, final_model, ["final_model"], metadata)
                self.pipe.send({"artifact": artifact})
            self.pipe.send({"finish": exit_code})
            self.pipe.finished.wait()
            if final_model:
                shutil.rmtree(final_model, ignore_errors=True)
        # The run's files are complete once the child answers.
        self.pipe.reap_in_background()
        if self.pipe.failure is not None:
            raise RuntimeError(self.pipe.failure)

    def kill(self) -> None:
        """Stop a child that does not answer (a hung finish); its W&B files stay as they are.
        Called from another thread than the one blocked on the child, which then sees EOF."""
        self.pipe.kill()

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"mode": self.mode, "run_id": self.run_id, "dir": self.directory}
        if self.path:
            info["path"] = self.path
        if self.mode == "offline" and self.sync_dir:
            info["sync_dir"] = self.sync_dir
            first = self.previous_ids[0] if self.previous_dirs else ""
            info["sync_command"] = wandb_segments.sync_command(
                first, [*self.previous_dirs, self.sync_dir]
            )
            if self.rows_skipped:
                info["rows_in_previous_segment"] = self.rows_skipped
        info["wandb_run_attached"] = self.attachment.run is not None or bool(
            self.attachment.error and "already" in self.attachment.error
        )
        return info

    def summary_section(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "run_id": self.run_id,
            "previous_run_ids": list(self.previous_ids),
            "path": self.path,
            "sync_command": self.info().get("sync_command"),
        }
