"""Training-health rules on plain numbers: is this value an outlier against the values before it?

Two spike rules, either of which may fire (the detectors in :mod:`hf_tracking.engine.health` keep
the windows and count the patience):

- **ratio** (llm-foundry, ``callbacks/kill_loss_spike_callback.py``): an outlier is a value at least
  ``ratio`` times the mean of the window before it (default 2×); the window holds
  ``max(100, 5% of the run)`` values and the rule waits until it is full; a spike is ``patience``
  outliers in a row (default 4).
- **z-score** (OLMo-core, ``train/callbacks/stability_monitor.py``): an outlier is a value above the
  mean plus ``sigmas`` standard deviations (default 6) of the last 128 values, once 64 are known.

And the share of a step spent waiting for input (torchtitan and OLMo-core log the same figure).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

# llm-foundry's window: at least 100 values, or 5% of the run when that is more.
RATIO_WINDOW_FRACTION = 0.05


class Verdict(NamedTuple):
    """One rule's reading of a value: ``outlier`` when ``value`` passes ``threshold``, which the
    rule derived from ``baseline`` (the window's mean)."""

    outlier: bool
    baseline: float
    threshold: float


def ratio_window_size(minimum: int, planned_values: int | None) -> int:
    """llm-foundry's window: ``max(minimum, 5% of the values the run will log)``."""
    if not planned_values:
        return minimum
    return max(minimum, round(RATIO_WINDOW_FRACTION * planned_values))


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (0 for fewer than two values)."""
    count = len(values)
    if not count:
        return math.nan, 0.0
    mean = math.fsum(values) / count
    variance = math.fsum((value - mean) ** 2 for value in values) / count
    return mean, math.sqrt(variance)


def ratio_rule(value: float, window: Sequence[float], ratio: float) -> Verdict:
    """An outlier at ``value >= ratio × mean(window)`` (llm-foundry's outlier test)."""
    baseline = math.fsum(window) / len(window)
    threshold = ratio * baseline
    return Verdict(value >= threshold, baseline, threshold)


def zscore_rule(value: float, window: Sequence[float], sigmas: float) -> Verdict:
    """An outlier above ``mean + sigmas × std`` of ``window`` (OLMo-core's stability test). A
    window without spread (every value equal) calls nothing an outlier: the ratio rule covers a
    jump from a flat line."""
    mean, std = mean_and_std(window)
    threshold = mean + sigmas * std
    return Verdict(std > 0.0 and value > threshold, mean, threshold)


def wait_share_pct(wait_seconds: float, step_seconds: float) -> float | None:
    """Percent of a span spent waiting for input: wait / (wait + time inside steps)."""
    total = wait_seconds + step_seconds
    if total <= 0.0:
        return None
    return 100.0 * wait_seconds / total
