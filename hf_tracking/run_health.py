"""A tracked run's training health on the training thread: the stop an alert asks for, and the
per-block norms taken around the optimizer step (``track_layers``).

The detectors themselves run where rows are built (:mod:`hf_tracking.engine.health`, on the writer
thread). With ``on_alert`` other than ``warn`` the decision must reach the training loop at the
step the alert fires, so :func:`alert_to_act_on` builds the rows still waiting on the training
thread (a logging step's row, tens of µs) before it looks.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hf_tracking.metrics.layer_cadence import LayerCadence

logger = logging.getLogger("hf_tracking")


def alert_to_act_on(tracked: Any) -> dict[str, Any] | None:
    """The alert that stops the run, once one fired and ``on_alert`` acts on it (the run's
    status becomes "stopped"); None otherwise."""
    health = tracked.health
    if not health.acts:
        return None
    tracked.jobs.catch_up()
    alert = health.stop
    if alert is not None and tracked.run.status == "running":
        tracked.run.status = "stopped"
    return alert


class LayerWatch:
    """The per-block norms of the step about to log, from ``optimizer.step()``'s two sides, on
    the steps the cadence picks (:mod:`hf_tracking.metrics.layer_cadence`)."""

    def __init__(self, every: int | None, step_seconds: Callable[[], float]) -> None:
        self.norms: Any = None  # hf_tracking.layers.LayerNorms of the model, made once
        self.pending: tuple[Any, Any] | None = None  # (device sums, max_grad_norm)
        self.cadence = LayerCadence(every)
        self._step_seconds = step_seconds
        self.taking = False  # between the two halves of a take
        self._spent = 0.0  # training-thread seconds of its first half

    def prepare(self, model: Any) -> None:
        """Find the model's blocks (once, before training: a set-up cost, not a step's)."""
        if self.norms is None:
            from hf_tracking.layers import LayerNorms

            if model is None:
                raise TypeError(
                    "track_layers needs the model: tracker.optimizer_step(model) or "
                    "ExperimentTracker(config, model)"
                )
            self.norms = LayerNorms(model)

    def before(self, model: Any, step: int) -> None:
        """Before ``optimizer.step()`` of a logging ``step``: the take's first half, when due."""
        if not self.cadence.due(step):
            return
        self.prepare(model)
        started = time.perf_counter()
        self.norms.before_step()
        self.taking = True
        self._spent = time.perf_counter() - started

    def after(self, max_grad_norm: float | None) -> None:
        """After ``optimizer.step()``: the take's second half, when :meth:`before` took one."""
        if not self.taking:
            return
        self.taking = False
        started = time.perf_counter()
        self.pending = (self.norms.after_step(), max_grad_norm)
        spent = self._spent + time.perf_counter() - started
        spacing = self.cadence.taken(spent, self._step_seconds())
        if spacing is not None:
            logger.info("hf_tracking: track_layers takes per-block norms every %d steps", spacing)

    def drop(self) -> None:
        self.pending = None

    def row_extra(
        self, extra: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None, grad_norm: Any
    ) -> Any:
        """``extra`` with the pending norms' keys added as the row is built; ``grad_norm`` (the
        row's pre-clip norm, a float) undoes the clipping the gradients saw."""
        pending, self.pending = self.pending, None
        if pending is None:
            return extra
        return functools.partial(_with_layers, self.norms, pending, extra, grad_norm)


def _with_layers(norms: Any, pending: tuple[Any, Any], extra: Any, grad_norm: Any) -> dict:
    values = dict((extra() if callable(extra) else extra) or {})
    taken, max_grad_norm = pending
    grad = float(grad_norm) if isinstance(grad_norm, (int, float)) else None
    values.update(norms.metrics(taken, grad, max_grad_norm))
    return values


@contextlib.contextmanager
def optimizer_step(
    tracked: Any, model: Any, max_grad_norm: float | None, step: int, logs: bool
) -> Iterator[None]:
    """Around a hand-written loop's ``optimizer.step()`` of gradient step ``step``: the per-block
    norms of a step that logs (``logs``), when ``track_layers`` is on and the cadence picks it;
    nothing otherwise."""
    if not (logs and tracked.config.track_layers and tracked.is_main_process):
        yield
        return
    layers = tracked.layers
    layers.before(model if model is not None else tracked.model, step)
    yield
    layers.after(max_grad_norm)
