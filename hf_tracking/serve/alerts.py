"""A run's health alerts as the run page and the compare page list them.

From the summary's ``alerts`` (kind, step, value, baseline, threshold, message and the last
checkpoint saved before the alert) and ``stopped_by``; a run still writing has no summary, so
its ``alert`` rows are read from the metrics index instead (numbers only: the kind and message
are strings, which the index does not hold). Every field is read defensively: one of the wrong
type reads as missing.
"""

from __future__ import annotations

import math
from typing import Any

from hf_tracking.serve.index import MetricsIndex
from hf_tracking.serve.runs import Run, field

MAX_ALERTS = 2000  # the newest ones
TEXT_FIELDS = ("kind", "message", "checkpoint")
NUMBER_FIELDS = ("step", "value", "baseline", "threshold")
STEP = "time/gradient_steps"


def run_alerts(run: Run, index: MetricsIndex | None) -> dict[str, Any]:
    """``{"alerts": [...], "count": N, "stopped_by": {...} | None}``; ``count`` is how many
    fired, which a summary may list fewer of."""
    summary = run.summary()
    listed = field(summary, "alerts")
    if isinstance(listed, list):
        alerts = [_entry(alert) for alert in listed if isinstance(alert, dict)][-MAX_ALERTS:]
        count = field(summary, "alert_count")
        count = count if isinstance(count, int) and count >= len(alerts) else len(alerts)
    else:
        alerts = _from_rows(index) if index is not None else []
        count = len(alerts)
    stopped = field(summary, "stopped_by")
    return {
        "alerts": alerts,
        "count": count,
        "stopped_by": _stopped(stopped) if isinstance(stopped, dict) else None,
    }


def _entry(alert: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {key: _text(alert.get(key)) for key in TEXT_FIELDS}
    entry.update({key: _number(alert.get(key)) for key in NUMBER_FIELDS})
    return entry


def _stopped(stopped: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": _text(stopped.get("kind")),
        "step": _number(stopped.get("step")),
        "message": _text(stopped.get("message")),
        "last_good_checkpoint": _text(stopped.get("last_good_checkpoint")),
    }


def _from_rows(index: MetricsIndex) -> list[dict[str, Any]]:
    keys = (STEP, "alert/value", "alert/baseline", "alert/threshold")
    steps, values, baselines, thresholds = index.columns("alert", keys)
    if steps is None:
        return []
    alerts = []
    for position in range(max(len(steps) - MAX_ALERTS, 0), len(steps)):
        entry: dict[str, Any] = dict.fromkeys(TEXT_FIELDS)
        for name, column in zip(NUMBER_FIELDS, (steps, values, baselines, thresholds), strict=True):
            entry[name] = _number(column[position]) if column is not None else None
        alerts.append(entry)
    return alerts


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
