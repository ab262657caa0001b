"""The training record: the window closed and every part's keys at a logging step.

Keys: ``train/*`` (:mod:`.records`), ``progress/*`` and ``throughput/*`` (:mod:`.progress`,
:mod:`.compute`), the time ledger and ``efficiency/goodput_pct``, ``tokens/*`` and ``memory/*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hf_tracking.engine import records


def train_record_values(
    tracker: Any,
    now: float,
    extra: Mapping[str, Any] | None = None,
    memory: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Close the training window of an :class:`~hf_tracking.ExperimentTracker` and build the
    record's values; updates the run state's latest values, peaks and history."""
    run, ledger = tracker.run, tracker.clock.ledger
    loss, learning_rate, grad_norm = tracker.window.close()
    values = records.axes(run.gradient_steps, tracker.clock.wallclock_hours(now), run.tokens_seen)
    values.update(records.train_values(loss, learning_rate, grad_norm))
    if loss is not None and records.nonfinite(loss) == 0:
        run.latest_train_loss = loss
    run.nonfinite_count += records.nonfinite(loss, grad_norm)
    values.update(records.nonfinite_value(run.nonfinite_count))
    steps = run.gradient_steps
    checkpoints = len(run.checkpoints)
    eta_costs = (
        tracker.config.eval_every_steps,
        ledger.part_seconds("eval") / run.eval_count if run.eval_count else 0.0,
        tracker.config.save_every_steps,
        ledger.part_seconds("checkpoint") / checkpoints if checkpoints else 0.0,
    )
    completion, throughput = tracker.progress.training_metrics(
        ledger.training_clock(), run.tokens_seen, steps, tracker.world_size, eta_costs
    )
    values.update(completion)
    values.update(ledger.metrics(now))
    if throughput:
        tracker.compute.add_flops(throughput)
        values.update(throughput)
    if run.token_kinds:
        values.update(records.token_kind_metrics(run.tokens_seen, run.token_kinds))
    if tracker.config.track_memory:
        if memory is None:
            from hf_tracking.system import gpu_memory_metrics

            memory = gpu_memory_metrics()
        values.update(memory)
        run.note_memory_peaks(memory)
    if extra:
        values.update(extra)
    run.logged_step = steps
    run.latest_train = values
    tracker.progress.remember(values, throughput)
    return values
