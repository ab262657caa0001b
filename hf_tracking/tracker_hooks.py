"""What the framework integrations call on a run, apart from what a user calls.

The Trainer's callback and the accelerate tracker reach a run through ``tracker.hooks``: values
already aggregated over a logging window, run totals of tokens counted outside the tracker, the
Trainer's final figures, the per-block norms of ``track_layers``, the checkpoint a run resumed
from. A hand-written loop never needs them; :class:`~hf_tracking.ExperimentTracker` is the API
for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hf_tracking import run_events, run_health
from hf_tracking.tokens import TokenCounter
from hf_tracking.tracked_run import TrackedRun


class FrameworkHooks:
    """The integration calls of one run, composed over its :class:`TrackedRun`."""

    def __init__(self, tracked: TrackedRun) -> None:
        self._tracked = tracked

    def log_train_values(
        self,
        loss: Any,
        learning_rate: Any = None,
        grad_norm: Any = None,
        tokens_seen: int | None = None,
        token_kinds: Mapping[str, int] | None = None,
        extra: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        memory: Mapping[str, float] | None = None,
        at: float | None = None,
    ) -> float:
        """Emit a training record from values already aggregated over the window (the Trainer's
        ``on_log``): ``tokens_seen`` and ``token_kinds`` are run totals over all processes;
        ``extra`` may be a function giving the extra keys, called as the row is built. ``at`` is
        the clock reading the row describes (default: now), e.g. the moment training stopped for
        an evaluation not logged yet. Returns that reading (no row once the run finished or off
        the main process)."""
        if self._tracked.rows_closed:
            return self._tracked.clock.now() if at is None else at
        return run_events.log_train_values(
            self._tracked,
            loss,
            learning_rate,
            grad_norm,
            tokens_seen,
            token_kinds,
            extra,
            memory,
            at,
        )

    def log_final(self, metrics: Mapping[str, Any]) -> None:
        """End-of-training figures (the Trainer's final log): kept for the summary and the W&B
        run summary, never logged as a row that would overwrite curves."""
        self._tracked.run.final_trainer_metrics.update(metrics)

    def set_token_totals(
        self, tokens_seen: int | None, token_kinds: Mapping[str, int] | None = None
    ) -> None:
        """Run totals counted outside the tracker (the Trainer's callback, over all ranks)."""
        self._tracked.set_token_totals(tokens_seen, token_kinds)

    def count_tokens_from(self, counter: TokenCounter) -> None:
        """Take the run's tokens from ``counter`` at every row (counted as the row is built)."""
        self._tracked.count_tokens_from(counter)

    def observe_seq_length(self, seq_length: int) -> None:
        """The sequence length the model actually sees, when it differs from the config's."""
        self._tracked.observe_seq_length(seq_length)

    def note_resumed_checkpoint(self, path: str) -> None:
        """List the checkpoint a run resumed from: its state was saved before its save ended."""
        self._tracked.run.note_resumed_checkpoint(str(path))

    def layers_before_step(self, model: Any, step: int) -> None:
        """The Trainer's ``on_pre_optimizer_step`` of a ``step`` that logs (``track_layers``)."""
        if not self._tracked.rows_closed:
            self._tracked.layers.before(model, step)

    @property
    def layers(self) -> run_health.LayerWatch:
        """The run's per-block norms: their cadence, and ``after`` for ``on_optimizer_step``."""
        return self._tracked.layers

    def alert_to_act_on(self) -> dict[str, Any] | None:
        """The alert that stops the run, or None (always None with ``on_alert="warn"``)."""
        return run_health.alert_to_act_on(self._tracked)

    # How the run's tokens are counted, as the summary states it.
    token_counting = property(
        lambda self: self._tracked.token_counting,
        lambda self, how: setattr(self._tracked, "token_counting", how),
    )
    # The slowest and fastest rank's compute times, as the summary states them (several ranks).
    stragglers = property(
        lambda self: self._tracked.stragglers,
        lambda self, figures: setattr(self._tracked, "stragglers", figures),
    )
