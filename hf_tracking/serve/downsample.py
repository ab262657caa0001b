"""Downsampling a curve to what a plot can show: min/max per bucket (M4), pure numpy.

A series of n points is cut into ``buckets`` runs of consecutive points; each bucket keeps its
first and last point and the points of its lowest and highest value, so every spike and dip
survives and the drawn line looks the same as the full one at that width (Jugel et al., "M4: a
visualization-oriented time series data aggregation", VLDB 2014). The first and last point of the
series and the points marked ``keep`` are always kept. LTTB would pick one point a bucket by
triangle area, which can drop a one-step loss spike; min/max never does.

:func:`window` cuts a series to an x-range before that (for a zoom), with one point either side so
the line reaches the edges.
"""

from __future__ import annotations

import numpy as np

DEFAULT_POINTS = 2000


def finite_points(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices where both x and y are finite numbers."""
    return np.flatnonzero(np.isfinite(x) & np.isfinite(y))


def window(x: np.ndarray, lo: float | None, hi: float | None) -> tuple[int, int]:
    """The index range [start, stop) of the points of non-decreasing ``x`` in [lo, hi], widened
    by one point on each side."""
    n = len(x)
    start = 0 if lo is None else int(np.searchsorted(x, lo, side="left"))
    stop = n if hi is None else int(np.searchsorted(x, hi, side="right"))
    return max(start - 1, 0), min(stop + 1, n)


def minmax_indices(y: np.ndarray, buckets: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices into ``y`` (finite values) to draw: first, last, per bucket first/last/min/
    max, and every index in ``keep``. At most ``4 * buckets + len(keep)`` of them."""
    if buckets < 1:
        raise ValueError(f"buckets must be >= 1, got {buckets}")
    n = len(y)
    if n <= 4 * buckets:
        return np.arange(n)
    size = -(-n // buckets)  # ceil: every bucket but the last holds `size` points
    padded = size * buckets
    low = np.full(padded, np.inf)
    high = np.full(padded, -np.inf)
    low[:n] = y
    high[:n] = y
    starts = np.arange(buckets) * size
    picks = [
        starts,
        np.minimum(starts + size - 1, n - 1),
        starts + low.reshape(buckets, size).argmin(axis=1),
        starts + high.reshape(buckets, size).argmax(axis=1),
        np.array([0, n - 1]),
    ]
    if keep is not None and len(keep):
        picks.append(np.asarray(keep, dtype=np.int64))
    chosen = np.unique(np.concatenate(picks))
    return chosen[chosen < n]


def downsample_indices(
    x: np.ndarray,
    y: np.ndarray,
    max_points: int = DEFAULT_POINTS,
    lo: float | None = None,
    hi: float | None = None,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Indices into (x, y) of at most about ``max_points`` points of the finite part of a curve,
    within [lo, hi] when given; ``keep`` (indices into x) are kept whatever the budget."""
    if max_points < 4:
        raise ValueError(f"max_points must be >= 4, got {max_points}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    valid = finite_points(x, y)
    kept_mask = None
    if keep is not None and len(keep):
        kept_mask = np.zeros(len(x), dtype=bool)
        kept_mask[np.asarray(keep, dtype=np.int64)] = True
        kept_mask = kept_mask[valid]
    x, y = x[valid], y[valid]
    if lo is not None or hi is not None:
        if len(x) > 1 and bool(np.all(np.diff(x) >= 0)):
            start, stop = window(x, lo, hi)
            valid, x, y = valid[start:stop], x[start:stop], y[start:stop]
            kept_mask = None if kept_mask is None else kept_mask[start:stop]
        else:
            inside = (x >= (-np.inf if lo is None else lo)) & (x <= (np.inf if hi is None else hi))
            valid, x, y = valid[inside], x[inside], y[inside]
            kept_mask = None if kept_mask is None else kept_mask[inside]
    keep_indices = None if kept_mask is None else np.flatnonzero(kept_mask)
    return valid[minmax_indices(y, max(max_points // 4, 1), keep_indices)]


def downsample(
    x: np.ndarray,
    y: np.ndarray,
    max_points: int = DEFAULT_POINTS,
    lo: float | None = None,
    hi: float | None = None,
    keep: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the points :func:`downsample_indices` picks."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    chosen = downsample_indices(x, y, max_points, lo, hi, keep)
    return x[chosen], y[chosen]
