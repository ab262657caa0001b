"""Keep credentials out of every file and every backend.

Two things are masked, everywhere text leaves the process (summary, ``metrics.jsonl`` keys,
``config.yaml``, every backend's run info and rows):

- **Known secret values**, wherever they appear in a string: the values of environment variables
  whose names look like credentials (``HF_TOKEN``, ``WANDB_API_KEY``, ``*_TOKEN``, ``*_KEY``,
  ``*_SECRET``, ``*_PASSWORD``, ``AWS_*``, ...; values shorter than 8 characters are ignored),
  values found under credential-like keys by :func:`redact`, and any value given to
  :func:`add_secret` (the Trainer callback adds ``TrainingArguments.hub_token``).
- **Credential shapes**, known or not: ``user:password@`` in URLs, ``Bearer ...`` and
  ``sk-``/``hf_``/``ghp_``/``github_pat_``/``xox?-``/``AKIA`` style tokens.

:func:`redact` also replaces the whole value of a key that looks like a credential (``*token``,
``api_key``, ``secret``, ``password``, ``credential``, ``private_key``, ``authorization``,
``bearer``, ...); :func:`mask` only masks values and keys (for documents such as the summary, whose
keys are not config keys). Only strings are looked at: numbers pass untouched.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any

REDACTED = "***redacted***"
MIN_SECRET_LENGTH = 8
_SECRET_KEY = re.compile(
    r"(token$|api_?key|secret|passw(or)?d|passphrase|credential|private_?key|authorization"
    r"|bearer|access_?key|session_?key|signing_?key|auth_?token|cookie)",
    re.IGNORECASE,
)
_SECRET_ENVIRONMENT_NAME = re.compile(
    r"(TOKEN|_KEY|KEY_ID|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIALS?|COOKIE|AUTH)$"
    r"|^AWS_|API_?KEY|SECRET|PRIVATE_KEY",
    re.IGNORECASE,
)
_SHAPES = (
    # user:password@host in a URL; the password may hold "/" and "@" (left unescaped): it ends
    # at the "@" followed by a host name (and port) and the end of the authority.
    r"(?<=://)[^/\s:@]+:\S*?(?=@[\w.\-\[\]:%]+(?:[^\w.\-\[\]:%@]|$))",
    r"(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}",
    r"\b(?:sk|rk|pk)-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_]{16,}",
    r"\bhf_[A-Za-z0-9]{16,}",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    r"\bAKIA[0-9A-Z]{16}\b",
)
_lock = threading.Lock()
_added: set[str] = set()
_state: dict[str, Any] = {
    "environment": None,
    "pattern": None,
    "keys": {},
    "names": {},
    "scanned_at": float("-inf"),
}


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(str(key)))


def add_secret(value: Any) -> None:
    """Mask ``value`` from now on, wherever it appears (ignored when not a string of 8+ chars)."""
    if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH and value not in _added:
        with _lock:
            _added.add(value)
            _state["pattern"] = None


def current_pattern(max_age: float = 0.0) -> re.Pattern[str]:
    """The one regex of every known value and shape, rebuilt when the environment's secrets or
    the added ones change. Each call scans ``os.environ`` (tens of µs), unless one did less
    than ``max_age`` seconds ago; :func:`add_secret` takes effect at once either way."""
    pattern = _state["pattern"]
    now = time.monotonic()
    if pattern is not None and now - _state["scanned_at"] < max_age:
        return pattern
    _state["scanned_at"] = now
    names: dict[str, bool] = _state["names"]
    environment = []
    for name in os.environ:
        secret = names.get(name)
        if secret is None:
            secret = names[name] = bool(_SECRET_ENVIRONMENT_NAME.search(name))
        if secret:
            value = os.environ.get(name, "")
            if len(value) >= MIN_SECRET_LENGTH:
                environment.append(value)
    environment.sort()
    environment = tuple(environment)
    with _lock:  # the pattern and the environment it was built for, read together
        pattern = _state["pattern"]
        if pattern is not None and environment == _state["environment"]:
            return pattern
        values = sorted({*environment, *_added}, key=len, reverse=True)  # longest first
        alternatives = [re.escape(value) for value in values] + list(_SHAPES)
        pattern = re.compile("|".join(alternatives))
        _state.update(environment=environment, pattern=pattern, keys={})
    return pattern


def mask_text(text: str, pattern: re.Pattern[str] | None = None) -> str:
    """``text`` with every known secret value and credential shape replaced by ``REDACTED``."""
    return (pattern or current_pattern()).sub(REDACTED, text)


def mask(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists, tuples, strings) with secrets masked in every string,
    keys included."""
    return _walk(value, current_pattern(), by_key=False)


def redact(value: Any) -> Any:
    """Like :func:`mask`, and the value of every credential-like key is replaced whole (and
    learnt as a known secret, so it is masked where else it appears)."""
    pattern = current_pattern()
    if _learn(value):
        pattern = current_pattern()
    return _walk(value, pattern, by_key=True)


def _learn(value: Any) -> bool:
    found = False
    if isinstance(value, dict):
        for key, item in value.items():
            if is_secret_key(key) and isinstance(item, str) and item not in _added:
                before = len(_added)
                add_secret(item)
                found = found or len(_added) > before
            else:
                found = _learn(item) or found
    elif isinstance(value, (list, tuple)):
        for item in value:
            found = _learn(item) or found
    return found


def _walk(value: Any, pattern: re.Pattern[str], by_key: bool) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, dict):
        return {
            (pattern.sub(REDACTED, key) if isinstance(key, str) else key): REDACTED
            if by_key and is_secret_key(key) and item not in (None, "")
            else _walk(item, pattern, by_key)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_walk(item, pattern, by_key) for item in value]
    return value


def mask_record(values: dict[str, Any], pattern: re.Pattern[str] | None = None) -> dict[str, Any]:
    """A record's values with secrets masked in its keys and string values; the same dict when
    there is nothing to mask (the usual case: records of one kind share their keys, so one cached
    lookup per record, numbers untouched). A writer taking many records passes
    :func:`current_pattern` once per batch."""
    pattern = pattern or current_pattern()
    clean: dict[tuple[str, ...], bool] = _state["keys"]
    signature = tuple(values)
    keys_clean = clean.get(signature)
    if keys_clean is None:
        keys_clean = all(pattern.sub(REDACTED, key) == key for key in signature)
        if len(clean) < 10_000:
            clean[signature] = keys_clean
    if keys_clean and str not in set(map(type, values.values())):
        return values
    return {
        pattern.sub(REDACTED, key): pattern.sub(REDACTED, item) if isinstance(item, str) else item
        for key, item in values.items()
    }
