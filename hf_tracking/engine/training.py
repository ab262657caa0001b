"""The training record: what the training thread reads at a logging step, and the row built from
it (off the training thread, :mod:`.jobs`).

Keys: ``train/*`` (:mod:`.records`), ``progress/*`` and ``throughput/*`` (:mod:`.progress`,
:mod:`.compute`), the time ledger and ``efficiency/*``, ``tokens/*`` and ``memory/*``. The health
detectors (:mod:`.health`) read the built row; the alerts it starts are rows of their own.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from hf_tracking.catalog import (
    GRAD_NORM,
    LEARNING_RATE,
    NONFINITE_COUNT,
    NONFINITE_LOSSES,
    TRAIN_LOSS,
    TRAIN_PERPLEXITY,
)
from hf_tracking.engine import records
from hf_tracking.engine.health import alert_row
from hf_tracking.engine.values import as_float
from hf_tracking.engine.window import warn_unreadable
from hf_tracking.metrics.clock import ledger_metrics
from hf_tracking.metrics.stats import safe_perplexity

logger = logging.getLogger("hf_tracking")


class TrainInputs(NamedTuple):
    """What a training row needs from the training thread, read at the logging step."""

    steps: int
    tokens_seen: int
    token_kinds: Mapping[str, int]
    token_counter: Any  # a TokenCounter whose ``taken`` micro-batches are counted here, or None
    taken: Any
    now: float
    ledger_session: dict[str, float]  # a copy of the time ledger's session seconds at ``now``
    eval_count: int
    checkpoint_count: int
    window: tuple[Any, Any, Any]  # (loss, learning rate, grad norm), read or still to read
    extra: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None  # a function: called here
    memory: Mapping[str, float] | None


def train_record_values(tracker: Any, inputs: tuple) -> dict[str, Any]:
    """Build a training row of an :class:`~hf_tracking.ExperimentTracker` (on the writer thread,
    or where the state is read first: :mod:`.jobs`) from the fields of :class:`TrainInputs`;
    updates the run state's latest values, peaks, history and throughput window."""
    inputs = TrainInputs(*inputs)
    run, config = tracker.run, tracker.config
    steps, tokens, kinds = inputs.steps, inputs.tokens_seen, inputs.token_kinds
    if inputs.token_counter is not None:
        tokens, kinds, seq_length = inputs.token_counter.run_totals(inputs.taken)
        if seq_length:
            tracker.compute.observe_seq_length(seq_length)
    loss, learning_rate, grad_norm = read_window(inputs.window)
    ledger = tracker.clock.ledger
    seconds = ledger.seconds(inputs.now, inputs.ledger_session)
    values = records.axes(steps, seconds["wallclock"] / 3600.0, tokens)
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
    evals, saves = inputs.eval_count, inputs.checkpoint_count
    eta_costs = (
        config.eval_every_steps,
        seconds["eval"] / evals if evals else 0.0,
        config.save_every_steps,
        seconds["checkpoint"] / saves if saves else 0.0,
    )
    throughput = tracker.progress.add_training_metrics(
        values,
        ledger.training_clock(inputs.now, inputs.ledger_session),
        tokens,
        steps,
        tracker.world_size,
        eta_costs,
    )
    values.update(ledger_metrics(seconds))
    if throughput:
        tracker.compute.add_flops(throughput)
        values.update(throughput)
    if kinds:
        values.update(records.token_kind_metrics(tokens, kinds))
    if inputs.memory:
        values.update(inputs.memory)
        run.note_memory_peaks(inputs.memory)
    extra = inputs.extra() if callable(inputs.extra) else inputs.extra
    if extra:
        values.update(extra)
    run.latest_train = values
    tracker.progress.remember(values, throughput)
    checkpoints = run.checkpoints[:saves]
    alerts = tracker.health.check(values, values.get(NONFINITE_LOSSES) or 0, seconds, checkpoints)
    for alert in alerts:
        raise_alert(tracker, alert)
    return values


def raise_alert(tracker: Any, alert: Mapping[str, Any]) -> None:
    """An alert's warning (once per episode) and its row, queued after the row that started it."""
    logger.warning("hf_tracking: %s", alert["message"])
    dispatcher = tracker.session.dispatcher
    if dispatcher is not None:
        dispatcher.put_now(("alert", alert_row(alert)))


def read_window(window: tuple[Any, Any, Any]) -> tuple[float | None, float | None, float | None]:
    """The window's (loss, learning rate, grad norm) as floats; values that cannot be read
    cost this row's values, with one warning, never the run."""
    loss, learning_rate, grad_norm = window
    try:
        return as_float(loss), as_float(learning_rate), as_float(grad_norm)
    except Exception as error:
        warn_unreadable(error)
        return None, None, None


def device_memory() -> dict[str, float]:
    """The GPU's allocator counters; a probe that fails never stops training (nothing logged)."""
    from hf_tracking.system import gpu_memory_metrics

    try:
        return gpu_memory_metrics()
    except Exception:
        return {}
