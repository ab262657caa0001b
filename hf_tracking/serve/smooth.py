"""The dashboard's smoothing slider as an e-folding length along x.

The curves are smoothed by the time-weighted EMA of :mod:`hf_tracking.metrics.time_ema`, whose
weight decays with the distance along x. W&B's "time weighted EMA" slider (0–0.99) sets a weight
per 1/VIEWPORT of the x range; :func:`tau_of` reads it as that EMA's τ.
"""

from __future__ import annotations

import math

VIEWPORT = 1000.0  # the slider's weight is per 1/VIEWPORT of the x range (as W&B's)


def tau_of(smoothing: float, x_range: float) -> float | None:
    """τ for a slider value in [0, 1) over a curve whose x spans ``x_range``; None when nothing
    is smoothed (0, or an empty range)."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
    if smoothing == 0.0 or not x_range > 0.0 or not math.isfinite(x_range):
        return None
    weight = min(math.sqrt(smoothing), 0.999)
    return x_range / (VIEWPORT * -math.log(weight))
