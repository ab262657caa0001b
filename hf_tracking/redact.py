"""Keep credentials out of every file and every remote config.

A value is redacted when its key looks like a credential (ends in ``token``, or contains
``api_key``, ``apikey``, ``secret``, ``password``, ``passwd`` or ``credential``), and any string that
contains the value of ``WANDB_API_KEY`` or ``HF_TOKEN`` (or ``HUGGING_FACE_HUB_TOKEN``) from the
environment has it replaced.
"""

from __future__ import annotations

import os
import re
from typing import Any

REDACTED = "***redacted***"
_SECRET_KEY = re.compile(r"(token$|api_?key|secret|passw(or)?d|credential)", re.IGNORECASE)
_SECRET_ENVIRONMENT = ("WANDB_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(str(key)))


def redact(value: Any, secrets: tuple[str, ...] | None = None) -> Any:
    """A copy of ``value`` with credential-like keys and known secret strings redacted."""
    if secrets is None:
        secrets = tuple(
            os.environ[name] for name in _SECRET_ENVIRONMENT if len(os.environ.get(name, "")) >= 8
        )
    if isinstance(value, dict):
        return {
            key: REDACTED
            if is_secret_key(key) and item not in (None, "")
            else redact(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
    return value
