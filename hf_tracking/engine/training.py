"""The training record: the window closed and every part's keys at a logging step.

Keys: ``train/*`` (:mod:`.records`), ``progress/*`` and ``throughput/*`` (:mod:`.progress`,
:mod:`.compute`), the time ledger and ``efficiency/goodput_pct``, ``tokens/*`` and ``memory/*``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hf_tracking.catalog import (
    GRAD_NORM,
    LEARNING_RATE,
    NONFINITE_COUNT,
    TRAIN_LOSS,
    TRAIN_PERPLEXITY,
)
from hf_tracking.engine import records
from hf_tracking.metrics.stats import safe_perplexity


def train_record_values(
    tracker: Any,
    now: float,
    extra: Mapping[str, Any] | None = None,
    memory: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Close the training window of an :class:`~hf_tracking.ExperimentTracker` and build the
    record's values; updates the run state's latest values, peaks and history."""
    run, ledger, config = tracker.run, tracker.clock.ledger, tracker.config
    loss, learning_rate, grad_norm = tracker.window.close()
    steps = run.gradient_steps
    values = records.axes(steps, ledger.wallclock_at(now) / 3600.0, run.tokens_seen)
    if loss is not None:
        values[TRAIN_LOSS] = loss
        values[TRAIN_PERPLEXITY] = safe_perplexity(loss)
        if math.isfinite(loss):
            run.latest_train_loss = loss
        else:
            run.nonfinite_count += 1
    values[LEARNING_RATE] = learning_rate
    values[GRAD_NORM] = grad_norm
    if grad_norm is not None and not math.isfinite(grad_norm):
        run.nonfinite_count += 1
    values[NONFINITE_COUNT] = run.nonfinite_count
    evals, saves = run.eval_count, len(run.checkpoints)
    eta_costs = (
        config.eval_every_steps,
        ledger.part_seconds("eval") / evals if evals else 0.0,
        config.save_every_steps,
        ledger.part_seconds("checkpoint") / saves if saves else 0.0,
    )
    throughput = tracker.progress.add_training_metrics(
        values, ledger.training_clock(), run.tokens_seen, steps, tracker.world_size, eta_costs
    )
    values.update(ledger.metrics(now))
    if throughput:
        tracker.compute.add_flops(throughput)
        values.update(throughput)
    if run.token_kinds:
        values.update(records.token_kind_metrics(run.tokens_seen, run.token_kinds))
    if config.track_memory:
        if memory is None:
            memory = device_memory()
        values.update(memory)
        run.note_memory_peaks(memory)
    if extra:
        values.update(extra)
    run.logged_step = steps
    run.latest_train = values
    tracker.progress.remember(values, throughput)
    return values


def device_memory() -> dict[str, float]:
    """The GPU's allocator counters; a probe that fails never stops training (nothing logged)."""
    from hf_tracking.system import gpu_memory_metrics

    try:
        return gpu_memory_metrics()
    except Exception:
        return {}
