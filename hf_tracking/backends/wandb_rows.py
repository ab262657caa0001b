"""What the W&B mirror sends: its start message, rows thinned on a time cadence, and the run's
W&B config.

W&B's work grows with the keys of a row (about 5 ms of CPU per 30-key row in its processes on a
2-core machine), so a training row goes to W&B with its full-resolution keys only:
``train/loss``, ``train/learning_rate``, ``train/grad_norm`` and the three axes. Every other key
of a training row (time ledger, token kinds, memory, progress, throughput, efficiency, other
Trainer keys) is a diagnostic, sent with the first training row and then at most once every
``interval`` seconds of the run's wallclock, like W&B's own system metrics, and with the
training row before each evaluation, each save and the end. Validation, checkpoint and custom rows go
whole. The local run store keeps every key of every row. Pure: no wandb, no I/O.

The start message and the rows are the same whether the W&B process runs during training or
writes an offline run from the local store afterwards (:mod:`.wandb_deferred`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hf_tracking.backends import wandb_env
from hf_tracking.catalog import (
    ALERT_KIND,
    AXES,
    GRAD_NORM,
    LEARNING_RATE,
    LEDGER_KEYS,
    PLOTTED_GROUPS,
    STEP_KEY,
    TOKENS_KEY,
    TRAIN_LOSS,
    WALLCLOCK_KEY,
)
from hf_tracking.redact import redact

DECLARED_AXES = (WALLCLOCK_KEY, TOKENS_KEY, *LEDGER_KEYS)
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


def start_message(
    run: Any, run_id: str, resume: str | None, directory: str, mode: str
) -> dict[str, Any]:
    """The W&B process's ``start`` message for a :class:`~hf_tracking.backends.base.RunInfo`:
    ``wandb.init`` keyword arguments (the ``WANDB_*`` variables over the run's own names) and the
    axes to declare. Reads the model's config and size when the run has a model."""
    model, model_config, parameters = run.model, None, None
    config = getattr(model, "config", None)
    if config is not None:
        model_config = redact(config if isinstance(config, dict) else config.to_dict())
    counter = getattr(model, "num_parameters", None)
    if callable(counter):
        parameters = counter()
    init = wandb_env.init_settings(run)
    init.update(
        id=run_id,
        resume=resume,
        config=wandb_config(run.config, model_config, parameters),
        dir=directory,
        mode=mode,
    )
    return {
        "start": init,
        "step_metric": STEP_KEY,
        "axes": list(DECLARED_AXES),
        "groups": list(PLOTTED_GROUPS),
    }


def alert_message(values: Mapping[str, Any]) -> dict[str, str]:
    """``run.alert``'s title (at most 64 characters) and text for an alert row."""
    return {
        "title": f"hf_tracking: {values.get(ALERT_KIND)}"[:64],
        "text": str(values.get("alert/message", "")),
    }
