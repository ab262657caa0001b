"""Pure builders of record values: numbers in, a flat ``{catalog name: number}`` out.

Validation rows: ``val/loss``, ``val/perplexity``, ``val/eval_time_seconds``,
``val/train_val_gap``, ``val/num_batches`` and extra metrics (``val/<name>/...`` per dataset).
Checkpoint rows: ``checkpoint/count``, ``checkpoint/step``, ``checkpoint/is_best``,
``checkpoint/seconds`` (``checkpoint/size_mb`` is added on the writer thread). Token kinds:
``tokens/slots``, ``tokens/loss_bearing``, ``tokens/padding_efficiency_pct``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hf_tracking.catalog import (
    STEP_KEY,
    TOKENS_KEY,
    WALLCLOCK_KEY,
)


def axes(gradient_steps: int, wallclock_hours: float, tokens_seen: int) -> dict[str, Any]:
    return {STEP_KEY: gradient_steps, WALLCLOCK_KEY: wallclock_hours, TOKENS_KEY: tokens_seen}


def nonfinite(*numbers: float | None) -> int:
    """How many of ``numbers`` are NaN or inf."""
    return sum(1 for number in numbers if number is not None and not math.isfinite(number))


# The keys a validation row builds itself, under its prefix; ``extra`` may not replace them.
VALIDATION_KEYS = ("loss", "perplexity", "eval_time_seconds", "train_val_gap", "num_batches")


def validation_values(
    prefix: str,
    loss: float | None,
    perplexity: float | None,
    seconds: float | None,
    latest_train_loss: float | None,
    num_batches: int | None,
    extra: Mapping[str, float],
) -> dict[str, Any]:
    values: dict[str, Any] = {f"{prefix}/loss": loss, f"{prefix}/perplexity": perplexity}
    if seconds is not None:  # None: the duration is not known
        values[f"{prefix}/eval_time_seconds"] = seconds
    if latest_train_loss is not None and loss is not None:
        values[f"{prefix}/train_val_gap"] = loss - latest_train_loss
    if num_batches is not None:
        values[f"{prefix}/num_batches"] = num_batches
    for key, value in extra.items():
        values[f"{prefix}/{key}"] = value
    return values


def checkpoint_values(count: int, step: int, is_best: bool, seconds: float) -> dict[str, Any]:
    return {
        "checkpoint/count": count,
        "checkpoint/step": step,
        "checkpoint/is_best": int(is_best),
        "checkpoint/seconds": seconds,
    }


def token_kind_metrics(tokens_seen: int, token_kinds: Mapping[str, int]) -> dict[str, float]:
    """``tokens/slots`` (padding included), ``tokens/loss_bearing`` and the padding efficiency."""
    values: dict[str, float] = {f"tokens/{kind}": count for kind, count in token_kinds.items()}
    slots = token_kinds.get("slots")
    if slots:
        values["tokens/padding_efficiency_pct"] = 100.0 * tokens_seen / slots
    return values
