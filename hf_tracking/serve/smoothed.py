"""Smoothed curves kept between requests, within a byte budget.

The time-weighted EMA (:mod:`hf_tracking.metrics.time_ema`) runs over every row of a curve, so that a
zoom shows the same smoothed values as the whole view; a zoom, a pan or another panel asking for
the same curve then reuses it instead of smoothing a million rows again. Entries are keyed by
what decides the values (run, event kind, key, axis, τ, and the rows' count, bucket and end
points, which change when a running run grows or its index is thinned) and dropped least
recently used first once their arrays pass ``max_bytes``; an array larger than the budget is
returned without being kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from hf_tracking.metrics.time_ema import ema

DEFAULT_MAX_BYTES = 64 * 2**20


def smooth_all(xs: np.ndarray, ys: np.ndarray, tau: float) -> np.ndarray:
    """The EMA at every row; NaN where x or y is not finite (those rows are skipped)."""
    finite = np.isfinite(xs) & np.isfinite(ys)
    out = np.full(len(ys), np.nan)
    out[finite] = ema(xs[finite], ys[finite], tau)
    return out


def smoothed(
    cache: SmoothCache | None, key: Hashable, xs: np.ndarray, ys: np.ndarray, tau: float
) -> np.ndarray:
    """The EMA at every row, through ``cache`` when one is given."""
    return smooth_all(xs, ys, tau) if cache is None else cache.smoothed(key, xs, ys, tau)


class SmoothCache:
    """Smoothed columns by key, least recently used dropped past ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError(f"max_bytes must be a non-negative int, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def smoothed(self, key: Hashable, xs: np.ndarray, ys: np.ndarray, tau: float) -> np.ndarray:
        """The EMA of (xs, ys) with ``tau``; ``key`` names them (see the module's docstring).
        The array returned is shared: read it, never write to it."""
        whole = (key, tau, len(ys), _end(xs), _end(ys))
        with self._lock:
            found = self._items.get(whole)
            if found is not None:
                self._items.move_to_end(whole)
                self.hits += 1
                return found
            self.misses += 1
        values = smooth_all(xs, ys, tau)
        values.flags.writeable = False
        if values.nbytes > self.max_bytes:
            return values
        with self._lock:
            if whole not in self._items:
                self._items[whole] = values
                self.nbytes += values.nbytes
            while self.nbytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.nbytes -= dropped.nbytes
        return values


def _end(values: np.ndarray) -> tuple[str, str]:
    """The first and last values, written exactly (a NaN compares equal to itself so)."""
    if not len(values):
        return ("", "")
    return (float(values[0]).hex(), float(values[-1]).hex())
