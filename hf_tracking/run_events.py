"""The rows a run logs besides its training steps: validation, checkpoint, custom metric, and
training rows whose values the Trainer aggregated. Each call checks its arguments before anything
is counted (a bad value raises an error naming it and leaves the run as it was). Keys: see
:mod:`hf_tracking.engine.records`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hf_tracking.backends.base import Record
from hf_tracking.catalog import custom_name
from hf_tracking.config import safe_name
from hf_tracking.engine import records
from hf_tracking.engine.values import as_float, check_duration, check_number, checked_step
from hf_tracking.metrics.stats import safe_perplexity
from hf_tracking.system import path_size
from hf_tracking.tracked_run import TrackedRun


def log_train_values(
    tracked: TrackedRun,
    loss: Any,
    learning_rate: Any,
    grad_norm: Any,
    tokens_seen: int | None,
    token_kinds: Mapping[str, int] | None,
    extra: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None,
    memory: Mapping[str, float] | None,
    at: float | None = None,
) -> float:
    """A training row from values already aggregated over the window (the Trainer's ``on_log``),
    at clock reading ``at`` (default: now), which it returns."""
    if tokens_seen is not None or token_kinds:
        tracked.set_token_totals(tokens_seen, token_kinds)
    # Read (as floats) on the writer thread as the row is built.
    window = (loss, learning_rate, grad_norm)
    now = tracked.clock.now() if at is None else at
    tracked.train_record(now, extra=extra, memory=memory, window=window)
    if at is None:  # the Trainer's logging since the step: "other", not data wait
        tracked.clock.mark = now
    return now


def log_validation(
    tracked: TrackedRun,
    val_loss: Any,
    val_perplexity: Any,
    num_batches: int | None,
    eval_seconds: float | None,
    name: str | None,
    extra: Mapping[str, Any] | None,
    timed: bool = True,
) -> None:
    """A validation row; its duration counts as evaluation time, never as training time."""
    check_number("val_loss", val_loss)
    check_number("val_perplexity", val_perplexity, allow_none=True)
    check_duration("eval_seconds", eval_seconds)
    if num_batches is not None:
        num_batches = checked_step("num_batches", num_batches)
    extra_values = {str(key): value for key, value in (extra or {}).items()}
    for key, value in extra_values.items():
        if key in records.VALIDATION_KEYS:
            raise ValueError(
                f"hf_tracking: extra[{key!r}] would replace the row's own val/{key}; "
                "pass it by its argument or under another name"
            )
        check_number(f"extra[{key!r}]", value)
    tracked.jobs.catch_up()  # the latest training loss, the nonfinite count
    clock = tracked.clock
    now = clock.now()
    # Not timed: the duration is not known; nothing is booked and the row has none.
    seconds = clock.eval_seconds(now, as_float(eval_seconds)) if timed else None
    run = tracked.run
    run.eval_count += 1
    loss = as_float(val_loss)
    perplexity = as_float(val_perplexity) if val_perplexity is not None else safe_perplexity(loss)
    prefix = f"val/{safe_name(name)}" if name else "val"
    values = tracked.axes(now)
    extra_numbers = {key: as_float(value) for key, value in extra_values.items()}
    values.update(
        records.validation_values(
            prefix, loss, perplexity, seconds, run.latest_train_loss, num_batches, extra_numbers
        )
    )
    run.nonfinite_count += records.nonfinite(loss)
    run.note_best(prefix, loss, perplexity)
    tracked.progress.note_validation(run.gradient_steps, f"{prefix}/loss", loss)
    tracked.dispatch(Record("val", values))
    if tracked.training_closed:  # an evaluation after training updates the summary
        tracked.session.write_summary_soon(tracked.snapshot())


def log_checkpoint(
    tracked: TrackedRun, path: str | os.PathLike, is_best: bool, seconds: float | None
) -> None:
    """A checkpoint row; the checkpoint's size is read on the writer thread."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"hf_tracking: path must be a str or os.PathLike, got {path!r}")
    check_duration("seconds", seconds)
    clock = tracked.clock
    now = clock.now()
    seconds = clock.charge("checkpoint", now, as_float(seconds))
    run = tracked.run
    entry = {
        "path": str(path),
        "step": run.gradient_steps,
        "is_best": bool(is_best),
        "seconds": seconds,
        "wallclock_hours": clock.wallclock_hours(now),
    }
    run.checkpoints.append(entry)
    values = tracked.axes(now)
    values.update(
        records.checkpoint_values(len(run.checkpoints), run.gradient_steps, bool(is_best), seconds)
    )
    sizes = run.checkpoint_sizes

    def measure(record_values: dict[str, Any]) -> None:
        size = path_size(Path(path))
        if size is not None:
            sizes[str(path)] = size
            record_values["checkpoint/size_mb"] = size / 1e6

    tracked.dispatch(Record("checkpoint", values, prepare=measure, path=str(path)))
    tracked.session.write_summary_soon(tracked.snapshot())


def log_custom_metric(tracked: TrackedRun, name: str, value: Any) -> None:
    """Any number at the current point of the axes, as ``custom/<name>`` (or ``name`` itself when
    it already has a ``group/`` prefix; the ``time/`` group is refused)."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"hf_tracking: a metric name must be a non-empty string, got {name!r}")
    key = custom_name(name)
    check_number(name, value)
    number = as_float(value)
    tracked.jobs.catch_up()
    tracked.run.nonfinite_count += records.nonfinite(number)
    values = tracked.axes(tracked.clock.now())
    values[key] = number
    tracked.dispatch(Record("custom", values))
