"""Remaining time: ``progress/eta_hours``.

Remaining steps at the recent step rate (the throughput window, which restarts on resume, so a
resumed run is judged by its own speed), plus the evaluations and checkpoint saves still due at
their intervals, each costed at the mean measured duration so far.
"""

from __future__ import annotations


def events_remaining(current_step: int, max_steps: int, interval: int | None) -> int:
    if not interval or max_steps <= current_step:
        return 0
    return max_steps // interval - current_step // interval


def eta_hours(
    current_step: int,
    max_steps: int,
    steps_per_second: float | None,
    eval_interval: int | None = None,
    mean_eval_seconds: float = 0.0,
    save_interval: int | None = None,
    mean_save_seconds: float = 0.0,
) -> float | None:
    """Hours until ``max_steps``; None while no step rate is known."""
    if max_steps <= current_step:
        return 0.0
    if not steps_per_second or steps_per_second <= 0:
        return None
    seconds = (max_steps - current_step) / steps_per_second
    seconds += events_remaining(current_step, max_steps, eval_interval) * mean_eval_seconds
    seconds += events_remaining(current_step, max_steps, save_interval) * mean_save_seconds
    return seconds / 3600.0
