"""Training health in a Trainer run: hidden non-finite losses, per-block norms, the alert's action.

| Trainer event | what happens |
| --- | --- |
| ``on_train_begin`` | a forward hook starts keeping each training micro-batch's loss (a reference: no tensor op, no sync); with ``track_layers``, the model's blocks are found |
| ``on_pre_optimizer_step`` / ``on_optimizer_step`` | on a logging step the cadence picks (``track_layers`` only: :mod:`hf_tracking.metrics.layer_cadence`): each block's gradient, update and parameter sums of squares, on the device (:mod:`hf_tracking.layers`) |
| ``on_log`` | the row gets ``train/nonfinite_losses`` (the kept losses that were NaN/inf, counted as the row is built, on the writer thread) and the ``layers/*`` keys; with ``on_alert`` other than ``warn``, the row is built at once and an alert sets ``should_training_stop`` (and ``should_save`` for ``checkpoint_and_stop``) |

Why the losses: with ``logging_nan_inf_filter=True`` (the default) the Trainer replaces a NaN/inf
micro-batch loss by the running average before it is logged, so ``train/loss`` never shows it.
The hook sees the model's own loss (``outputs.loss``); a loss computed outside the model
(``compute_loss_func``, label smoothing) is not seen, and the grad-norm check remains. The count
covers this process's micro-batches. With several processes, rank zero's detectors decide a stop
and one broadcast on each logging step tells the other ranks (only when ``on_alert`` acts).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hf_tracking.catalog import NONFINITE_LOSSES
from hf_tracking.trainer.gather import rank_zero_decides

# Kept losses past which they are folded into one device-side count (nothing read back).
MAX_KEPT = 64


class LossWatch:
    """Each training forward's loss tensor, kept by reference until a row counts them."""

    def __init__(self) -> None:
        self.kept: list[Any] = []
        self.folded: Any = None  # a 0-dim count of non-finite losses folded so far, or None
        self._handle: Any = None

    def attach(self, model: Any) -> None:
        self._handle = model.register_forward_hook(self._hook)

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _hook(self, module: Any, args: Any, output: Any) -> None:
        if module.training:
            loss = getattr(output, "loss", None)
            if loss is not None:
                self.kept.append(loss)
                if len(self.kept) >= MAX_KEPT:
                    self._fold()

    def take(self) -> tuple[list[Any], Any]:
        """The losses kept so far and the folded count (a reference swap: nothing runs on the
        device); :func:`count_nonfinite` counts them, as the row is built."""
        kept, self.kept = self.kept, []
        folded, self.folded = self.folded, None
        return kept, folded

    def _fold(self) -> None:
        """Past ``MAX_KEPT`` losses, one device-side count (nothing read back)."""
        self.folded = _nonfinite_on_device(self.take())


def _nonfinite_on_device(taken: tuple[list[Any], Any]) -> Any:
    """The non-finite losses of :meth:`LossWatch.take` as a 0-dim device tensor, or None."""
    kept, folded = taken
    if not kept:
        return folded
    import torch

    with torch.no_grad():
        count = torch.stack([loss.detach().float() for loss in kept]).isfinite()
        count = count.logical_not().sum()
    return count if folded is None else count + folded


def count_nonfinite(taken: tuple[list[Any], Any]) -> int:
    """How many of the taken losses were NaN/inf (one device read; host losses one by one)."""
    kept, folded = taken
    if folded is None and kept and kept[0].is_cpu:
        return sum(not math.isfinite(loss.item()) for loss in kept)
    count = _nonfinite_on_device(taken)
    return 0 if count is None else int(count.item())


def will_log(args: Any, state: Any) -> bool:
    """Whether the step now ending logs (DefaultFlowCallback's rule, read before it runs)."""
    step = state.global_step + 1
    if step == 1 and args.logging_first_step:
        return True
    strategy = str(getattr(args.logging_strategy, "value", args.logging_strategy))
    every = state.logging_steps or 0
    return strategy == "steps" and every > 0 and step % every == 0


class TrainerHealth:
    """The health hooks of one Trainer run's tracker."""

    def __init__(self, tracker: Any, model: Any, world_size: int) -> None:
        self.tracker = tracker
        self.world_size = world_size
        self.losses: LossWatch | None = None
        main, config = tracker.is_main_process, tracker.config
        watched = main and config.track_layers and model is not None
        self.layers = tracker.hooks.layers if watched else None  # per-block norms
        if self.layers is not None:
            self.layers.prepare(model)
        # Whether an alert acts on the Trainer's control (every rank takes part in the decision).
        self.acts = config.health_checks and config.on_alert != "warn"
        if main and config.health_checks and model is not None:
            self.losses = LossWatch()
            self.losses.attach(model)

    def before_optimizer_step(self, args: Any, state: Any, model: Any) -> None:
        """On a step the cadence picks (``track_layers``): the norms' first half, if it logs;
        the second half is ``self.layers.after``."""
        if will_log(args, state):
            self.tracker.hooks.layers_before_step(model, state.global_step + 1)

    def act(self, control: Any) -> None:
        """With an action configured (``acts``): the row is built now, and an alert stops (and
        saves). Rank zero decides (its detectors run there) and tells the other ranks (a
        broadcast)."""
        tracker = self.tracker
        stop = tracker.is_main_process and tracker.hooks.alert_to_act_on() is not None
        if rank_zero_decides(stop, self.world_size):
            control.should_training_stop = True
            if self.tracker.config.on_alert == "checkpoint_and_stop":
                control.should_save = True

    def close(self) -> None:
        if self.losses is not None:
            self.losses.detach()


def nonfinite_extra(extra: Callable[[], dict[str, Any]], taken: tuple[list[Any], Any]) -> dict:
    """A row's extra keys, made on the writer thread: ``extra``'s and the count of the
    window's non-finite micro-batch losses ``taken`` (:meth:`LossWatch.take`)."""
    values = extra()
    values[NONFINITE_LOSSES] = count_nonfinite(taken)
    return values
