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
with the same name; both ids go to the summary.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from typing import Any

from hf_tracking.backends import wandb_env
from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.wandb_attach import Attachment, wanted
from hf_tracking.backends.wandb_rows import RowThinner, wandb_config
from hf_tracking.catalog import LEDGER_KEYS, PLOTTED_GROUPS, STEP_KEY, TOKENS_KEY, WALLCLOCK_KEY
from hf_tracking.redact import redact

logger = logging.getLogger("hf_tracking")
AXES = (WALLCLOCK_KEY, TOKENS_KEY, *LEDGER_KEYS)
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wandb_process.py")
resolve_mode = wandb_env.resolve_mode


def new_run_id() -> str:
    """An 8-character id like wandb's own, made here so it can be saved before init returns."""
    # Not the `random` module: the Trainer seeds it, which would give every run the same id.
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


class WandbBackend(Backend):
    """The W&B mirror. Its resume state is the run id, the mode it ran in and earlier ids: an
    online run resumed online continues the same W&B run; any other resume starts a new run (W&B
    cannot resume offline runs) and keeps the earlier ids in the summary."""

    name = "wandb"
    remote = True

    @classmethod
    def from_config(cls, config: Any) -> WandbBackend | None:
        backend = cls(
            config.wandb_mode,
            diagnostics_seconds=config.wandb_diagnostics_seconds,
            attach=config.wandb_attach,
        )
        return None if backend.mode == "disabled" else backend

    def __init__(
        self, mode: str = "auto", diagnostics_seconds: float = 15.0, attach: str = "auto"
    ) -> None:
        self.process: subprocess.Popen | None = None
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
        self._acknowledged = 0
        self._failure: str | None = None
        self._finished = threading.Event()
        self._warnings: set[str] = set()

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
        if self.mode == "disabled":
            return
        if not _wandb_installed():
            raise ImportError("wandb is not installed; pip install wandb")
        self.directory = os.environ.get("WANDB_DIR") or run.output_dir
        os.makedirs(self.directory, exist_ok=True)
        self._model = run.model
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"import runpy; runpy.run_path({CHILD!r}, run_name='__main__')"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            # Its own session: Ctrl-C in the terminal reaches the training process only, which
            # then finishes the W&B run through the pipe.
            start_new_session=True,
        )
        init = wandb_env.init_settings(run)
        init.update(
            id=self.run_id,
            resume="allow" if self.resume else self.env_resume,
            config=self._config(run),
            dir=self.directory,
            mode=self.mode,
        )
        self._send(
            {
                "start": init,
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
        self._service = reply
        threading.Thread(target=self._read, name="hf_tracking-wandb-answers", daemon=True).start()
        self._maybe_attach()

    def _config(self, run: RunInfo) -> dict[str, Any]:
        model_config, parameters = None, None
        config = getattr(self._model, "config", None)
        if config is not None:
            model_config = config if isinstance(config, dict) else config.to_dict()
            model_config = redact(model_config)
        counter = getattr(self._model, "num_parameters", None)
        if callable(counter):
            parameters = counter()
        return wandb_config(run.config, model_config, parameters)

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
        if self._failure is not None:
            raise RuntimeError(self._failure)
        if self.attachment.run is None and self.attach_policy == "auto":
            self._maybe_attach()
        rows, summary, finals, artifacts = [], {}, 0, []
        for record in records:
            if record.kind == "final":
                summary.update({k: v for k, v in record.values.items() if v is not None})
                finals += 1
                continue
            rows.extend(self.thinner.rows(record.kind, record.values))
            epoch = record.values.get("train/epoch")
            self._epoch = epoch if isinstance(epoch, (int, float)) else self._epoch
            if record.kind == "checkpoint" and self.log_model == "checkpoint" and record.path:
                artifacts.append(self._checkpoint_artifact(record))
        self._send({"log": rows, "summary": summary, "extra": finals})
        for artifact in artifacts:
            self._send({"artifact": artifact})

    def _checkpoint_artifact(self, record: Record) -> dict[str, Any]:
        step = int(record.values.get(STEP_KEY) or 0)
        aliases = [f"checkpoint_global_step_{step}"]
        if self._epoch is not None:
            aliases.insert(0, f"epoch_{round(self._epoch, 2)}")
        return self._artifact(str(record.path), aliases, {"step": step})

    def _artifact(self, path: str, aliases: list[str], metadata: dict[str, Any]) -> dict:
        return {
            "name": f"model-{self.run_id}",
            "type": "model",
            "path": path,
            "aliases": aliases,
            "metadata": metadata,
        }

    def acknowledged(self) -> int:
        return self._acknowledged

    # ------------------------------------------------------------------ finish
    def finish(self, status: str, exit_code: int) -> None:
        process = self.process
        if process is None:
            return
        self.attachment.detach()
        if self._failure is None:
            last = self.thinner.last()
            if last:
                self._send({"log": last, "summary": {}, "extra": 0})
            final_model = self._save_final_model()
            self._send({"finish": exit_code})
            self._finished.wait()
            if final_model:
                shutil.rmtree(final_model, ignore_errors=True)
        # The run's files are complete once the child answers. Its own teardown (W&B's service,
        # the interpreter: about 0.1 s) goes on without the training process waiting for it.
        threading.Thread(target=process.wait, name="hf_tracking-wandb-exit", daemon=True).start()
        if self._failure is not None:
            raise RuntimeError(self._failure)

    def _save_final_model(self) -> str | None:
        """``WANDB_LOG_MODEL`` end or checkpoint: the trained model as ``final_model``."""
        save = getattr(self._model, "save_pretrained", None)
        if not self.log_model or not callable(save):
            return None
        directory = tempfile.mkdtemp(prefix="hf_tracking_final_model_")
        try:
            save(directory)
        except Exception as error:
            logger.warning("hf_tracking: saving the final model for W&B failed (%s)", error)
            shutil.rmtree(directory, ignore_errors=True)
            return None
        self._send({"artifact": self._artifact(directory, ["final_model"], {"final_model": True})})
        return directory

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

    # ------------------------------------------------------------------ the pipe
    def _send(self, message: dict[str, Any]) -> None:
        process = self.process
        if process is None:  # disabled: nothing to send
            return
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps(message, default=str, separators=(",", ":")) + "\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._finished.wait(5.0)  # the reader names what happened to the child
            raise RuntimeError(self._failure or "the W&B process is gone") from None

    def _receive(self) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdout is not None
        line = process.stdout.readline()
        if not line:
            return {"error": f"the W&B process exited (status {process.wait()})"}
        return json.loads(line)

    def _read(self) -> None:
        """The child's answers, on a thread that sleeps until one comes."""
        process = self.process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            answer = json.loads(line)
            self._acknowledged = answer.get("ack", self._acknowledged)
            if "warning" in answer and answer["warning"] not in self._warnings:
                self._warnings.add(answer["warning"])
                logger.warning("hf_tracking: W&B: %s", answer["warning"])
            if "error" in answer and self._failure is None:
                self._failure = f"the W&B process failed: {answer['error']}"
            if answer.get("finished"):
                self._finished.set()
        if not self._finished.is_set() and self._failure is None:
            self._failure = f"the W&B process exited (status {process.wait()})"
        self._finished.set()


def _wandb_installed() -> bool:
    try:
        return importlib.util.find_spec("wandb") is not None
    except (ImportError, ValueError):
        return False
