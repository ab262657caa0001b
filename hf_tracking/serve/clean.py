"""What a dashboard answer may hold: strict JSON with every secret masked, keys included.

Files are masked by their writer with the secrets it knew; the server may know more (a run logged
without ``HF_TOKEN`` set, served with it set), so every answer is masked again here, dict keys and
metric names as well as values (:func:`hf_tracking.redact.mask_text`). NaN and infinities become
null, and nesting deeper than :data:`MAX_DEPTH` is cut (null), so an answer always encodes.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hf_tracking.redact import current_pattern, mask_text

MAX_DEPTH = 64


def public(value: Any) -> Any:
    """A copy of ``value`` that :func:`encode` takes: masked, finite, at most MAX_DEPTH deep."""
    return _walk(value, current_pattern(), 0)


def encode(value: Any) -> bytes:
    return json.dumps(public(value), allow_nan=False, separators=(",", ":")).encode()


def _walk(value: Any, pattern: re.Pattern[str], depth: int) -> Any:
    if isinstance(value, str):
        return mask_text(value, pattern)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {
            mask_text(str(key), pattern): _walk(item, pattern, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_walk(item, pattern, depth + 1) for item in value]
    return None
