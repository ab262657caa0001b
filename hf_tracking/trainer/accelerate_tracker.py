"""accelerate's tracker interface in front of the engine: ``Accelerator(log_with="hf_tracking")``.

``accelerator.log(values, step=step)`` is read as the Trainer's logs are: values already
aggregated by the caller, at the optimizer step ``step`` (the number of steps completed, as
accelerate's examples pass ``completed_steps``; it becomes ``time/gradient_steps``).

| key in ``values`` | goes to |
| --- | --- |
| ``loss`` or ``train_loss`` | a training row: ``train/loss``, ``train/perplexity``, throughput, ETA |
| ``lr`` or ``learning_rate``, ``grad_norm`` | the same row (``train/learning_rate``, ``train/grad_norm``) |
| ``tokens`` | real tokens since the previous ``log`` call, all processes: ``time/tokens_seen`` |
| ``eval_loss`` or ``val_loss`` | a validation row: ``val/loss``, ``val/perplexity``, ... |
| ``eval_runtime`` | that validation's duration in seconds (``val/eval_time_seconds``) |
| ``eval_<name>``, ``val_<name>`` | ``val/<name>`` in the validation row |
| any other number | ``custom/<key>`` (a key with a ``/`` keeps its name) |

Without a loss in the same call, ``lr``, ``grad_norm`` and eval keys are logged as custom
metrics, and ``tokens`` wait for the next training row. Values that are not numbers (strings,
images) are skipped with one warning per key. Every ``log`` call with a loss is one row, whatever
``log_every_steps`` says: how often you call it is the logging interval.
"""

from __future__ import annotations

import logging
import operator
import os
from collections.abc import Mapping
from typing import Any

from accelerate.tracking import GeneralTracker, on_main_process

from hf_tracking.backends.base import Backend
from hf_tracking.config import ExperimentConfig, as_config
from hf_tracking.tracker import ExperimentTracker

logger = logging.getLogger("hf_tracking")
LOSS_KEYS = ("loss", "train_loss")
LEARNING_RATE_KEYS = ("lr", "learning_rate")
VALIDATION_LOSS_KEYS = ("eval_loss", "val_loss")
VALIDATION_PREFIXES = ("eval_", "val_")
# init_trackers(config=...) keys that set ExperimentConfig fields (names of accelerate's examples).
HYPERPARAMETERS = {
    "learning_rate": "learning_rate",
    "lr": "learning_rate",
    "batch_size": "batch_size",
    "per_device_train_batch_size": "batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "num_iterations": "num_iterations",
    "max_train_steps": "num_iterations",
    "seq_length": "seq_length",
    "block_size": "seq_length",
}


class AccelerateTracker(GeneralTracker):
    """A tracker for ``Accelerator(log_with=...)``, by name or as an instance.

    ``project`` is the W&B project (``init_trackers``' ``project_name`` when accelerate builds it by
    name); ``config`` is an :class:`~hf_tracking.ExperimentConfig`, a mapping or a YAML/JSON path;
    ``model`` gives the parameter counts and FLOPs. By name, pass these through
    ``init_trackers(..., init_kwargs={"hf_tracking": {"config": ..., "model": model}})``.
    ``.tracker`` (and ``accelerator.get_tracker("hf_tracking", unwrap=True)``) is the
    :class:`~hf_tracking.ExperimentTracker` behind it, built on first use.
    """

    name = "hf_tracking"
    requires_logging_directory = False
    main_process_only = True

    def __init__(
        self,
        project: str | None = None,
        config: ExperimentConfig | Mapping[str, Any] | str | os.PathLike | None = None,
        model: Any = None,
        backends: list[Backend] | None = None,
    ) -> None:
        super().__init__()
        fields = as_config(config).to_dict()
        if project is not None:
            fields["project"] = project
        fields["log_every_steps"] = 1
        self._fields = fields
        self._model = model
        self._backends = backends
        self._hyperparameters: dict[str, Any] = {}
        self._engine: ExperimentTracker | None = None
        self._pending_tokens = 0
        self._tokens_seen = 0
        self._skipped: set[str] = set()

    @property
    def tracker(self) -> ExperimentTracker:
        if self._engine is None:
            from accelerate.state import PartialState

            state = PartialState()
            self._engine = ExperimentTracker(
                ExperimentConfig.from_dict(self._fields),
                self._model,
                is_main_process=state.is_main_process,
                world_size=state.num_processes,
                backends=self._backends,
                extra_config=self._hyperparameters,
            )
        return self._engine

    @on_main_process
    def store_init_configuration(self, values: dict) -> None:
        """``init_trackers(config=...)``: the keys of :data:`HYPERPARAMETERS` set the learning rate,
        batch size, accumulation, planned steps and sequence length (None is skipped); the whole
        dict goes into the run's config."""
        if self._engine is not None:
            logger.warning(
                "hf_tracking: init_trackers(config=...) came after the run started; not stored"
            )
            return
        for key, field in HYPERPARAMETERS.items():
            if values.get(key) is not None:
                self._fields[field] = values[key]
        self._hyperparameters.update(values)
        # Start now: W&B's start-up overlaps the first training steps.
        self.tracker.start()

    @on_main_process
    def log(self, values: dict, step: int | None = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(
                f"hf_tracking: AccelerateTracker.log() takes no log_kwargs, got {sorted(kwargs)}"
            )
        engine = self.tracker
        numbers = {key: value for key, value in values.items() if self._is_number(key, value)}
        if "tokens" in numbers:
            self._pending_tokens += _whole(numbers.pop("tokens"))
        loss = _pop_first(numbers, LOSS_KEYS)
        self._advance(engine, step, loss is not None)
        if loss is not None:
            self._tokens_seen += self._pending_tokens
            self._pending_tokens = 0
            engine.log_train_values(
                loss=loss,
                learning_rate=_pop_first(numbers, LEARNING_RATE_KEYS),
                grad_norm=numbers.pop("grad_norm", None),
                tokens_seen=self._tokens_seen,
            )
        val_loss = _pop_first(numbers, VALIDATION_LOSS_KEYS)
        if val_loss is not None:
            seconds = numbers.pop("eval_runtime", None)
            extra = {}
            for key in [key for key in numbers if key.startswith(VALIDATION_PREFIXES)]:
                extra[key.split("_", 1)[1]] = numbers.pop(key)
            engine.log_validation(
                val_loss=val_loss,
                eval_seconds=None if seconds is None else float(seconds),
                extra=extra,
            )
        for key, value in numbers.items():
            engine.log_custom_metric(key, value)

    @on_main_process
    def finish(self) -> None:
        """``accelerator.end_training()``: write the summary; W&B finishes in its own process."""
        if self._engine is not None:
            self._engine.finish()

    def _advance(self, engine: ExperimentTracker, step: int | None, training: bool) -> None:
        # The step clock moves on to ``step`` (one step per training row without it).
        if step is None:
            if training:
                engine.step_end(engine.gradient_steps + 1)
            return
        try:
            step = operator.index(step)
        except TypeError:
            raise TypeError(f"hf_tracking: step must be an int, got {step!r}") from None
        if step < 0:
            raise ValueError(f"hf_tracking: step must be >= 0, got {step}")
        if step > engine.gradient_steps or (step == 0 and training):
            engine.step_end(step)

    def _is_number(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool) and (
            isinstance(value, (int, float)) or getattr(value, "ndim", None) == 0
        ):
            return True
        if key not in self._skipped:
            self._skipped.add(key)
            logger.warning(
                "hf_tracking: %r is not a number or a 0-dim tensor (%s); not logged",
                key,
                type(value).__name__,
            )
        return False


def _pop_first(values: dict[str, Any], keys: tuple[str, ...]) -> Any:
    found = None
    for key in keys:
        if key in values:
            value = values.pop(key)
            found = value if found is None else found
    return found


def _whole(tokens: Any) -> int:
    # A 0-dim tensor is read here: log calls are the logging steps.
    count = tokens.item() if hasattr(tokens, "item") else tokens
    if (isinstance(count, float) and not count.is_integer()) or count < 0:
        raise ValueError(f"hf_tracking: tokens must be a whole number >= 0, got {tokens!r}")
    return int(count)
