"""Weights & Biases mirror of the local run store.

W&B runs in a child process (:mod:`hf_tracking.backends.wandb_process`) fed over a pipe: its
start-up (about a second) and its work per row (tens of µs of Python) would otherwise hold the
training process's GIL and slow the training thread down. The backend's worker thread only
encodes a line and writes it to the pipe. A child that hangs can be killed, and when the training
process dies the child sees the pipe close and finishes the W&B run with a non-zero exit code.

Rows are logged without ``step=``, so W&B never drops them, and the axes are declared:
``train/*``, ``val/*``, ``throughput/*``, ``memory/*``, ``progress/*``, ``tokens/*``,
``efficiency/*``, ``checkpoint/*`` and ``custom/*`` are plotted against ``time/gradient_steps`` by
default; ``time/wallclock_hours`` and ``time/tokens_seen`` are declared too, so the x-axis can be
switched in the UI.

Mode "auto" is online when an API key is found (``WANDB_API_KEY`` or a netrc entry) and
``WANDB_MODE`` does not say otherwise, else offline. Offline runs cannot be resumed by wandb, so
a resumed offline run is a new offline run with the same name; both ids go to the summary.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import netrc
import os
import secrets
import string
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import IO, Any

from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.catalog import LEDGER_KEYS, PLOTTED_GROUPS, STEP_KEY, TOKENS_KEY, WALLCLOCK_KEY

logger = logging.getLogger("hf_tracking")
AXES = (WALLCLOCK_KEY, TOKENS_KEY, *LEDGER_KEYS)


def new_run_id() -> str:
    """An 8-character id like wandb's own, made here so it can be saved before init returns."""
    # Not the `random` module: the Trainer seeds it, which would give every run the same id.
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def resolve_mode(requested: str) -> str:
    """ "online", "offline" or "disabled" for a config's ``wandb_mode``."""
    if requested != "auto":
        return requested
    environment = os.environ.get("WANDB_MODE", "").strip().lower()
    if environment in ("offline", "dryrun"):
        return "offline"
    if environment in ("disabled",):
        return "disabled"
    if os.environ.get("WANDB_DISABLED", "").lower() in ("true", "1", "yes"):
        return "disabled"
    return "online" if _has_credentials() else "offline"


def _has_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbBackend(Backend):
    """The W&B mirror. Its resume state is the run id, the mode it ran in and earlier ids: an
    online run resumed online continues the same W&B run; any other resume starts a new run (W&B
    cannot resume offline runs) and keeps the earlier ids in the summary."""

    name = "wandb"
    remote = True

    @classmethod
    def from_config(cls, config: Any) -> WandbBackend | None:
        backend = cls(config.wandb_mode)
        return None if backend.mode == "disabled" else backend

    def __init__(self, mode: str = "auto") -> None:
        self.process: subprocess.Popen | None = None
        self.mode = resolve_mode(mode)
        self.run_id = new_run_id()
        self.resume = False
        self.previous_ids: list[str] = []
        self.directory: str | None = None
        self.path: str | None = None
        self.sync_dir: str | None = None

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

    def start(self, run: RunInfo) -> None:
        if self.mode == "disabled":
            return
        if not _wandb_installed():
            raise ImportError("wandb is not installed; pip install wandb")
        self.directory = os.environ.get("WANDB_DIR") or run.output_dir
        os.makedirs(self.directory, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hf_tracking.backends.wandb_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            # Its own session: Ctrl-C in the terminal reaches the training process only, which
            # then finishes the W&B run through the pipe.
            start_new_session=True,
        )
        self._send(
            {
                "start": {
                    "project": run.project,
                    "entity": run.entity,
                    "name": run.name,
                    "id": self.run_id,
                    "resume": "allow" if self.resume else None,
                    "tags": run.tags[:64],
                    "notes": run.notes or None,
                    "config": run.config,
                    "dir": self.directory,
                    "mode": self.mode,
                },
                "step_metric": STEP_KEY,
                "axes": list(AXES),
                "groups": list(PLOTTED_GROUPS),
            }
        )
        reply = self._receive()
        if "error" in reply:
            self.kill()
            raise RuntimeError(reply["error"])
        self.path = reply.get("path")
        self.sync_dir = reply.get("sync_dir")

    def log_batch(self, records: list[Record]) -> None:
        """One message, one pipe write for the batch: rows in order, the final figures last."""
        rows, summary = [], {}
        for record in records:
            values = {key: value for key, value in record.values.items() if value is not None}
            if record.kind == "final":
                summary.update(values)
            else:
                rows.append(values)
        self._send({"log": rows, "summary": summary})

    def finish(self, status: str, exit_code: int) -> None:
        process = self.process
        if process is None:
            return
        self._send({"finish": exit_code})
        reply = self._receive()
        # The run's files are complete once the child answers. Its own teardown (W&B's service,
        # the interpreter: about 0.1 s) goes on without the training process waiting for it.
        threading.Thread(
            target=process.communicate, name="hf_tracking-wandb-exit", daemon=True
        ).start()
        if "error" in reply:
            raise RuntimeError(reply["error"])

    def kill(self) -> None:
        """Stop a child that does not answer (a hung finish); its W&B files stay as they are.
        Called from another thread than the one blocked on the child, which then sees EOF."""
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"mode": self.mode, "run_id": self.run_id, "dir": self.directory}
        if self.path:
            info["path"] = self.path
        if self.mode == "offline" and self.sync_dir:
            info["sync_dir"] = self.sync_dir
            info["sync_command"] = f"wandb sync {self.sync_dir}"
        return info

    def summary_section(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "run_id": self.run_id,
            "previous_run_ids": list(self.previous_ids),
            "path": self.path,
            "sync_command": self.info().get("sync_command"),
        }

    def _send(self, message: dict[str, Any]) -> None:
        if self.process is None:  # disabled: nothing to send
            return
        stream: IO[str] | None = self.process.stdin
        assert stream is not None
        stream.write(json.dumps(message, default=str) + "\n")
        stream.flush()

    def _receive(self) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdout is not None
        line = process.stdout.readline()
        if not line:
            return {"error": f"the W&B process exited (status {process.wait()})"}
        return json.loads(line)


def _wandb_installed() -> bool:
    try:
        return importlib.util.find_spec("wandb") is not None
    except (ImportError, ValueError):
        return False
