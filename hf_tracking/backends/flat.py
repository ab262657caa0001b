"""A run's nested config as flat ``{key: scalar}`` pairs, for stores that take flat parameters
(MLflow params, TensorBoard hparams)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

Scalar = bool | int | float | str


def flatten_config(config: Mapping[str, Any], separator: str = ".") -> dict[str, Scalar]:
    """Nested mappings become ``outer.inner`` keys; lists and other values become JSON text;
    None values are left out (neither store has a null)."""
    return dict(_items(config, "", separator))


def _items(config: Mapping[str, Any], prefix: str, separator: str) -> Iterator[tuple[str, Scalar]]:
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _items(value, f"{name}{separator}", separator)
        elif value is None:
            continue
        elif isinstance(value, (bool, int, float, str)):
            yield name, value
        else:
            yield name, json.dumps(value, default=str, sort_keys=True)


MAX_STEP = 2**63 - 1  # the stores keep a step as a signed 64-bit integer


def numeric_values(values: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of a record (booleans as 0/1); None, anything else and integers too large
    for a float left out."""
    return {
        key: float(value)
        for key, value in values.items()
        if isinstance(value, (int, float)) and (isinstance(value, float) or abs(value) < 2**1023)
    }


def record_step(values: Mapping[str, float], key: str) -> int | None:
    """The integer step of a record's ``key`` (0 without one), or None where it is not finite
    or outside a signed 64-bit integer (the record cannot be stored at any step)."""
    step = values.get(key, 0.0)
    if not math.isfinite(step) or abs(step) > MAX_STEP:
        return None
    return int(step)
