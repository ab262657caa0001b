"""Thinning an index's columns to a level of detail: each bucket's first, last, lowest, highest.

A column is a key's values and the row positions that hold it. Cut the rows into buckets of
``size`` consecutive positions; :func:`extreme_picks` keeps, per bucket, the first and last entry
and the entries of the lowest and highest finite value. That is what min/max downsampling
(:mod:`hf_tracking.serve.downsample`) would pick from those rows, so a curve drawn with buckets
of ``size`` rows or more is the same from the thinned column as from the full one; and thinning
a thinned column again with a multiple of ``size`` gives what thinning the full one would
(the first, last and extremes of a larger bucket are among those of its parts). Pure numpy.
"""

from __future__ import annotations

import numpy as np


def extreme_picks(positions: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sorted indices into ``positions`` (non-decreasing) and ``values`` of each bucket's first,
    last, lowest and highest entry (the first of equal ones)."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    count = len(positions)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    bucket = positions // size
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    picks = [starts, np.concatenate((starts[1:] - 1, [count - 1]))]
    finite = np.isfinite(values)
    if finite.any():
        segment = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, count)))
        for fill, reduce in ((np.inf, np.minimum), (-np.inf, np.maximum)):
            filled = np.where(finite, values, fill)
            extreme = reduce.reduceat(filled, starts)
            hits = np.flatnonzero(finite & (filled == extreme[segment]))
            _, first = np.unique(segment[hits], return_index=True)
            picks.append(hits[first])
    return np.unique(np.concatenate(picks))
