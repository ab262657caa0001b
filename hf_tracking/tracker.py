"""ExperimentTracker: the public API of the engine, a facade over the parts it composes.

Records carry the three axes on every row: ``time/gradient_steps`` (optimizer steps),
``time/wallclock_hours`` (across resumes, downtime excluded) and ``time/tokens_seen`` (all
processes), exact at every row. A training record (every ``log_every_steps`` gradient steps) adds
the window's loss, learning rate and gradient norm, throughput, the time ledger, token kinds and
memory: every key is in the metric catalog (:mod:`hf_tracking.catalog`).
Validation, checkpoint and custom rows: see :mod:`hf_tracking.run_events`. Custom metrics are
``custom/<name>`` unless the name has a ``group/`` prefix; the ``time/`` group is the tracker's.
The parts composed: :class:`~hf_tracking.tracked_run.TrackedRun` (state, rows, session),
:class:`~hf_tracking.engine.steps.TrainingSteps` (the per-step path), :mod:`~hf_tracking.run_events`,
and ``hooks``, the calls of the framework integrations (:mod:`hf_tracking.tracker_hooks`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hf_tracking import lifecycle, run_events, run_health
from hf_tracking.backends.base import Backend
from hf_tracking.config import ExperimentConfig
from hf_tracking.engine.snapshot import SummarySnapshot
from hf_tracking.metrics.clock import Clock
from hf_tracking.tracked_run import TrackedRun
from hf_tracking.tracker_hooks import FrameworkHooks


class ExperimentTracker:
    """Tracks one training run (its keys: the module docstring). The per-step calls are
    :class:`~hf_tracking.engine.steps.TrainingSteps`'s, documented there: ``log_train_step(loss,
    learning_rate=None, grad_norm=None, tokens=0, iteration=None, accumulation_step=None)`` once
    per micro-batch (``iteration``: the 0-based optimizer step, may be left out; a call behind
    the steps taken is skipped with one warning), ``step_begin()``, ``step_end(gradient_steps)``.
    """

    def __init__(
        self,
        config: ExperimentConfig | Mapping[str, Any] | str | os.PathLike | None = None,
        model: Any = None,
        *,
        is_main_process: bool | None = None,
        world_size: int | None = None,
        backends: list[Backend] | None = None,
        extra_config: Mapping[str, Any] | None = None,
        planned_steps: int | None = None,
        clock: Clock = time.perf_counter,
    ) -> None:
        self._tracked = tracked = TrackedRun(
            config, model, is_main_process, world_size, backends, extra_config, planned_steps, clock
        )
        # The per-step calls are the steps part's bound methods: a call costs what the counting
        # costs, with no delegating call in front.
        steps = tracked.steps
        self.log_train_step = steps.log_train_step
        self.step_begin = steps.step_begin
        self.step_end = steps.step_end
        self.hooks = FrameworkHooks(tracked)
        if tracked.is_main_process:
            lifecycle.track(self)

    def start(self) -> ExperimentTracker:
        """Open the run: reserve its directory and start the backends on the writer thread.
        Called by the first record; call it early to overlap W&B's start-up with the first
        steps (when the process has imported wandb, this waits until ``wandb.run`` is ready, at
        most 30 s). Resume with :meth:`load_state_dict` before this."""
        self._tracked.start()
        self._tracked.session.before_training()
        return self

    def end_training(self, timeout: float = 5.0) -> Path | None:
        """End the training part of the run (the Trainer's ``on_train_end``): the last window's
        record and the final figures are logged, the clock stops and a complete summary is
        written before this returns (and every record has reached the backends, up to
        ``timeout`` seconds). The backends stay open: evaluations after training are logged at
        the final step and update the summary, until :meth:`finish` (at exit, or by the next
        ``train()``). Returns the summary path (None on a non-main process)."""
        tracked = self._tracked
        if not tracked.is_main_process or tracked.steps.finished:
            return None
        lifecycle.keep_open(self)
        return tracked.end_training(timeout)

    def finish(
        self,
        save_summary: bool = True,
        status: str | None = None,
        error: str | None = None,
        wait: bool = False,
    ) -> Path | None:
        """Drain the queue, close every backend, write the summary. Safe to call twice.

        Remote backends (W&B) finish after their queues on their own threads: the summary is
        written at once and rewritten with their final reports when they are done
        (:meth:`wait_for_backends`; the interpreter waits for it at exit). ``wait=True`` does it
        all before returning. Returns the summary path (None on a non-main process or without
        a summary)."""
        tracked = self._tracked
        with tracked.lock:
            if tracked.steps.finished:
                if wait:
                    self.wait_for_backends()
                return tracked.session.summary_path if save_summary else None
            tracked.steps.finished = True
        lifecycle.untrack(self)
        if not tracked.is_main_process:
            return None
        with lifecycle.finishing(self):
            return tracked.finish(save_summary, status, error, wait)

    def mark_interrupted(self, reason: str) -> None:
        """A signal arrived while the run was finishing: its summary says "interrupted"."""
        run = self._tracked.run
        run.status = "interrupted"
        run.error = run.error or reason

    def wait_for_backends(self, timeout: float | None = None) -> bool:
        """Wait until the remote backends have finished and the summary holds their final
        reports; True when they have."""
        return self._tracked.session.wait_for_backends(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record so far has reached every backend."""
        return self._tracked.session.flush(timeout)

    def __enter__(self) -> ExperimentTracker:
        return self  # the run opens with the first record: load_state_dict may still come

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> None:
        if exc is None:
            self.finish()
        else:
            self.finish(status=lifecycle.failure_status(exc), error=f"{type(exc).__name__}: {exc}")

    @property
    def should_stop(self) -> bool:
        """True once an alert fired and ``on_alert`` is ``stop`` or ``checkpoint_and_stop``: a
        hand-written loop reads it after ``log_train_step`` and ends (saving first for
        ``checkpoint_and_stop``); the summary then says "stopped" and why."""
        return run_health.alert_to_act_on(self._tracked) is not None

    def optimizer_step(
        self, model: Any = None, max_grad_norm: float | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """``with tracker.optimizer_step(model, max_grad_norm): optimizer.step()`` logs the
        per-block norms of a logging step when ``track_layers`` is on (``max_grad_norm``: the
        clipping the gradients saw, undone in the logged gradient norms)."""
        tracked = self._tracked
        step = tracked.run.gradient_steps + 1
        logs = step % tracked.config.log_every_steps == 0
        return run_health.optimizer_step(tracked, model, max_grad_norm, step, logs)

    @contextlib.contextmanager
    def validation(self) -> Iterator[ExperimentTracker]:
        """Time a validation pass: ``with tracker.validation(): ...; tracker.log_validation(...)``."""
        clock = self._tracked.clock
        clock.begin_validation()
        try:
            yield self
        finally:
            clock.end_validation()

    def log_validation(
        self,
        val_loss: Any,
        val_perplexity: Any = None,
        num_batches: int | None = None,
        eval_seconds: float | None = None,
        name: str | None = None,
        extra: Mapping[str, Any] | None = None,
        timed: bool = True,
    ) -> None:
        """Log a validation result. Its duration is ``eval_seconds`` when given, else the time
        measured by :meth:`validation`, else the time since the last training step; it counts
        as evaluation time, never as training time. ``timed=False``: the duration is not known
        (no ``eval_time_seconds`` in the row, nothing booked). ``name`` logs under
        ``val/<name>/``."""
        if self._closed():
            return
        run_events.log_validation(
            self._tracked, val_loss, val_perplexity, num_batches, eval_seconds, name, extra, timed
        )

    def log_checkpoint(
        self, path: str | os.PathLike, is_best: bool = False, seconds: float | None = None
    ) -> None:
        """Log a checkpoint save. ``seconds`` is how long the save took (default: the time since
        the last training step or evaluation); its size is read on the writer thread."""
        if self._closed():
            return
        run_events.log_checkpoint(self._tracked, path, is_best, seconds)

    def log_custom_metric(self, name: str, value: Any) -> None:
        """Log any number at the current point of the axes, as ``custom/<name>`` (or ``name``
        itself when it already has a ``group/`` prefix; the ``time/`` group is refused)."""
        if self._closed():
            return
        run_events.log_custom_metric(self._tracked, name, value)

    def _closed(self) -> bool:
        return self._tracked.rows_closed

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state; a new tracker given it continues the same run."""
        return self._tracked.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue a run from :meth:`state_dict`: same name, axes carried on (wallclock and tokens
        do not restart), downtime not counted. Call before the first record."""
        self._tracked.load_state_dict(state)

    def samples(self) -> dict[str, list[float]]:
        """Step times (warm-up excluded) and windowed tokens/s of the whole run."""
        return self._tracked.samples()

    def snapshot(self) -> SummarySnapshot:
        """An immutable copy of what the summary needs (cheap; taken on the training thread)."""
        return self._tracked.snapshot()

    def run_config(self) -> dict[str, Any]:
        """The config a backend stores: the experiment's fields plus any extra (Trainer
        arguments), with credentials redacted; shared, not to be changed."""
        return self._tracked.run_config()

    def sync_tokens(self) -> None:
        """Sum the tokens of every rank now (a collective: call it on every rank), so that the
        next row between logging steps, or the state of a checkpoint, has the exact count."""
        self._tracked.sync_tokens()

    # Read-only views of the parts, under the attribute names of the public API.
    config = property(lambda self: self._tracked.config)
    model = property(lambda self: self._tracked.model)
    is_main_process = property(lambda self: self._tracked.is_main_process)
    world_size = property(lambda self: self._tracked.world_size)
    planned_steps = property(lambda self: self._tracked.planned_steps)
    backends = property(lambda self: self._tracked.backends)
    session = property(lambda self: self._tracked.session)
    jobs = property(lambda self: self._tracked.jobs)
    compute = property(lambda self: self._tracked.compute)
    run = property(lambda self: self._tracked.run)
    clock = property(lambda self: self._tracked.clock)
    window = property(lambda self: self._tracked.window)
    progress = property(lambda self: self._tracked.progress)
    health = property(lambda self: self._tracked.health)
    experiment_name = property(lambda self: self._tracked.run.experiment_name)
    gradient_steps = property(lambda self: self._tracked.run.gradient_steps)
    tokens_seen = property(lambda self: self._tracked.current_run().tokens_seen)
    token_kinds = property(lambda self: self._tracked.current_run().token_kinds)
    status = property(lambda self: self._tracked.run.status)
    error = property(lambda self: self._tracked.run.error)
    best = property(lambda self: self._tracked.run.best)
    checkpoints = property(lambda self: self._tracked.run.checkpoints)
    latest_train = property(lambda self: self._tracked.current_run().latest_train)
    history = property(lambda self: self._tracked.current_progress().history)
    step_seconds = property(lambda self: self._tracked.clock.step_seconds)
    run_dir = property(lambda self: self._tracked.session.run_dir)
    summary_path = property(lambda self: self._tracked.session.summary_path)
    backend_reports = property(lambda self: self._tracked.session.backend_reports())
