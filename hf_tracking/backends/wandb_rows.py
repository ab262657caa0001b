"""What the W&B mirror sends: rows thinned on a time cadence, and the run's W&B config.

W&B's work grows with the keys of a row (about 5 ms of CPU per 30-key row in its processes on a
2-core machine), so a training row goes to W&B with its full-resolution keys only:
``train/loss``, ``train/learning_rate``, ``train/grad_norm`` and the three axes. Every other key
of a training row (time ledger, token kinds, memory, progress, throughput, efficiency, other
Trainer keys) is a diagnostic, sent with the first training row and then at most once every
``interval`` seconds of the run's wallclock, like W&B's own system metrics, and with the
training row before each evaluation, each save and the end. Validation, checkpoint and custom rows go
whole. The local run store keeps every key of every row. Pure: no wandb, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hf_tracking.catalog import AXES, GRAD_NORM, LEARNING_RATE, TRAIN_LOSS, WALLCLOCK_KEY

FULL_RESOLUTION = frozenset((TRAIN_LOSS, LEARNING_RATE, GRAD_NORM, *AXES))
# A held training row goes whole when one of these follows it (an evaluation, a save).
WHOLE_AFTER = ("val", "checkpoint")


class RowThinner:
    """Turns records into W&B rows, in order; ``interval`` 0 sends every key of every row.

    A training row that is not due for its diagnostics is held until the next record comes: sent
    with its full-resolution keys when a training or custom row follows, whole when a validation
    or checkpoint row follows or the run ends. So the rows before an evaluation, a save and the
    end carry their diagnostics, and W&B holds one row per record.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last_full: float | None = None
        self._held: dict[str, Any] | None = None

    def rows(self, kind: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows to send now for a record of this kind (``final`` records are not rows)."""
        row = {key: value for key, value in values.items() if value is not None}
        out = self._release(whole=kind in WHOLE_AFTER)
        if kind != "train" or self.interval <= 0:
            out.append(row)
            return out
        seconds = _seconds(row)
        if self._last_full is None or seconds is None or seconds - self._last_full >= self.interval:
            self._last_full = seconds if seconds is not None else self._last_full
            out.append(row)
        else:
            self._held = row
        return out

    def last(self) -> list[dict[str, Any]]:
        """At the end of the run: the held training row, whole."""
        held, self._held = self._held, None
        return [held] if held is not None else []

    def _release(self, whole: bool) -> list[dict[str, Any]]:
        held, self._held = self._held, None
        if held is None:
            return []
        if whole:
            return [held]
        return [{key: value for key, value in held.items() if key in FULL_RESOLUTION}]


def _seconds(row: Mapping[str, Any]) -> float | None:
    hours = row.get(WALLCLOCK_KEY)
    return float(hours) * 3600.0 if isinstance(hours, (int, float)) else None


def wandb_config(
    config: Mapping[str, Any],
    model_config: Mapping[str, Any] | None = None,
    num_parameters: int | None = None,
) -> dict[str, Any]:
    """The run's config as W&B stores it: the tracker's config, then, as ``WandbCallback`` puts
    them, the model's ``config.to_dict()``, the TrainingArguments (the tracker's ``trainer``
    section, also kept nested) over it, and ``model/num_parameters``."""
    combined = dict(config)
    combined.update(model_config or {})
    trainer = config.get("trainer")
    if isinstance(trainer, Mapping):
        combined.update(trainer)
    if num_parameters:
        combined["model/num_parameters"] = num_parameters
    return combined
