"""Time-weighted exponential smoothing of a curve over its x, pure numpy.

A point-count EMA (TensorBoard's) smooths a series logged every step more than the same run logged
every tenth step, and a zoom or a resume that changes which points are shown changes the curve.
Here the weight of the past decays with the distance along x: the smoothed value at x is

    S(x) = ∫ y(t) e^{-(x-t)/τ} dt / ∫ e^{-(x-t)/τ} dt     (t from the first x to x)

with y read as the straight line between consecutive points. Each interval's integral is exact, so
a curve that is straight between the points of a coarse sampling is smoothed to the same values at
the shared x whether it is sampled coarsely or finely; the division by the kernel's mass keeps the
first points from being pulled toward zero. W&B's "time weighted EMA" decays by x distance the same
way. The dashboard smooths its curves with it (``hf_tracking.serve.smooth`` maps its slider to τ),
and the scaling fits smooth a run's training loss over log compute with it.

The recurrence ``N_i = d_i N_{i-1} + c_i`` is solved in blocks of at most BLOCK·τ of x with
cumulative sums (the scale factors stay within e^BLOCK), so a million points take milliseconds.
"""

from __future__ import annotations

import math

import numpy as np

BLOCK = 40.0  # x extent of one vectorised block, in units of tau


def _ramp(r: np.ndarray) -> np.ndarray:
    """(1 - (1 + r) e^{-r}) / r, the share of a linear ramp's integral; exact series near 0."""
    out = np.empty_like(r)
    small = r < 1e-3
    rs = r[small]
    out[small] = rs / 2 - rs**2 / 3 + rs**3 / 8 - rs**4 / 30
    rb = r[~small]
    out[~small] = (-np.expm1(-rb) - rb * np.exp(-rb)) / rb
    return out


def ema(x: np.ndarray, y: np.ndarray, tau: float) -> np.ndarray:
    """The time-weighted EMA of finite (x, y) with e-folding length ``tau`` along x. An x that does
    not increase adds no x distance (the point joins the running value at the next interval)."""
    if not tau > 0.0 or not math.isfinite(tau):
        raise ValueError(f"tau must be a positive finite number, got {tau!r}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of one length, got {x.shape} and {y.shape}")
    n = len(y)
    if n < 2:
        return y.copy()
    r = np.zeros(n)
    r[1:] = np.maximum(np.diff(x), 0.0) / tau
    decay = np.exp(-r)
    mass = -np.expm1(-r)  # each interval's kernel mass (in units of tau)
    prev = np.concatenate(([y[0]], y[:-1]))
    gain = y * mass - (y - prev) * _ramp(np.where(r > 0, r, 1.0)) * (r > 0)
    distance = np.cumsum(r)
    num = np.empty(n)
    den = np.empty(n)
    carry_num = carry_den = 0.0
    start = 0
    while start < n:
        stop = max(int(np.searchsorted(distance, distance[start] + BLOCK, side="right")), start + 1)
        first_num = decay[start] * carry_num + gain[start]
        first_den = decay[start] * carry_den + mass[start]
        scale = np.exp(-(distance[start:stop] - distance[start]))  # product of decays since start
        num[start:stop] = scale * (
            first_num + np.cumsum(np.r_[0.0, gain[start + 1 : stop] / scale[1:]])
        )
        den[start:stop] = scale * (
            first_den + np.cumsum(np.r_[0.0, mass[start + 1 : stop] / scale[1:]])
        )
        carry_num, carry_den = num[stop - 1], den[stop - 1]
        start = stop
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = np.where(den > 0, num / np.where(den > 0, den, 1.0), y)
    # An average of the curve so far lies within its range: clipping to it removes the rounding
    # that would otherwise make a constant (a learning rate held flat) wobble in its last bits.
    return np.clip(smoothed, np.minimum.accumulate(y), np.maximum.accumulate(y))
