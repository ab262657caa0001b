"""accelerate's tracker interface in front of the engine: ``Accelerator(log_with="hf_tracking")``.

``accelerator.log(values, step=step)`` is read as the Trainer's logs are: values already
aggregated by the caller, at the optimizer step ``step`` (the number of steps completed, as
accelerate's examples pass ``completed_steps``; it becomes ``time/gradient_steps``). One call
makes at most one training row and one validation row:

| key in ``values`` | goes to |
| --- | --- |
| ``loss`` or ``train_loss`` | a training row: ``train/loss``, ``train/perplexity``, throughput, ETA |
| ``lr`` or ``learning_rate``, ``grad_norm`` | the same row (``train/learning_rate``, ``train/grad_norm``) |
| ``step`` | the step axis, when ``step=`` is not passed (never a metric) |
| ``epoch`` | ``train/epoch`` in the training row (``val/epoch`` in a validation-only call) |
| ``tokens`` | real tokens since the previous ``log`` call, all processes: ``time/tokens_seen``; only where no prepared model is counted (see below) |
| ``eval_loss`` or ``val_loss`` | a validation row: ``val/loss``, ``val/perplexity``, ... |
| ``perplexity``, ``eval_perplexity`` | with a validation loss: ``val/perplexity`` |
| ``eval_runtime`` | that validation's duration in seconds (``val/eval_time_seconds``) |
| ``eval_<name>``, ``val_<name>`` | ``val/<name>`` in the validation row |
| any other number | ``train/<key>`` in the training row; ``custom/<key>`` in a call without one (a key with a ``/`` keeps its name) |

With a model from ``accelerator.prepare`` (:mod:`.accelerate_process`, :mod:`.accelerate_run`),
tokens are counted from the batches it sees on every process (non-padding, by the attention
mask), the step clock follows the optimizer's steps, evaluation time is measured from the first
evaluation forward, ``save_state`` is a checkpoint event with the run's state saved beside it,
and ``load_state`` of such a checkpoint continues the run. Values that are not numbers (strings,
images) are skipped with one warning per key. Every ``log`` call with a loss is one row,
whatever ``log_every_steps`` says: how often you call it is the logging interval.
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
from hf_tracking.engine.records import VALIDATION_KEYS as RESERVED_VALIDATION_NAMES
from hf_tracking.tracker import ExperimentTracker
from hf_tracking.trainer import accelerate_process
from hf_tracking.trainer.accelerate_run import (
    AccelerateRun,
    independent_processes,
    model_config,
    warn_independent,
)
from hf_tracking.trainer.logs import train_key

logger = logging.getLogger("hf_tracking")
LOSS_KEYS = ("loss", "train_loss")
LEARNING_RATE_KEYS = ("lr", "learning_rate")
VALIDATION_LOSS_KEYS = ("eval_loss", "val_loss")
VALIDATION_PERPLEXITY_KEYS = ("eval_perplexity", "val_perplexity", "perplexity")
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
    ``model`` gives the parameter counts and FLOPs (default: the model ``accelerator.prepare``
    returned first). By name, pass these through
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
        self._fields = as_config(config).to_dict()
        self._given_config = config is not None
        if project is not None:
            self._fields["project"] = project
        self._fields["log_every_steps"] = 1
        self._model = model
        self._backends = backends
        self._hyperparameters: dict[str, Any] = {}
        self._engine: ExperimentTracker | None = None
        self._run: AccelerateRun | None = None
        self._process: accelerate_process.AccelerateProcess | None = None
        self._pending_tokens = 0
        self._tokens_seen = 0
        self._skipped: set[str] = set()
        self._warned: set[str] = set()

    @property
    def tracker(self) -> ExperimentTracker:
        if self._engine is None:
            self._engine = self._build()
        return self._engine

    def _build(self) -> ExperimentTracker:
        from accelerate.state import PartialState

        process = self._process or accelerate_process.latest()
        if process is not None and not process.serves(self):
            process = None
        fields, model = self._fields, self._model
        if model is None and process is not None:
            model = process.model
        unknown = None
        if not self._given_config:
            fields, unknown = model_config(fields, model)
        state = PartialState()
        main = state.is_main_process
        launched = independent_processes(state.num_processes)
        if launched:
            main = main and int(os.environ.get("RANK", "0") or 0) == 0
            if main:
                warn_independent(launched)
        engine = ExperimentTracker(
            ExperimentConfig.from_dict(fields),
            model,
            is_main_process=main,
            world_size=state.num_processes,
            backends=self._backends,
            extra_config=self._hyperparameters,
        )
        if unknown:
            engine.compute.drop_sizes(unknown)
        counting = process is not None and process.counter is not None
        self._run = AccelerateRun(engine, counting_tokens=counting)
        if process is not None:
            self.bind(process)
            if process.pending_resume is not None:
                self._run.resume_from(*process.pending_resume)
                process.pending_resume = None
        return engine

    def start(self) -> None:
        """``init_trackers``: take the events of the accelerator's hooks when ``prepare`` came
        first (otherwise the hooks find this tracker when ``prepare`` comes)."""
        process = accelerate_process.latest()
        if process is not None and process.serves(self):
            self.bind(process)

    def bind(self, process: accelerate_process.AccelerateProcess) -> None:
        """Take the hooks' events of ``process`` (the main process's part of the accelerator)."""
        self._process = process
        process.listener = self

    @on_main_process
    def store_init_configuration(self, values: dict) -> None:
        """``init_trackers(config=...)``: the keys of :data:`HYPERPARAMETERS` set the learning rate,
        batch size, accumulation, planned steps and sequence length (None is skipped); the whole
        dict goes into the run's config. The run opens at the first training step (after a
        ``load_state``, which continues a saved run)."""
        if self._engine is not None:
            logger.warning(
                "hf_tracking: init_trackers(config=...) came after the run started; not stored"
            )
            return
        for key, field in HYPERPARAMETERS.items():
            if values.get(key) is not None:
                self._fields[field] = values[key]
        self._hyperparameters.update(values)

    # ------------------------------------------------------------------ hooks' events
    def _events(self) -> AccelerateRun:
        if self._engine is None:
            self._engine = self._build()
        assert self._run is not None
        return self._run

    def step_began(self) -> None:
        self._events().step_began()

    def optimizer_stepped(self) -> None:
        self._events().optimizer_stepped()

    def evaluation_began(self, in_step: bool) -> None:
        self._events().evaluation_began(in_step)

    def take_token_totals(self, totals: Mapping[str, int]) -> None:
        self._events().take_token_totals(totals)

    def checkpoint_saved(self, location: str, seconds: float) -> None:
        self._events().checkpoint_saved(location, seconds)

    def resume_from(self, state: Mapping[str, Any], location: str) -> None:
        self._events().resume_from(state, location)

    # ------------------------------------------------------------------ log
    @on_main_process
    def log(self, values: dict, step: int | None = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(
                f"hf_tracking: AccelerateTracker.log() takes no log_kwargs, got {sorted(kwargs)}"
            )
        numbers = {key: value for key, value in values.items() if self._is_number(key, value)}
        axis = numbers.pop("step", None)  # an axis, as step= is
        step = _checked_step(step) if step is not None or axis is None else _whole(axis, "step")
        epoch = numbers.pop("epoch", None)
        run = self._events()
        engine = run.engine
        counted = self._process is not None and self._process.counter is not None
        if "tokens" in numbers:
            tokens = _whole(numbers.pop("tokens"))
            if counted:
                self._warn_once(
                    "tokens",
                    "hf_tracking: tokens are counted from the prepared model's inputs on every "
                    "process; the logged 'tokens' value is not added",
                )
            else:
                self._pending_tokens += tokens
        loss = _pop_first(numbers, LOSS_KEYS)
        val_loss = _pop_first(numbers, VALIDATION_LOSS_KEYS)
        training_ended = run.eval_began
        run.move_to(step, loss is not None)
        if loss is not None:
            learning_rate = _pop_first(numbers, LEARNING_RATE_KEYS)
            grad_norm = numbers.pop("grad_norm", None)
            if not counted:
                self._tokens_seen += self._pending_tokens
                self._pending_tokens = 0
            extra = {} if epoch is None else {"train/epoch": epoch}
            if val_loss is None:
                extra.update((train_key(key), numbers.pop(key)) for key in list(numbers))
            else:
                extra.update(
                    (train_key(key), numbers.pop(key))
                    for key in list(numbers)
                    if not key.startswith(VALIDATION_PREFIXES) and key != "perplexity"
                )
            engine.hooks.log_train_values(
                loss=loss,
                learning_rate=learning_rate,
                grad_norm=grad_norm,
                tokens_seen=None if counted else self._tokens_seen,
                extra=extra,
                at=training_ended,
            )
            epoch = None
        if val_loss is not None:
            self._log_validation(engine, run, val_loss, numbers, epoch)
            epoch = None
        if epoch is not None:
            numbers["epoch"] = epoch
        for key, value in numbers.items():
            engine.log_custom_metric(key, value)

    def _log_validation(
        self, engine: ExperimentTracker, run: AccelerateRun, loss: Any, numbers: dict, epoch: Any
    ) -> None:
        perplexity = _pop_first(numbers, VALIDATION_PERPLEXITY_KEYS)
        seconds, timed = run.validation_seconds(numbers.pop("eval_runtime", None))
        extra = {} if epoch is None else {"epoch": epoch}
        for key in [key for key in numbers if key.startswith(VALIDATION_PREFIXES)]:
            name = key.split("_", 1)[1]
            if name not in RESERVED_VALIDATION_NAMES:
                extra[name] = numbers.pop(key)
        engine.log_validation(
            val_loss=loss,
            val_perplexity=perplexity,
            eval_seconds=None if seconds is None else float(seconds),
            extra=extra,
            timed=timed,
        )
        run.validation_logged()

    @on_main_process
    def finish(self) -> None:
        """``accelerator.end_training()``: write the summary; W&B finishes in its own process."""
        if self._engine is not None:
            self._engine.finish()

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

    def _warn_once(self, topic: str, message: str) -> None:
        if topic not in self._warned:
            self._warned.add(topic)
            logger.warning(message)


def _checked_step(step: Any) -> int | None:
    if step is None:
        return None
    try:
        step = operator.index(step)
    except TypeError:
        raise TypeError(f"hf_tracking: step must be an int, got {step!r}") from None
    if step < 0:
        raise ValueError(f"hf_tracking: step must be >= 0, got {step}")
    return step


def _pop_first(values: dict[str, Any], keys: tuple[str, ...]) -> Any:
    found = None
    for key in keys:
        if key in values:
            value = values.pop(key)
            found = value if found is None else found
    return found


def _whole(value: Any, name: str = "tokens") -> int:
    # A 0-dim tensor is read here: log calls are the logging steps.
    count = value.item() if hasattr(value, "item") else value
    if (isinstance(count, float) and not count.is_integer()) or count < 0:
        raise ValueError(f"hf_tracking: {name} must be a whole number >= 0, got {value!r}")
    return int(count)
