"""The run behind :class:`~hf_tracking.AccelerateTracker`: its config, and its clock, tokens,
checkpoints and resume driven by the hooks of :mod:`.accelerate_process` (main process only).

Time, from the prepared model's forwards and the optimizer's steps:

| event | what the run's clock does |
| --- | --- |
| first training forward of a step | the step begins (time since the last event, such as data loading or an evaluation nobody logged, is "other") |
| optimizer step that ran | the step ends: ``time/gradient_steps`` moves on by one |
| first evaluation forward after training | the evaluation begins; training time stops there |
| ``accelerator.log`` with an evaluation loss | the validation row's duration is the time since the first evaluation forward; the training row of the same call describes the moment training stopped, so evaluation is never in throughput |

Without evaluation forwards (an evaluation the prepared model did not run) the validation row
has no duration unless the call passes ``eval_runtime``: never a made-up one.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from typing import Any

from hf_tracking.config import ExperimentConfig
from hf_tracking.errors import ConfigError
from hf_tracking.jsonio import atomic_write_json
from hf_tracking.metrics.params import format_count
from hf_tracking.tokens import split_totals
from hf_tracking.tracker import ExperimentTracker
from hf_tracking.trainer.accelerate_process import STATE_FILE
from hf_tracking.trainer.trainer_config import model_fields

logger = logging.getLogger("hf_tracking")
TOKEN_COUNTING = "hf_tracking forward pre-hook on the prepared model (non-padding), all processes"
NO_MODEL = (
    "no model: no config was passed and no model was prepared, so the sizes, FLOPs per token "
    "and MFU are not known"
)
NOT_A_DECODER = (
    "the prepared model's config gives no decoder sizes (layers, width, heads, vocabulary): "
    "FLOPs per token and MFU are left out; pass a config with them"
)


def model_config(fields: dict[str, Any], model: Any) -> tuple[dict[str, Any], str | None]:
    """Config fields for a run given no config: the model's own sizes, or None with the reason
    they are not known. The run is named after the model's real size, never a default recipe."""
    fields = {**fields, "dataset": "custom", "experiment_type": "accelerate"}
    if model is None:
        return {**fields, "model_size": "unknown"}, NO_MODEL
    sizes = model_fields(model)
    shaped = {**fields, **sizes}
    if {"vocab_size", "d_model", "num_layers", "num_heads"} <= sizes.keys():
        with contextlib.suppress(ConfigError):  # sizes hf_tracking's formulas cannot take
            return ExperimentConfig.from_dict(shaped).to_dict(), None
    count = sum(parameter.numel() for parameter in model.parameters())
    return {**fields, "model_size": format_count(count)}, NOT_A_DECODER


def independent_processes(processes: int) -> int | None:
    """The launcher's process count when it started several processes that the Accelerator
    does not join into one job (``accelerate launch --multi_gpu`` on a machine without GPUs)."""
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1)
    return launched if processes == 1 and launched > 1 else None


def warn_independent(launched: int) -> None:
    logger.warning(
        "hf_tracking: the launcher started %d processes but the Accelerator is not distributed "
        "(distributed_type NO, as after accelerate launch --multi_gpu on a machine without GPUs; "
        "add --cpu or set ACCELERATE_USE_CPU=1 for one job): every process trains on its own "
        "data and model; only the process of RANK 0 is tracked, as one run counting its own "
        "tokens",
        launched,
    )


class AccelerateRun:
    """The engine of one accelerate run and what the hooks tell it."""

    def __init__(self, engine: ExperimentTracker, counting_tokens: bool) -> None:
        self.engine = engine
        self.eval_began: float | None = None
        self.counting_steps = False
        self._open_step = False
        self._base_tokens = 0
        self._base_kinds: dict[str, int] = {}
        if counting_tokens:
            engine.hooks.token_counting = TOKEN_COUNTING

    # ------------------------------------------------------------------ the hooks' events
    def step_began(self) -> None:
        engine = self.engine
        engine.start()  # once: after a load_state, before the first training forward
        engine.step_begin()
        self._open_step = True
        self.eval_began = None

    def optimizer_stepped(self) -> None:
        self.counting_steps = True
        self._open_step = False
        self.engine.step_end(self.engine.gradient_steps + 1)

    def evaluation_began(self, in_step: bool) -> None:
        engine = self.engine
        if in_step and self._open_step:  # training forwards since the last optimizer step
            engine.step_end(engine.gradient_steps)
        self._open_step = False
        if self.eval_began is None:
            self.eval_began = engine.clock.now()

    def take_token_totals(self, totals: Mapping[str, int]) -> None:
        tokens, kinds, seq_length = split_totals(dict(totals))
        base = self._base_kinds
        self.engine.hooks.set_token_totals(
            self._base_tokens + tokens,
            {kind: base.get(kind, 0) + count for kind, count in kinds.items()},
        )
        if seq_length:
            self.engine.hooks.observe_seq_length(seq_length)

    def checkpoint_saved(self, location: str, seconds: float) -> None:
        """After ``save_state``: the run's state beside accelerate's files, then the event."""
        engine = self.engine.start()
        if not engine.is_main_process:
            return
        if self._open_step:  # saved between micro-batches: training so far is training
            engine.step_end(engine.gradient_steps)
            self._open_step = False
        if os.path.isdir(location):
            atomic_write_json(os.path.join(location, STATE_FILE), engine.state_dict())
        engine.log_checkpoint(location, seconds=seconds)

    def resume_from(self, state: Mapping[str, Any], location: str) -> None:
        """``load_state`` of a checkpoint that holds the run's state: the same run goes on."""
        engine = self.engine
        try:
            engine.load_state_dict(state)
        except RuntimeError:
            logger.warning(
                "hf_tracking: load_state(%r) came after the run had started logging; it goes on "
                "as it was (call load_state before the first training step to continue the run "
                "saved there)",
                location,
            )
            return
        engine.hooks.note_resumed_checkpoint(location)
        self._base_tokens = engine.tokens_seen
        self._base_kinds = dict(engine.token_kinds)

    # ------------------------------------------------------------------ a log call
    def move_to(self, step: int | None, training: bool) -> None:
        """The step axis moves on to ``step`` (one step per training row without it, unless the
        optimizer's steps are counted)."""
        engine = self.engine
        if step is None:
            if not training or self.counting_steps:
                return
            step = engine.gradient_steps + 1
        if not (step > engine.gradient_steps or (step == 0 and training)):
            return
        if self.counting_steps or self.eval_began is not None:
            engine.run.gradient_steps = step  # the axis only: the clock stopped already
        else:
            engine.step_end(step)
        self._open_step = False

    def validation_seconds(self, given: Any) -> tuple[Any, bool]:
        """(eval_seconds, timed) of a validation row: the caller's ``eval_runtime``, else the
        time since the first evaluation forward, else unknown."""
        if given is not None:
            return given, True
        if self.eval_began is not None:
            return self.engine.clock.now() - self.eval_began, True
        return None, False

    def validation_logged(self) -> None:
        self.eval_began = None
