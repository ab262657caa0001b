"""Small numeric helpers: overflow-safe perplexity and percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence

# exp(709.78) is the largest double; beyond it perplexity is reported as infinite.
_MAX_EXP_ARGUMENT = 709.0


def safe_perplexity(loss: float | None) -> float | None:
    """exp(loss) that never raises: inf past overflow, None (or NaN in, NaN out) when undefined."""
    if loss is None:
        return None
    if math.isnan(loss):
        return math.nan
    if loss > _MAX_EXP_ARGUMENT:
        return math.inf
    return math.exp(loss)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, as ``numpy.percentile``."""
    ordered = sorted(value for value in values if math.isfinite(value))
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
