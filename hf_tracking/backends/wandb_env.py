"""The W&B settings of a run: the mode, and the ``WANDB_*`` variables ``WandbCallback`` honours.

| variable | effect |
| --- | --- |
| ``WANDB_MODE`` | ``offline``/``dryrun``, ``online``, ``disabled`` (with ``wandb_mode: auto``; ``disabled`` wins over any mode) |
| ``WANDB_DISABLED`` | ``true``/``1``/``yes``: no W&B run at all |
| ``WANDB_PROJECT``, ``WANDB_ENTITY`` | the project and entity, instead of the config's |
| ``WANDB_NAME``, ``WANDB_NOTES`` | the run's display name and notes, instead of the experiment's |
| ``WANDB_TAGS`` | comma-separated tags, added to the experiment's |
| ``WANDB_RUN_ID``, ``WANDB_RESUME`` | the run id (instead of a fresh one) and wandb's ``resume`` |
| ``WANDB_RUN_GROUP``, ``WANDB_JOB_TYPE`` | the run's group and job type |
| ``WANDB_LOG_MODEL`` | ``checkpoint``: every checkpoint directory as a ``model`` artifact; ``checkpoint`` or ``end``: the final model too |
| ``WANDB_WATCH`` | ``gradients``, ``parameters`` or ``all``: ``wandb.watch`` in the training process (off by default) |

Pure: reads an environment mapping, imports nothing of wandb; also makes run ids.
"""

from __future__ import annotations

import importlib.util
import netrc
import os
import secrets
import string
from collections.abc import Mapping
from typing import Any

TRUE = ("true", "1", "yes")
LOG_MODEL_CHOICES = ("checkpoint", "end")
WATCH_CHOICES = ("gradients", "parameters", "all")


def new_run_id() -> str:
    """An 8-character id like wandb's own, made here so it can be saved before init returns."""
    # Not the `random` module: the Trainer seeds it, which would give every run the same id.
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def wandb_installed() -> bool:
    """Whether wandb can be imported (found, not imported)."""
    try:
        return importlib.util.find_spec("wandb") is not None
    except (ImportError, ValueError):
        return False


def resolve_mode(requested: str, environ: Mapping[str, str] | None = None) -> str:
    """ "online", "offline" or "disabled" for a config's ``wandb_mode``: ``WANDB_DISABLED`` and
    ``WANDB_MODE=disabled`` turn W&B off whatever the config says; "auto" follows ``WANDB_MODE``,
    else is online when an API key is found and offline otherwise."""
    environ = os.environ if environ is None else environ
    environment = environ.get("WANDB_MODE", "").strip().lower()
    if environment == "disabled" or environ.get("WANDB_DISABLED", "").lower() in TRUE:
        return "disabled"
    if requested != "auto":
        return requested
    if environment in ("offline", "dryrun"):
        return "offline"
    if environment == "online":
        return "online"
    return "online" if _has_credentials(environ) else "offline"


def _has_credentials(environ: Mapping[str, str]) -> bool:
    if environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def init_settings(run: Any, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``wandb.init`` keyword arguments for a :class:`~hf_tracking.backends.base.RunInfo`, with
    the ``WANDB_*`` variables taking the place of the run's own values where they are set."""
    environ = os.environ if environ is None else environ
    extra_tags = [tag.strip() for tag in environ.get("WANDB_TAGS", "").split(",") if tag.strip()]
    settings: dict[str, Any] = {
        "project": environ.get("WANDB_PROJECT") or run.project,
        "entity": environ.get("WANDB_ENTITY") or run.entity,
        "name": environ.get("WANDB_NAME") or run.name,
        "notes": environ.get("WANDB_NOTES") or run.notes or None,
        # wandb allows 64 tags of up to 64 characters.
        "tags": list(dict.fromkeys(tag[:64] for tag in [*run.tags, *extra_tags]))[:64],
        "group": environ.get("WANDB_RUN_GROUP") or None,
        "job_type": environ.get("WANDB_JOB_TYPE") or None,
    }
    return settings


def run_id_from_env(environ: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """``(WANDB_RUN_ID, WANDB_RESUME)``, each None when unset."""
    environ = os.environ if environ is None else environ
    return environ.get("WANDB_RUN_ID") or None, environ.get("WANDB_RESUME") or None


def log_model(environ: Mapping[str, str] | None = None) -> str | None:
    """``checkpoint``, ``end`` or None, from ``WANDB_LOG_MODEL`` (other values: off)."""
    value = (os.environ if environ is None else environ).get("WANDB_LOG_MODEL", "").lower()
    return value if value in LOG_MODEL_CHOICES else None


def watch(environ: Mapping[str, str] | None = None) -> str | None:
    """``gradients``, ``parameters``, ``all`` or None, from ``WANDB_WATCH``."""
    value = (os.environ if environ is None else environ).get("WANDB_WATCH", "").lower()
    return value if value in WATCH_CHOICES else None
