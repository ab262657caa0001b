"""Weights & Biases mirror of the local run store.

Starts on its own thread (``wandb.init`` takes about a second and must not delay training), logs
each record without ``step=`` so rows are never dropped, and declares the axes:
``train/*``, ``val/*``, ``throughput/*``, ``memory/*``, ``progress/*``, ``tokens/*``,
``efficiency/*``, ``checkpoint/*`` and ``custom/*`` are plotted against ``time/gradient_steps`` by
default; ``time/wallclock_hours`` and ``time/tokens_seen`` are declared too, so the x-axis can be
switched in the UI.

Mode "auto" is online when an API key is found (``WANDB_API_KEY`` or a netrc entry) and
``WANDB_MODE`` does not say otherwise, else offline. Offline runs cannot be resumed by wandb, so
a resumed offline run is a new offline run with the same name; both ids go to the summary.
"""

from __future__ import annotations

import netrc
import os
import secrets
import string
from typing import Any

from hf_tracking.backends.base import Backend, Record, RunInfo

STEP_METRIC = "time/gradient_steps"
AXES = (
    "time/wallclock_hours",
    "time/tokens_seen",
    "time/train_hours",
    "time/eval_hours",
    "time/checkpoint_hours",
    "time/other_hours",
)
PLOTTED_GROUPS = (
    "train",
    "val",
    "throughput",
    "memory",
    "progress",
    "tokens",
    "efficiency",
    "checkpoint",
    "custom",
)


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
    name = "wandb"
    remote = True

    def __init__(self) -> None:
        self.run: Any = None
        self.mode: str | None = None
        self.run_id: str | None = None
        self.directory: str | None = None
        self.path: str | None = None
        self.sync_dir: str | None = None

    def start(self, run: RunInfo) -> None:
        self.mode = run.wandb_mode
        self.run_id = run.wandb_run_id
        if self.mode == "disabled":
            return
        try:
            import wandb
        except ImportError as error:
            raise ImportError(f"wandb is not installed ({error}); pip install wandb") from None

        self.directory = os.environ.get("WANDB_DIR") or run.output_dir
        os.makedirs(self.directory, exist_ok=True)
        self.run = wandb.init(
            project=run.project,
            entity=run.entity,
            name=run.name,
            id=self.run_id,
            resume="allow" if run.wandb_resume else None,
            tags=run.tags[:64],
            notes=run.notes or None,
            config=run.config,
            dir=self.directory,
            mode=self.mode,
            reinit="create_new",
            settings=wandb.Settings(
                x_disable_stats=True, save_code=False, x_save_requirements=False, silent=True
            ),
        )
        self.path = (
            "/".join(self.run.path) if isinstance(self.run.path, (list, tuple)) else self.run.path
        )
        self.sync_dir = os.path.dirname(self.run.dir)
        self.run.define_metric(STEP_METRIC)
        for axis in AXES:
            self.run.define_metric(axis, step_metric=STEP_METRIC)
        for group in PLOTTED_GROUPS:
            self.run.define_metric(f"{group}/*", step_metric=STEP_METRIC)

    def log(self, record: Record) -> None:
        if self.run is None:
            return
        if record.kind == "final":
            for key, value in record.values.items():
                self.run.summary[key] = value
            return
        self.run.log({key: value for key, value in record.values.items() if value is not None})

    def finish(self, status: str, exit_code: int) -> None:
        if self.run is not None:
            self.run.finish(exit_code=exit_code)
            self.run = None

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"mode": self.mode, "run_id": self.run_id, "dir": self.directory}
        if self.path:
            info["path"] = self.path
        if self.mode == "offline" and self.sync_dir:
            info["sync_dir"] = self.sync_dir
            info["sync_command"] = f"wandb sync {self.sync_dir}"
        return info
